package kumotest

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// RunScript runs, in the given cluster (created if need be), a Fargate
// (awsvpc) task of one essential container of image running
// `/bin/sh -c script`, and returns the task once it stopped; it fails the
// test if that takes more than 90 s.
func (k *Kumo) RunScript(t testing.TB, cluster, image, script string) ecstypes.Task {
	t.Helper()
	ctx := Context(t, 2*time.Minute)
	client := k.ECS()
	if _, err := client.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String(cluster)}); err != nil {
		t.Fatal(err)
	}
	td, err := client.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family: aws.String(cluster + "-script"), NetworkMode: ecstypes.NetworkModeAwsvpc,
		RequiresCompatibilities: []ecstypes.Compatibility{ecstypes.CompatibilityFargate},
		Cpu:                     aws.String("256"), Memory: aws.String("512"),
		ContainerDefinitions: []ecstypes.ContainerDefinition{{
			Name: aws.String("script"), Image: aws.String(image), Essential: aws.Bool(true),
			EntryPoint: []string{"/bin/sh", "-c"}, Command: []string{script},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	run, err := client.RunTask(ctx, &ecs.RunTaskInput{
		Cluster: aws.String(cluster), TaskDefinition: td.TaskDefinition.TaskDefinitionArn, LaunchType: ecstypes.LaunchTypeFargate,
		NetworkConfiguration: &ecstypes.NetworkConfiguration{AwsvpcConfiguration: &ecstypes.AwsVpcConfiguration{Subnets: []string{"subnet-local"}}},
	})
	if err != nil || len(run.Tasks) != 1 {
		t.Fatalf("run task: %v (failures %+v)", err, run)
	}
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		d, err := client.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(cluster), Tasks: []string{*run.Tasks[0].TaskArn}})
		if err != nil {
			t.Fatal(err)
		}
		if task := d.Tasks[0]; aws.ToString(task.LastStatus) == "STOPPED" {
			return task
		}
	}
	t.Fatal("the task did not stop within 90s")
	return ecstypes.Task{}
}
