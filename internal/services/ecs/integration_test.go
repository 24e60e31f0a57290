package ecs_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"

	"github.com/kumo-project/kumo/internal/kumotest"
	"github.com/kumo-project/kumo/internal/testimages"
)

// env is one kumo with the fixture images in a registry next to it.
type env struct {
	kumo    *kumotest.Kumo
	ecs     *ecs.Client
	images  testimages.Fixtures
	cluster string
}

func newEnv(t testing.TB) *env {
	t.Helper()
	images := testimages.PushFixtures(t, testimages.StartRegistry(t))
	k := kumotest.Start(t)
	e := &env{kumo: k, ecs: k.ECS(), images: images, cluster: "test"}
	ctx := kumotest.Context(t, time.Minute)
	if _, err := e.ecs.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String(e.cluster)}); err != nil {
		t.Fatal(err)
	}
	return e
}

// register registers a Fargate task definition with the given containers.
func (e *env) register(t testing.TB, family string, containers ...types.ContainerDefinition) string {
	t.Helper()
	out, err := e.ecs.RegisterTaskDefinition(kumotest.Context(t, 30*time.Second), &ecs.RegisterTaskDefinitionInput{
		Family:                  aws.String(family),
		NetworkMode:             types.NetworkModeAwsvpc,
		RequiresCompatibilities: []types.Compatibility{types.CompatibilityFargate},
		Cpu:                     aws.String("256"),
		Memory:                  aws.String("512"),
		ContainerDefinitions:    containers,
	})
	if err != nil {
		t.Fatalf("register %s: %v", family, err)
	}
	return aws.ToString(out.TaskDefinition.TaskDefinitionArn)
}

func (e *env) run(t testing.TB, taskDef string, overrides *types.TaskOverride) string {
	t.Helper()
	out, err := e.ecs.RunTask(kumotest.Context(t, 30*time.Second), &ecs.RunTaskInput{
		Cluster:        aws.String(e.cluster),
		TaskDefinition: aws.String(taskDef),
		LaunchType:     types.LaunchTypeFargate,
		NetworkConfiguration: &types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{
			Subnets: []string{"subnet-local"},
		}},
		Overrides: overrides,
	})
	if err != nil {
		t.Fatalf("run task: %v", err)
	}
	if len(out.Tasks) != 1 {
		t.Fatalf("run task: %d tasks, failures %+v", len(out.Tasks), out.Failures)
	}
	return aws.ToString(out.Tasks[0].TaskArn)
}

