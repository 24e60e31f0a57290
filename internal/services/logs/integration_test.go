package logs_test

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cwl "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	cwltypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/kumo-project/kumo/internal/kumotest"
	"github.com/kumo-project/kumo/internal/testimages"
)

const (
	group      = "/ecs/lines"
	totalLines = 100000
)

// env is one real kumo with the fixture images.
type env struct {
	kumo    *kumotest.Kumo
	ecs     *ecs.Client
	logs    *cwl.Client
	images  testimages.Fixtures
	taskDef string
}

func newEnv(t *testing.T) *env {
	images := testimages.PushFixtures(t, testimages.StartRegistry(t))
	k := kumotest.Start(t)
	e := &env{kumo: k, ecs: k.ECS(), logs: cwl.NewFromConfig(k.AWSConfig()), images: images}
	ctx := kumotest.Context(t, time.Minute)
	if _, err := e.ecs.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("default")}); err != nil {
		t.Fatal(err)
	}
	out, err := e.ecs.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family:                  aws.String("lines"),
		ExecutionRoleArn:        aws.String("arn:aws:iam::000000000000:role/ecsTaskExecutionRole"),
		NetworkMode:             types.NetworkModeAwsvpc,
		RequiresCompatibilities: []types.Compatibility{types.CompatibilityFargate},
		Cpu:                     aws.String("256"),
		Memory:                  aws.String("512"),
		ContainerDefinitions: []types.ContainerDefinition{{
			Name: aws.String("app"), Image: aws.String(images.App), Essential: aws.Bool(true),
			Command: []string{"lines", fmt.Sprint(totalLines)},
			LogConfiguration: &types.LogConfiguration{LogDriver: types.LogDriverAwslogs, Options: map[string]string{
				"awslogs-group": group, "awslogs-region": "us-east-1", "awslogs-stream-prefix": "lines",
				"awslogs-create-group": "true", "awslogs-multiline-pattern": `^\S`,
			}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.taskDef = aws.ToString(out.TaskDefinition.TaskDefinitionArn)
	return e
}

// runTask starts the lines task and returns its ID.
func (e *env) runTask(t *testing.T) string {
	t.Helper()
	out, err := e.ecs.RunTask(kumotest.Context(t, 30*time.Second), &ecs.RunTaskInput{
		Cluster: aws.String("default"), TaskDefinition: aws.String(e.taskDef), LaunchType: types.LaunchTypeFargate,
		NetworkConfiguration: &types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{Subnets: []string{"subnet-local"}}},
	})
	if err != nil || len(out.Tasks) != 1 {
		t.Fatalf("run task: %v %+v", err, out)
	}
	arn := aws.ToString(out.Tasks[0].TaskArn)
	return arn[len(arn)-32:]
}

// wantEvents is what the stream must hold: each numbered line, and each
// stack trace as one event (awslogs's multi-line events end lines with
// "\n", as Docker's).
func wantEvents() []string {
	var out []string
	for i := 1; i <= totalLines; i++ {
		out = append(out, fmt.Sprintf("line %d\n", i))
		if i%1000 == 0 {
			out = append(out, fmt.Sprintf("ERROR simulated failure after line %d\n\tat main.work (lines.go:20)\n\tat main.run (lines.go:12)\n\tat main.main (main.go:8)\n", i))
		}
	}
	return out
}

// streamEvents reads a whole stream with GetLogEvents, forward from the
// head until the token repeats.
func (e *env) streamEvents(t *testing.T, stream string) []string {
	t.Helper()
	ctx := kumotest.Context(t, time.Minute)
	var out []string
	in := &cwl.GetLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream), StartFromHead: aws.Bool(true)}
	for pages := 0; pages < 100; pages++ {
		res, err := e.logs.GetLogEvents(ctx, in)
		var notFound *cwltypes.ResourceNotFoundException
		if errors.As(err, &notFound) {
			return nil // the shipper has not created it yet
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range res.Events {
			out = append(out, aws.ToString(ev.Message))
		}
		if aws.ToString(res.NextForwardToken) == aws.ToString(in.NextToken) {
			return out
		}
		in.NextToken = res.NextForwardToken
	}
	t.Fatal("GetLogEvents never reached the end of the stream")
	return nil
}

