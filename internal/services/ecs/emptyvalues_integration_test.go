package ecs_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/kumo-project/kumo/internal/kumotest"
)

// TestEmptyValuesOnKumo checks against a real kumo that environment
// variables, tags and labels set to "" come back as "", not as missing, as
// ECS answers them (the aws CLI shows "value": ""), and that an empty
// variable reaches the container set to nothing, not unset.
func TestEmptyValuesOnKumo(t *testing.T) {
	e := newEnv(t)
	ctx := kumotest.Context(t, 2*time.Minute)

	// The script exits 0 only when both empty variables are in the
	// container's environment as NAME= (grep -x matches the whole line).
	script := `env | grep -qx EMPTY= || exit 3; env | grep -qx OVERRIDDEN= || exit 4; test "$SET" = yes || exit 5`
	reg, err := e.ecs.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family: aws.String("empty-values"), NetworkMode: types.NetworkModeAwsvpc,
		RequiresCompatibilities: []types.Compatibility{types.CompatibilityFargate}, Cpu: aws.String("256"), Memory: aws.String("512"),
		ContainerDefinitions: []types.ContainerDefinition{{
			Name: aws.String("app"), Image: aws.String(e.images.Busybox), Essential: aws.Bool(true),
			Command:      []string{"sh", "-c", script},
			Environment:  []types.KeyValuePair{{Name: aws.String("EMPTY"), Value: aws.String("")}, {Name: aws.String("SET"), Value: aws.String("yes")}},
			DockerLabels: map[string]string{"empty": ""},
		}},
		Tags: []types.Tag{{Key: aws.String("owner"), Value: aws.String("")}, {Key: aws.String("env"), Value: aws.String("dev")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	tdARN := aws.ToString(reg.TaskDefinition.TaskDefinitionArn)
	checkContainerDefinition(t, "RegisterTaskDefinition", reg.TaskDefinition.ContainerDefinitions)
	checkTags(t, "RegisterTaskDefinition", reg.Tags)

	t.Run("DescribeTaskDefinition", func(t *testing.T) {
		out, err := e.ecs.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(tdARN),
			Include: []types.TaskDefinitionField{types.TaskDefinitionFieldTags}})
		if err != nil {
			t.Fatal(err)
		}
		checkContainerDefinition(t, "DescribeTaskDefinition", out.TaskDefinition.ContainerDefinitions)
		checkTags(t, "DescribeTaskDefinition", out.Tags)
	})

	t.Run("TagResource and ListTagsForResource", func(t *testing.T) {
		clusters, err := e.ecs.DescribeClusters(ctx, &ecs.DescribeClustersInput{Clusters: []string{e.cluster}})
		if err != nil || len(clusters.Clusters) != 1 {
			t.Fatalf("describe cluster: %+v %v", clusters, err)
		}
		clusterARN := aws.ToString(clusters.Clusters[0].ClusterArn)
		if _, err := e.ecs.TagResource(ctx, &ecs.TagResourceInput{ResourceArn: aws.String(clusterARN),
			Tags: []types.Tag{{Key: aws.String("owner"), Value: aws.String("")}, {Key: aws.String("env"), Value: aws.String("dev")}}}); err != nil {
			t.Fatal(err)
		}
		for _, arn := range []string{clusterARN, tdARN} {
			out, err := e.ecs.ListTagsForResource(ctx, &ecs.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
			if err != nil {
				t.Fatal(err)
			}
			checkTags(t, "ListTagsForResource "+arn, out.Tags)
		}
	})

	t.Run("task sees the empty variables and describes the empty override", func(t *testing.T) {
		arn := e.run(t, tdARN, &types.TaskOverride{ContainerOverrides: []types.ContainerOverride{{
			Name: aws.String("app"), Environment: []types.KeyValuePair{{Name: aws.String("OVERRIDDEN"), Value: aws.String("")}},
		}}})
		task := e.waitStatus(t, arn, "STOPPED")
		if got := exitCode(container(task, "app")); got != 0 {
			t.Errorf("container exit code = %d, want 0 (3: EMPTY= missing, 4: OVERRIDDEN= missing, 5: SET not yes)", got)
		}
		overrides := task.Overrides.ContainerOverrides
		if len(overrides) != 1 || len(overrides[0].Environment) != 1 || overrides[0].Environment[0].Value == nil ||
			*overrides[0].Environment[0].Value != "" {
			t.Errorf("DescribeTasks container overrides = %+v, want OVERRIDDEN with value \"\"", overrides)
		}
	})
}

// checkContainerDefinition wants EMPTY's value and the empty label as "".
func checkContainerDefinition(t *testing.T, op string, defs []types.ContainerDefinition) {
	t.Helper()
	if len(defs) != 1 {
		t.Fatalf("%s: %d container definitions, want 1", op, len(defs))
	}
	env := map[string]*string{}
	for _, kv := range defs[0].Environment {
		env[aws.ToString(kv.Name)] = kv.Value
	}
	if v, ok := env["EMPTY"]; !ok || v == nil || *v != "" {
		t.Errorf("%s: environment EMPTY = %v (present %v), want \"\"", op, v, ok)
	}
	if aws.ToString(env["SET"]) != "yes" {
		t.Errorf("%s: environment SET = %v, want yes", op, env["SET"])
	}
	if v, ok := defs[0].DockerLabels["empty"]; !ok || v != "" {
		t.Errorf("%s: docker labels %v, want empty: \"\"", op, defs[0].DockerLabels)
	}
}

// checkTags wants owner with value "" and env with value dev.
func checkTags(t *testing.T, op string, tags []types.Tag) {
	t.Helper()
	values := map[string]*string{}
	for _, tag := range tags {
		values[aws.ToString(tag.Key)] = tag.Value
	}
	if v, ok := values["owner"]; len(tags) != 2 || !ok || v == nil || *v != "" || aws.ToString(values["env"]) != "dev" {
		t.Errorf("%s: tags %v, want owner \"\" and env dev", op, values)
	}
}