func (e *env) describe(t testing.TB, taskARN string) types.Task {
	t.Helper()
	out, err := e.ecs.DescribeTasks(kumotest.Context(t, 10*time.Second), &ecs.DescribeTasksInput{
		Cluster: aws.String(e.cluster), Tasks: []string{taskARN},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Tasks) != 1 {
		t.Fatalf("describe %s: failures %+v", taskARN, out.Failures)
	}
	return out.Tasks[0]
}

// waitFor polls the task until ok says so or the timeout passes.
func (e *env) waitFor(t testing.TB, taskARN string, timeout time.Duration, what string, ok func(types.Task) bool) types.Task {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		task := e.describe(t, taskARN)
		if ok(task) {
			return task
		}
		if time.Now().After(deadline) {
			t.Fatalf("task never became %s; last: status %s, reason %q, containers %s\n", what,
				aws.ToString(task.LastStatus), aws.ToString(task.StoppedReason), containersString(task))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (e *env) waitStatus(t testing.TB, taskARN, status string) types.Task {
	t.Helper()
	return e.waitFor(t, taskARN, 60*time.Second, status, func(task types.Task) bool {
		return aws.ToString(task.LastStatus) == status
	})
}

func containersString(task types.Task) string {
	var parts []string
	for _, c := range task.Containers {
		code := "-"
		if c.ExitCode != nil {
			code = fmt.Sprint(*c.ExitCode)
		}
		parts = append(parts, fmt.Sprintf("%s:%s exit=%s health=%s reason=%q", aws.ToString(c.Name), aws.ToString(c.LastStatus), code, c.HealthStatus, aws.ToString(c.Reason)))
	}
	return strings.Join(parts, ", ")
}

func container(task types.Task, name string) types.Container {
	for _, c := range task.Containers {
		if aws.ToString(c.Name) == name {
			return c
		}
	}
	return types.Container{}
}

func exitCode(c types.Container) int32 {
	if c.ExitCode == nil {
		return -1
	}
	return *c.ExitCode
}

// shell is a container of the test app image running a shell script.
func shell(e *env, name, script string) types.ContainerDefinition {
	c := app(e, name, script)
	c.EntryPoint = []string{"/bin/sh", "-c"}
	return c
}

func app(e *env, name string, command ...string) types.ContainerDefinition {
	return types.ContainerDefinition{Name: aws.String(name), Image: aws.String(e.images.App), Essential: aws.Bool(true), Command: command}
}

// TestTasks runs the task lifecycle cases against one kumo.
func TestTasks(t *testing.T) {
	e := newEnv(t)

	t.Run("command override and exit code", func(t *testing.T) {
		t.Parallel()
		td := e.register(t, "oneoff", types.ContainerDefinition{Name: aws.String("app"), Image: aws.String(e.images.Busybox), Essential: aws.Bool(true), Command: []string{"sleep", "600"}})
		arn := e.run(t, td, &types.TaskOverride{ContainerOverrides: []types.ContainerOverride{
			{Name: aws.String("app"), Command: []string{"sh", "-c", "echo seeded; exit 3"}},
		}})
		task := e.waitStatus(t, arn, "STOPPED")
		if got := exitCode(container(task, "app")); got != 3 {
			t.Errorf("exit code = %d, want 3", got)
		}
		if task.StopCode != types.TaskStopCodeEssentialContainerExited {
			t.Errorf("stopCode = %q, want EssentialContainerExited", task.StopCode)
		}
		for name, ts := range map[string]*time.Time{"pullStartedAt": task.PullStartedAt, "pullStoppedAt": task.PullStoppedAt,
			"startedAt": task.StartedAt, "executionStoppedAt": task.ExecutionStoppedAt, "stoppedAt": task.StoppedAt, "createdAt": task.CreatedAt} {
			if ts == nil {
				t.Errorf("%s missing", name)
			}
		}
		if c := container(task, "app"); aws.ToString(c.RuntimeId) == "" || aws.ToString(c.ImageDigest) == "" {
			t.Errorf("runtimeId %q, imageDigest %q: want both set", aws.ToString(c.RuntimeId), aws.ToString(c.ImageDigest))
		}
	})

	t.Run("non-essential exit keeps the task running, essential exit stops it", func(t *testing.T) {
		t.Parallel()
		side := app(e, "side", "exit", "7")
		side.Essential = aws.Bool(false)
		main := app(e, "main", "sleep", "3")
		arn := e.run(t, e.register(t, "essential", main, side), nil)
		task := e.waitFor(t, arn, 60*time.Second, "side stopped while running", func(task types.Task) bool {
			return aws.ToString(container(task, "side").LastStatus) == "STOPPED"
		})
		if s := aws.ToString(task.LastStatus); s != "RUNNING" {
			t.Errorf("task status after non-essential exit = %s, want RUNNING", s)
		}
		if got := exitCode(container(task, "side")); got != 7 {
			t.Errorf("side exit code = %d, want 7", got)
		}
		task = e.waitStatus(t, arn, "STOPPED")
		if task.StopCode != types.TaskStopCodeEssentialContainerExited || exitCode(container(task, "main")) != 0 {
			t.Errorf("stopCode %q main exit %d: want EssentialContainerExited and 0", task.StopCode, exitCode(container(task, "main")))
		}
	})

	t.Run("dependsOn orders containers", func(t *testing.T) {
		t.Parallel()
		setup := app(e, "setup", "exit", "0")
		setup.Essential = aws.Bool(false)
		// web starts only after setup succeeded; checker only once web is up.
		web := app(e, "web")
		web.DependsOn = []types.ContainerDependency{{ContainerName: aws.String("setup"), Condition: types.ContainerConditionSuccess}}
		checker := app(e, "checker", "get", "http://localhost:8080/")
		checker.Essential = aws.Bool(false)
		checker.DependsOn = []types.ContainerDependency{{ContainerName: aws.String("web"), Condition: types.ContainerConditionStart}}
		arn := e.run(t, e.register(t, "depends", setup, web, checker), nil)
		task := e.waitFor(t, arn, 60*time.Second, "checker done", func(task types.Task) bool {
			return aws.ToString(container(task, "checker").LastStatus) == "STOPPED"
		})
		if exitCode(container(task, "setup")) != 0 || aws.ToString(container(task, "web").LastStatus) != "RUNNING" {
			t.Errorf("containers: %s", containersString(task))
		}
		// The checker may race web's listener once; what matters is that it ran after web started.
		e.stop(t, arn)
	})

	t.Run("failed SUCCESS dependency never starts the dependent", func(t *testing.T) {
		t.Parallel()
		setup := app(e, "setup", "exit", "1")
		web := app(e, "web")
		web.DependsOn = []types.ContainerDependency{{ContainerName: aws.String("setup"), Condition: types.ContainerConditionSuccess}}
		arn := e.run(t, e.register(t, "depfail", setup, web), nil)
		task := e.waitStatus(t, arn, "STOPPED")
		if c := container(task, "web"); c.ExitCode != nil {
			t.Errorf("web ran although its dependency failed: %s", containersString(task))
		}
	})

	t.Run("health checks", func(t *testing.T) {
		t.Parallel()
		healthy := app(e, "app")
		healthy.HealthCheck = &types.HealthCheck{Command: []string{"CMD", "/app/testapp", "get", "http://localhost:8080/health"},
			Interval: aws.Int32(5), Timeout: aws.Int32(2), Retries: aws.Int32(1)}
		sick := app(e, "app")
		sick.Environment = []types.KeyValuePair{{Name: aws.String("HEALTH_FAIL"), Value: aws.String("1")}}
		sick.HealthCheck = &types.HealthCheck{Command: []string{"CMD-SHELL", "/app/testapp get http://localhost:8080/health"},
			Interval: aws.Int32(5), Timeout: aws.Int32(2), Retries: aws.Int32(1)}
		good := e.run(t, e.register(t, "healthy", healthy), nil)
		bad := e.run(t, e.register(t, "sick", sick), nil)
		e.waitFor(t, good, 60*time.Second, "HEALTHY", func(task types.Task) bool {
			return task.HealthStatus == types.HealthStatusHealthy && container(task, "app").HealthStatus == types.HealthStatusHealthy
		})
		e.waitFor(t, bad, 60*time.Second, "UNHEALTHY", func(task types.Task) bool {
			return task.HealthStatus == types.HealthStatusUnhealthy && container(task, "app").HealthStatus == types.HealthStatusUnhealthy
		})
		e.stop(t, good)
		e.stop(t, bad)
	})

	t.Run("memory limit kills with 137 and OutOfMemoryError", func(t *testing.T) {
		t.Parallel()
		c := app(e, "hog", "mem", "400")
		c.Memory = aws.Int32(64)
		arn := e.run(t, e.register(t, "oom", c), nil)
		task := e.waitStatus(t, arn, "STOPPED")
		hog := container(task, "hog")
		if exitCode(hog) != 137 || !strings.Contains(aws.ToString(hog.Reason), "OutOfMemory") {
			t.Errorf("hog: exit %d reason %q, want 137 and OutOfMemoryError", exitCode(hog), aws.ToString(hog.Reason))
		}
	})

	t.Run("StopTask honours stopTimeout", func(t *testing.T) {
		t.Parallel()
		c := app(e, "stubborn", "trap-term", "600")
		c.StopTimeout = aws.Int32(3)
		arn := e.run(t, e.register(t, "stubborn", c), nil)
		e.waitStatus(t, arn, "RUNNING")
		start := time.Now()
		out, err := e.ecs.StopTask(kumotest.Context(t, 10*time.Second), &ecs.StopTaskInput{Cluster: aws.String(e.cluster), Task: aws.String(arn), Reason: aws.String("enough")})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(out.Task.DesiredStatus) != "STOPPED" {
			t.Errorf("desiredStatus after StopTask = %s", aws.ToString(out.Task.DesiredStatus))
		}
		task := e.waitStatus(t, arn, "STOPPED")
		took := time.Since(start)
		if took < 3*time.Second || took > 20*time.Second {
			t.Errorf("stop took %v, want about the 3s stopTimeout", took)
		}
		if task.StopCode != types.TaskStopCodeUserInitiated || aws.ToString(task.StoppedReason) != "enough" {
			t.Errorf("stopCode %q reason %q, want UserInitiated and our reason", task.StopCode, aws.ToString(task.StoppedReason))
		}
		if exitCode(container(task, "stubborn")) != 137 {
			t.Errorf("exit code %d, want 137 (SIGKILL after the timeout)", exitCode(container(task, "stubborn")))
		}
	})

	t.Run("containers share localhost and the task IP answers from the host", func(t *testing.T) {
		t.Parallel()
		web := app(e, "web")
		web.PortMappings = []types.PortMapping{{ContainerPort: aws.Int32(8080)}}
		client := shell(e, "client", "sleep 1; /app/testapp get http://localhost:8080/ && sleep 600")
		client.Essential = aws.Bool(false)
		arn := e.run(t, e.register(t, "pair", web, client), nil)
		task := e.waitStatus(t, arn, "RUNNING")
		ip := privateIP(task)
		if ip == "" {
			t.Fatalf("no private IP in %+v", task.Attachments)
		}
		body := httpGet(t, "http://"+ip+":8080/")
		if !strings.Contains(body, `"path":"/"`) {
			t.Errorf("GET task IP: %s", body)
		}
		time.Sleep(2 * time.Second)
		task = e.describe(t, arn)
		if aws.ToString(container(task, "client").LastStatus) != "RUNNING" {
			t.Errorf("client could not reach web over localhost: %s", containersString(task))
		}
		e.stop(t, arn)
	})

	t.Run("task metadata endpoint and ECS environment", func(t *testing.T) {
		t.Parallel()
		c := shell(e, "app", `test "$AWS_EXECUTION_ENV" = AWS_ECS_FARGATE && test "$AWS_REGION" = us-east-1 && /app/testapp get "$ECS_CONTAINER_METADATA_URI_V4/task" | grep -q '"TaskARN"'`)
		arn := e.run(t, e.register(t, "metadata", c), nil)
		task := e.waitStatus(t, arn, "STOPPED")
		if exitCode(container(task, "app")) != 0 {
			t.Errorf("metadata/env check failed: %s", containersString(task))
		}
	})

	t.Run("an image that does not exist fails with CannotPullContainerError", func(t *testing.T) {
		t.Parallel()
		c := app(e, "app")
		c.Image = aws.String(strings.Replace(e.images.App, "kumo/testapp", "kumo/nothing", 1))
		arn := e.run(t, e.register(t, "nothing", c), nil)
		task := e.waitStatus(t, arn, "STOPPED")
		if task.StopCode != types.TaskStopCodeTaskFailedToStart || !strings.Contains(aws.ToString(task.StoppedReason), "CannotPullContainerError") {
			t.Errorf("stopCode %q reason %q", task.StopCode, aws.ToString(task.StoppedReason))
		}
	})
}

func (e *env) stop(t testing.TB, arn string) {
	t.Helper()
	if _, err := e.ecs.StopTask(kumotest.Context(t, 10*time.Second), &ecs.StopTaskInput{Cluster: aws.String(e.cluster), Task: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(t, arn, "STOPPED")
}

func privateIP(task types.Task) string {
	for _, a := range task.Attachments {
		for _, d := range a.Details {
			if aws.ToString(d.Name) == "privateIPv4Address" {
				return aws.ToString(d.Value)
			}
		}
	}
	return ""
}

func httpGet(t testing.TB, url string) string {
	t.Helper()
	var lastErr error
	for i := 0; i < 50; i++ {
		resp, err := http.Get(url)
		if err == nil {
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return string(b)
		}
		lastErr = err
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("GET %s: %v", url, lastErr)
	return ""
}

// TestRestart kills kumo while tasks run: the running task is re-attached,
// and a task that exits while kumo is down is recorded with its exit code.
func TestRestart(t *testing.T) {
	e := newEnv(t)
	long := e.run(t, e.register(t, "long", app(e, "app", "sleep", "600")), nil)
	short := e.run(t, e.register(t, "short", shell(e, "app", "sleep 4; exit 5")), nil)
	e.waitStatus(t, long, "RUNNING")
	e.waitStatus(t, short, "RUNNING")

	e.kumo.Kill()
	time.Sleep(6 * time.Second) // the short task exits while kumo is down
	e.kumo.Restart()

	task := e.describe(t, long)
	if aws.ToString(task.LastStatus) != "RUNNING" {
		t.Errorf("long task after restart: %s", aws.ToString(task.LastStatus))
	}
	task = e.waitStatus(t, short, "STOPPED")
	if exitCode(container(task, "app")) != 5 {
		t.Errorf("short task exit code after restart = %d, want 5", exitCode(container(task, "app")))
	}
	// A clean stop and start re-attaches too.
	e.kumo.Stop()
	e.kumo.Restart()
	if s := aws.ToString(e.describe(t, long).LastStatus); s != "RUNNING" {
		t.Errorf("long task after a clean restart: %s", s)
	}
	// containerd dying under kumo is restarted, and tasks still start.
	killContainerd(t, e.kumo)
	next := e.run(t, e.register(t, "after", app(e, "app", "exit", "4")), nil)
	if task := e.waitStatus(t, next, "STOPPED"); exitCode(container(task, "app")) != 4 {
		t.Errorf("task after containerd restart: %s", containersString(task))
	}
	e.stop(t, long)
}

// killContainerd SIGKILLs the containerd that kumo supervises.
func killContainerd(t *testing.T, k *kumotest.Kumo) {
	t.Helper()
	out, err := exec.Command("pgrep", "-f", "containerd --config "+k.DataDir).Output()
	if err != nil {
		t.Fatalf("find containerd: %v", err)
	}
	for _, pid := range strings.Fields(string(out)) {
		exec.Command("kill", "-9", pid).Run()
	}
}

func TestRunTaskErrors(t *testing.T) {
	e := newEnv(t)
	td := e.register(t, "errs", app(e, "app"))
	ctx := kumotest.Context(t, 30*time.Second)
	cases := []struct {
		name string
		in   ecs.RunTaskInput
		code string
	}{
		{"unknown cluster", ecs.RunTaskInput{Cluster: aws.String("nope"), TaskDefinition: aws.String(td)}, "ClusterNotFoundException"},
		{"unknown task definition", ecs.RunTaskInput{Cluster: aws.String(e.cluster), TaskDefinition: aws.String("nope:1")}, "ClientException"},
		{"awsvpc without network configuration", ecs.RunTaskInput{Cluster: aws.String(e.cluster), TaskDefinition: aws.String(td)}, "InvalidParameterException"},
		{"count above 10", ecs.RunTaskInput{Cluster: aws.String(e.cluster), TaskDefinition: aws.String(td), Count: aws.Int32(11)}, "InvalidParameterException"},
		{"EC2 without container instances", ecs.RunTaskInput{Cluster: aws.String(e.cluster), TaskDefinition: aws.String(td), LaunchType: types.LaunchTypeEc2}, "InvalidParameterException"},
		{"override of an unknown container", ecs.RunTaskInput{Cluster: aws.String(e.cluster), TaskDefinition: aws.String(td),
			NetworkConfiguration: &types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{Subnets: []string{"s"}}},
			Overrides:            &types.TaskOverride{ContainerOverrides: []types.ContainerOverride{{Name: aws.String("ghost")}}}}, "InvalidParameterException"},
	}
	for _, c := range cases {
		_, err := e.ecs.RunTask(ctx, &c.in)
		var apiErr smithy.APIError
		if !errors.As(err, &apiErr) || apiErr.ErrorCode() != c.code {
			t.Errorf("%s: error %v, want %s", c.name, err, c.code)
		}
	}
	list, err := e.ecs.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String(e.cluster), DesiredStatus: types.DesiredStatusStopped})
	if err != nil {
		t.Fatal(err)
	}
	running, _ := e.ecs.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String(e.cluster)})
	if len(list.TaskArns)+len(running.TaskArns) != 0 {
		t.Errorf("failed RunTask calls left tasks behind: %v %v", list.TaskArns, running.TaskArns)
	}
}

// TestTwoInstances runs two kumos side by side: their tasks get their own
// bridges and subnets and never collide.
func TestTwoInstances(t *testing.T) {
	a, b := newEnv(t), newEnv(t)
	web := func(e *env) types.ContainerDefinition {
		c := app(e, "web")
		c.PortMappings = []types.PortMapping{{ContainerPort: aws.Int32(8080)}}
		c.Environment = []types.KeyValuePair{{Name: aws.String("TASK_LABEL"), Value: aws.String(e.kumo.DataDir)}}
		return c
	}
	ta := a.run(t, a.register(t, "web", web(a)), nil)
	tb := b.run(t, b.register(t, "web", web(b)), nil)
	ipA := privateIP(a.waitStatus(t, ta, "RUNNING"))
	ipB := privateIP(b.waitStatus(t, tb, "RUNNING"))
	if ipA == "" || ipA == ipB {
		t.Fatalf("task IPs %q and %q: want two different addresses", ipA, ipB)
	}
	if body := httpGet(t, "http://"+ipA+":8080/"); !strings.Contains(body, a.kumo.DataDir) {
		t.Errorf("instance A's task answered %s", body)
	}
	if body := httpGet(t, "http://"+ipB+":8080/"); !strings.Contains(body, b.kumo.DataDir) {
		t.Errorf("instance B's task answered %s", body)
	}
	a.stop(t, ta)
	b.stop(t, tb)
}