// followService runs a service whose task prints a line a second and
// follows it with `kumo logs <service> --follow` until three lines came.
func (e *env) followService(t *testing.T) {
	ctx := kumotest.Context(t, 2*time.Minute)
	_, err := e.ecs.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family: aws.String("ticker"), NetworkMode: types.NetworkModeAwsvpc, Cpu: aws.String("256"), Memory: aws.String("512"),
		RequiresCompatibilities: []types.Compatibility{types.CompatibilityFargate},
		ExecutionRoleArn:        aws.String("arn:aws:iam::000000000000:role/ecsTaskExecutionRole"),
		ContainerDefinitions: []types.ContainerDefinition{{
			Name: aws.String("tick"), Image: aws.String(e.images.Busybox), Essential: aws.Bool(true),
			Command: []string{"sh", "-c", "i=0; while true; do i=$((i+1)); echo tick $i; sleep 1; done"},
			LogConfiguration: &types.LogConfiguration{LogDriver: types.LogDriverAwslogs, Options: map[string]string{
				"awslogs-group": "/ecs/ticker", "awslogs-stream-prefix": "ticker", "awslogs-create-group": "true"}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.ecs.CreateService(ctx, &ecs.CreateServiceInput{
		Cluster: aws.String("default"), ServiceName: aws.String("ticker"), TaskDefinition: aws.String("ticker"),
		DesiredCount: aws.Int32(1), LaunchType: types.LaunchTypeFargate,
		NetworkConfiguration: &types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{Subnets: []string{"subnet-local"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.ecs.DeleteService(kumotest.Context(t, time.Minute), &ecs.DeleteServiceInput{Cluster: aws.String("default"), Service: aws.String("ticker"), Force: aws.Bool(true)})
	})
	cmd := exec.CommandContext(ctx, kumotest.Binary(t), "logs", "ticker", "--follow", "--endpoint-url", e.kumo.Endpoint())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	sc := bufio.NewScanner(out)
	for want := 1; want <= 3; want++ {
		if !sc.Scan() {
			t.Fatalf("kumo logs --follow ended before tick %d: %v", want, sc.Err())
		}
		if line := sc.Text(); !strings.Contains(line, " ticker/tick/") || !strings.HasSuffix(line, fmt.Sprintf(" tick %d", want)) {
			t.Fatalf("line %q, want tick %d", line, want)
		}
	}
}

func (e *env) taskStatus(t *testing.T, taskID string) string {
	out, err := e.ecs.DescribeTasks(kumotest.Context(t, 10*time.Second), &ecs.DescribeTasksInput{Cluster: aws.String("default"), Tasks: []string{taskID}})
	if err != nil || len(out.Tasks) != 1 {
		return ""
	}
	return aws.ToString(out.Tasks[0].LastStatus)
}

// storedBytes is a stream's size, a cheap progress check (0 while it is
// missing).
func (e *env) storedBytes(t *testing.T, stream string) int64 {
	out, err := e.logs.DescribeLogStreams(kumotest.Context(t, 10*time.Second), &cwl.DescribeLogStreamsInput{
		LogGroupName: aws.String(group), LogStreamNamePrefix: aws.String(stream)})
	if err != nil || len(out.LogStreams) == 0 {
		return 0
	}
	return aws.ToInt64(out.LogStreams[0].StoredBytes)
}

// checkStream waits until the stream holds as many events as wanted (or
// the timeout passes), then checks every event is there once, in order.
func (e *env) checkStream(t *testing.T, stream string) {
	t.Helper()
	want := wantEvents()
	deadline := time.Now().Add(3 * time.Minute)
	var got []string
	for time.Now().Before(deadline) {
		if got = e.streamEvents(t, stream); len(got) >= len(want) {
			break
		}
		time.Sleep(time.Second)
	}
	if !slices.Equal(got, want) {
		i := 0
		for i < min(len(got), len(want)) && got[i] == want[i] {
			i++
		}
		t.Fatalf("stream %s holds %d events, want %d; first difference at %d", stream, len(got), len(want), i)
	}
}

// TestAwslogsEveryLineOnce runs tasks printing 100,000 lines with stack
// traces: every event must arrive exactly once and in order, also when
// kumo is killed with SIGKILL while the task prints and again while the
// output is being shipped.
func TestAwslogsEveryLineOnce(t *testing.T) {
	e := newEnv(t)

	t.Run("undisturbed, and kumo logs prints it", func(t *testing.T) {
		task := e.runTask(t)
		e.checkStream(t, "lines/app/"+task)
		out, err := exec.Command(kumotest.Binary(t), "logs", task, "--cluster", "default", "--endpoint-url", e.kumo.Endpoint()).Output()
		if err != nil {
			t.Fatalf("kumo logs: %v", err)
		}
		lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
		if want := totalLines + totalLines/1000*4; len(lines) != want {
			t.Fatalf("kumo logs printed %d lines, want %d", len(lines), want)
		}
		if trace := lines[len(lines)-4]; !strings.HasSuffix(trace, " lines/app/"+task+" ERROR simulated failure after line 100000") {
			t.Fatalf("the last event starts with %q", trace)
		}
	})

	t.Run("kumo logs --follow of a service", func(t *testing.T) {
		e.followService(t)
	})

	t.Run("kumo killed while the task prints, while shipping, and once the task stopped", func(t *testing.T) {
		task := e.runTask(t)
		stream := "lines/app/" + task
		e.kumo.Kill() // the container starts and prints while kumo is down
		e.kumo.Restart()
		deadline := time.Now().Add(time.Minute)
		for e.storedBytes(t, stream) == 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		t.Logf("second kill with %d bytes of the stream stored", e.storedBytes(t, stream))
		e.kumo.Kill()
		e.kumo.Restart()
		// Once the task is STOPPED, ECS removes it from the node (its record
		// goes); what is left to ship must still be shipped after a crash.
		record := filepath.Join(e.kumo.DataDir, "agent", "tasks", task, "task.json")
		for time.Now().Before(deadline) {
			if _, err := os.Stat(record); e.taskStatus(t, task) == "STOPPED" && errors.Is(err, os.ErrNotExist) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Logf("third kill, task stopped, with %d bytes of the stream stored", e.storedBytes(t, stream))
		e.kumo.Kill()
		e.kumo.Restart()
		e.checkStream(t, stream)
	})
}
