package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kumo-project/kumo/internal/clock"
	"github.com/kumo-project/kumo/internal/node"
)

// statusOrder ranks task statuses; a task never moves backwards.
var statusOrder = []string{node.StatusProvisioning, node.StatusPending, node.StatusRunning,
	node.StatusStopping, node.StatusDeprovisioning, node.StatusStopped}

func TestEssentialExitStopsTaskAndKeepsLogs(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	watch, err := e.agent.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id := e.run(sh("app", true, "echo to stdout; echo to stderr >&2; sleep 0.5; exit 3"))

	var seen []node.TaskStatus
	for st := range watch {
		if st.TaskID != id {
			continue
		}
		seen = append(seen, st)
		if st.Status == node.StatusStopped {
			break
		}
	}
	for i := 1; i < len(seen); i++ {
		if seen[i].Seq <= seen[i-1].Seq {
			t.Errorf("Seq did not grow: %d then %d", seen[i-1].Seq, seen[i].Seq)
		}
		if slices.Index(statusOrder, seen[i].Status) < slices.Index(statusOrder, seen[i-1].Status) {
			t.Errorf("status went back from %s to %s", seen[i-1].Status, seen[i].Status)
		}
	}
	st := seen[len(seen)-1]
	app := container(st, "app")
	if exitCode(app) != 3 || st.StopCode != node.StopEssentialContainerExited || st.StoppedReason != reasonEssentialExited {
		t.Fatalf("stopped task = %+v", st)
	}
	for name, ts := range map[string]time.Time{"PullStartedAt": st.PullStartedAt, "PullStoppedAt": st.PullStoppedAt,
		"StartedAt": st.StartedAt, "StoppingAt": st.StoppingAt, "ExecutionStoppedAt": st.ExecutionStoppedAt, "StoppedAt": st.StoppedAt} {
		if ts.IsZero() {
			t.Errorf("%s not set", name)
		}
	}
	if st.PrivateIPv4 == "" || app.ImageDigest == "" || app.RuntimeID == "" {
		t.Errorf("task lacks IP, image digest or runtime ID: %+v", st)
	}
	if got := e.logLines(id, "app", "stdout"); !slices.Equal(got, []string{"to stdout"}) {
		t.Errorf("stdout log = %q", got)
	}
	if got := e.logLines(id, "app", "stderr"); !slices.Equal(got, []string{"to stderr"}) {
		t.Errorf("stderr log = %q", got)
	}
}

func TestNonEssentialExitLeavesTaskRunning(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, "")
	app := sh("app", true, "trap 'exit 0' TERM; while true; do sleep 0.1; done")
	id := e.run(app, sh("side", false, "exit 0"))
	st := e.waitFor(id, time.Minute, func(s node.TaskStatus) bool { return container(s, "side").Status == node.StatusStopped })
	time.Sleep(500 * time.Millisecond)
	st, _ = e.agent.TaskStatus(context.Background(), id)
	if st.Status != node.StatusRunning || exitCode(container(st, "side")) != 0 {
		t.Fatalf("after the non-essential container exited: %+v", st)
	}
	if err := e.agent.StopTask(context.Background(), id, "done testing"); err != nil {
		t.Fatal(err)
	}
	st = e.waitStopped(id)
	if st.StopCode != node.StopUserInitiated || st.StoppedReason != "done testing" || exitCode(container(st, "app")) != 0 {
		t.Fatalf("stopped task = %+v", st)
	}
}

func TestDependsOn(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, "")
	t.Run("order", func(t *testing.T) {
		t.Parallel()
		migrate := sh("migrate", false, "sleep 0.3; exit 0")
		check := sh("check", false, "exit 1")
		app := sh("app", true, "sleep 0.3; exit 0")
		app.DependsOn = []node.Dependency{{ContainerName: "migrate", Condition: node.ConditionSuccess},
			{ContainerName: "check", Condition: node.ConditionComplete}}
		sidecar := sh("sidecar", false, "sleep 5")
		sidecar.StopTimeout = time.Second
		sidecar.DependsOn = []node.Dependency{{ContainerName: "app", Condition: node.ConditionStart}}
		id := e.run(sidecar, app, migrate, check)
		st := e.waitStopped(id)
		if exitCode(container(st, "app")) != 0 || st.StopCode != node.StopEssentialContainerExited {
			t.Fatalf("task = %+v", st)
		}
		if !container(st, "app").StartedAt.After(container(st, "migrate").FinishedAt) {
			t.Errorf("app started at %v, before migrate finished at %v", container(st, "app").StartedAt, container(st, "migrate").FinishedAt)
		}
		if container(st, "sidecar").StartedAt.Before(container(st, "app").StartedAt) {
			t.Errorf("sidecar started before app")
		}
	})
	t.Run("success not met", func(t *testing.T) {
		t.Parallel()
		app := sh("app", true, "exit 0")
		app.DependsOn = []node.Dependency{{ContainerName: "migrate", Condition: node.ConditionSuccess}}
		id := e.run(app, sh("migrate", false, "exit 2"))
		st := e.waitStopped(id)
		a := container(st, "app")
		if !a.StartedAt.IsZero() || !strings.HasPrefix(a.Reason, "DependencyConditionNotMet") || st.StopCode != node.StopTaskFailedToStart {
			t.Fatalf("task = %+v", st)
		}
	})
}

func TestHealthCheck(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, "")
	loop := "trap 'exit 0' TERM; while true; do sleep 0.1; done"
	healthy := sh("healthy", true, loop)
	healthy.HealthCheck = &node.HealthCheck{Command: []string{"CMD-SHELL", "test -d /bin"}, Interval: 300 * time.Millisecond, Timeout: 2 * time.Second, Retries: 2}
	sick := sh("sick", false, loop)
	sick.HealthCheck = &node.HealthCheck{Command: []string{"CMD", "false"}, Interval: 300 * time.Millisecond, Timeout: 2 * time.Second, Retries: 2}
	waiter := sh("waiter", false, loop)
	waiter.DependsOn = []node.Dependency{{ContainerName: "healthy", Condition: node.ConditionHealthy}}
	starting := sh("starting", false, loop) // fails, but within its start period
	starting.HealthCheck = &node.HealthCheck{Command: []string{"CMD", "false"}, Interval: 300 * time.Millisecond, Timeout: 2 * time.Second, Retries: 1, StartPeriod: time.Hour}
	id := e.run(healthy, sick, waiter, starting)

	st := e.waitFor(id, time.Minute, func(s node.TaskStatus) bool {
		return container(s, "sick").HealthStatus == node.HealthUnhealthy && container(s, "waiter").Status == node.StatusRunning
	})
	if h := container(st, "starting").HealthStatus; h != node.HealthUnknown {
		t.Errorf("failures during the start period made the container %s", h)
	}
	if container(st, "healthy").HealthStatus != node.HealthHealthy || st.HealthStatus != node.HealthHealthy {
		t.Fatalf("healthy container or task not HEALTHY (the unhealthy one is not essential): %+v", st)
	}
	if container(st, "waiter").StartedAt.Before(container(st, "healthy").StartedAt) {
		t.Errorf("HEALTHY dependency started early")
	}

	// An unhealthy essential container makes the task UNHEALTHY.
	sickEssential := sick
	sickEssential.Essential = true
	id2 := e.run(sickEssential)
	e.waitFor(id2, time.Minute, func(s node.TaskStatus) bool { return s.HealthStatus == node.HealthUnhealthy })
}

func TestOutOfMemory(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, "")
	tests := []struct {
		name              string
		taskMB, container int
	}{
		{"container limit", 0, 16},
		{"task limit", 16, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			hog := sh("hog", true, "dd if=/dev/zero of=/dev/null bs=64M count=1")
			hog.MemoryMB = tt.container
			id := e.runSpec(node.TaskSpec{NetworkMode: node.NetworkAWSVPC, MemoryMB: tt.taskMB, Containers: []node.ContainerSpec{hog}})
			st := e.waitStopped(id)
			c := container(st, "hog")
			if exitCode(c) != 137 || c.Reason != reasonOOM {
				t.Fatalf("container = %+v", c)
			}
		})
	}
}

func TestStopTimeoutThenKill(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, "")
	stubborn := sh("stubborn", true, "trap 'echo got TERM' TERM; while true; do sleep 0.1; done")
	stubborn.StopTimeout = 2 * time.Second
	id := e.run(stubborn)
	e.waitRunning(id)
	if err := e.agent.StopTask(context.Background(), id, "stop"); err != nil {
		t.Fatal(err)
	}
	st := e.waitStopped(id)
	c := container(st, "stubborn")
	if exitCode(c) != 137 {
		t.Fatalf("exit code %d, want 137 (SIGKILL after the stop timeout)", exitCode(c))
	}
	if waited := c.FinishedAt.Sub(st.StoppingAt); waited < stubborn.StopTimeout {
		t.Errorf("killed after %s, before the stop timeout %s", waited, stubborn.StopTimeout)
	}
	if got := e.logLines(id, "stubborn", "stdout"); !slices.Contains(got, "got TERM") {
		t.Errorf("container never saw SIGTERM: log %q", got)
	}
}

func TestImageStopSignal(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, "")
	app := sh("app", true, "trap 'echo got USR1; exit 0' USR1; while true; do sleep 0.1; done")
	app.Image, app.StopTimeout = usr1Image, time.Minute
	id := e.run(app)
	e.waitRunning(id)
	if err := e.agent.StopTask(context.Background(), id, ""); err != nil {
		t.Fatal(err)
	}
	st := e.waitFor(id, 30*time.Second, func(s node.TaskStatus) bool { return s.Status == node.StatusStopped })
	if exitCode(container(st, "app")) != 0 || st.StoppedReason != "Task stopped by user" {
		t.Fatalf("task = %+v", st)
	}
	if got := e.logLines(id, "app", "stdout"); !slices.Equal(got, []string{"got USR1"}) {
		t.Fatalf("stdout = %q, want the image's STOPSIGNAL to arrive", got)
	}
}

func TestImagePullFailure(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, "")
	bad := sh("app", true, "true")
	bad.Image = strings.Replace(busyboxImage, "busybox:1", "missing:1", 1)
	id := e.run(bad)
	st := e.waitStopped(id)
	c := container(st, "app")
	if st.StopCode != node.StopTaskFailedToStart || !strings.HasPrefix(st.StoppedReason, "CannotPullContainerError:") ||
		!strings.HasPrefix(c.Reason, "CannotPullContainerError:") {
		t.Fatalf("task = %+v", st)
	}
}

func TestMetadataEndpoint(t *testing.T) {
	t.Parallel()
	e := newTestEnvWith(t, func(cfg *Config) {
		cfg.ExtraMetadata = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "credentials of task %s for %s\n", TaskIDFromContext(r.Context()), r.URL.Path)
		})
	})
	id := e.run(sh("app", true, "sleep 1; wget -qO- $ECS_CONTAINER_METADATA_URI_V4/task && wget -qO- http://169.254.170.2/v2/credentials/abc"))
	st := e.waitStopped(id)
	if exitCode(container(st, "app")) != 0 {
		t.Fatalf("wget failed: %+v, stderr %q", st, e.logLines(id, "app", "stderr"))
	}
	stdout := e.logLines(id, "app", "stdout")
	if len(stdout) != 2 || stdout[1] != "credentials of task "+id+" for /v2/credentials/abc" {
		t.Fatalf("stdout = %q", stdout)
	}
	var meta struct {
		TaskARN     string
		KnownStatus string
		Containers  []struct {
			Name     string
			DockerId string
			Networks []struct{ IPv4Addresses []string }
		}
	}
	out := stdout[0]
	if err := json.Unmarshal([]byte(out), &meta); err != nil {
		t.Fatalf("metadata %q: %v", out, err)
	}
	if !strings.HasSuffix(meta.TaskARN, id) || meta.KnownStatus != node.StatusRunning || len(meta.Containers) != 1 ||
		meta.Containers[0].DockerId != container(st, "app").RuntimeID ||
		meta.Containers[0].Networks[0].IPv4Addresses[0] != st.PrivateIPv4 {
		t.Fatalf("metadata = %+v", meta)
	}
}

func TestTaskStatsAndCgroupLimits(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, "")
	app := sh("app", true, "trap 'exit 0' TERM; while true; do sleep 0.1; done")
	app.MemoryMB, app.MemoryReservationMB, app.CPU = 64, 32, 256
	id := e.runSpec(node.TaskSpec{NetworkMode: node.NetworkAWSVPC, CPU: 512, MemoryMB: 128, Containers: []node.ContainerSpec{app}})
	e.waitRunning(id)
	stats, err := e.agent.TaskStats(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if len(stats.Containers) != 1 || stats.Containers[0].MemoryLimitBytes != 64<<20 || stats.Containers[0].MemoryUsageBytes == 0 {
		t.Fatalf("stats = %+v", stats)
	}

	// The metadata stats endpoint: Docker's shape, with the previous CPU
	// reading as precpu_stats from the second request on.
	h := &metadataHandler{a: e.agent, taskID: id}
	var docker struct {
		CPUStats struct {
			CPUUsage struct {
				TotalUsage uint64 `json:"total_usage"`
			} `json:"cpu_usage"`
		} `json:"cpu_stats"`
		PreCPUStats struct {
			CPUUsage struct {
				TotalUsage uint64 `json:"total_usage"`
			} `json:"cpu_usage"`
		} `json:"precpu_stats"`
		MemoryStats struct{ Limit uint64 } `json:"memory_stats"`
	}
	for range 2 {
		rr := httptest.NewRecorder()
		h.ServeHTTP(rr, httptest.NewRequest("GET", "/v4/"+containerID(id, "app")+"/stats", nil))
		if err := json.Unmarshal(rr.Body.Bytes(), &docker); rr.Code != 200 || err != nil {
			t.Fatalf("stats endpoint: %d %s", rr.Code, rr.Body)
		}
	}
	if docker.PreCPUStats.CPUUsage.TotalUsage == 0 || docker.CPUStats.CPUUsage.TotalUsage < docker.PreCPUStats.CPUUsage.TotalUsage ||
		docker.MemoryStats.Limit != 64<<20 {
		t.Errorf("docker stats = %+v", docker)
	}

	if !e.agent.cg.v1() {
		t.Skip("cgroup v2 host: task-level limits are not set")
	}
	taskCg := "kumo-" + e.cfg.InstanceID + "/" + id
	for file, want := range map[string]string{
		"cpu/" + taskCg + "/cpu.shares":                        "512",
		"cpu/" + taskCg + "/cpu.cfs_quota_us":                  "50000",
		"memory/" + taskCg + "/memory.limit_in_bytes":          fmt.Sprint(128 << 20),
		"cpu/" + taskCg + "/app/cpu.shares":                    "256",
		"memory/" + taskCg + "/app/memory.limit_in_bytes":      fmt.Sprint(64 << 20),
		"memory/" + taskCg + "/app/memory.soft_limit_in_bytes": fmt.Sprint(32 << 20),
	} {
		b, err := os.ReadFile(filepath.Join(cgroupRoot, file))
		if got := strings.TrimSpace(string(b)); err != nil || got != want {
			t.Errorf("%s = %q (%v), want %s", file, got, err, want)
		}
	}
}

func TestRemoveTask(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, "")
	ctx := context.Background()
	id := e.run(sh("app", true, "echo bye"))
	running := e.run(sh("app", true, loopUntilTERM))
	e.waitStopped(id)
	e.waitRunning(running)

	if err := e.agent.RemoveTask(ctx, running); err == nil {
		t.Fatal("RemoveTask of a running task succeeded")
	}
	if err := e.agent.RemoveTask(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := e.agent.TaskStatus(ctx, id); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("TaskStatus after RemoveTask: %v, want ErrNotFound", err)
	}
	if _, err := e.agent.client.LoadContainer(e.agent.ctx, containerID(id, "app")); err == nil {
		t.Error("container still in containerd")
	}
	if got := e.logLines(id, "app", "stdout"); !slices.Equal(got, []string{"bye"}) {
		t.Errorf("logs after RemoveTask = %q, want kept", got)
	}
	if err := e.agent.StopTask(ctx, id, "again"); !errors.Is(err, node.ErrNotFound) {
		t.Errorf("StopTask of a removed task: %v, want ErrNotFound", err)
	}
	e.restart()
	if _, err := e.agent.TaskStatus(ctx, id); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("removed task came back after restart: %v", err)
	}
	tasks, err := e.agent.ListTasks(ctx)
	if err != nil || len(tasks) != 1 || tasks[0].TaskID != running {
		t.Fatalf("ListTasks after restart = %+v, %v", tasks, err)
	}
}

func TestRunTaskValidation(t *testing.T) {
	t.Parallel()
	ok := node.ContainerSpec{Name: "app", Image: "busybox", Essential: true}
	tests := []struct {
		name string
		spec node.TaskSpec
	}{
		{"no containers", node.TaskSpec{TaskID: "t1", NetworkMode: node.NetworkAWSVPC}},
		{"bad task id", node.TaskSpec{TaskID: "../x", NetworkMode: node.NetworkAWSVPC, Containers: []node.ContainerSpec{ok}}},
		{"bad network mode", node.TaskSpec{TaskID: "t1", NetworkMode: "nat", Containers: []node.ContainerSpec{ok}}},
		{"no essential container", node.TaskSpec{TaskID: "t1", NetworkMode: node.NetworkAWSVPC,
			Containers: []node.ContainerSpec{{Name: "app", Image: "busybox"}}}},
		{"duplicate names", node.TaskSpec{TaskID: "t1", NetworkMode: node.NetworkAWSVPC, Containers: []node.ContainerSpec{ok, ok}}},
		{"unknown dependency", node.TaskSpec{TaskID: "t1", NetworkMode: node.NetworkAWSVPC, Containers: []node.ContainerSpec{{
			Name: "app", Image: "busybox", Essential: true, DependsOn: []node.Dependency{{ContainerName: "db", Condition: node.ConditionStart}}}}}},
		{"HEALTHY without health check", node.TaskSpec{TaskID: "t1", NetworkMode: node.NetworkAWSVPC, Containers: []node.ContainerSpec{ok, {
			Name: "web", Image: "busybox", DependsOn: []node.Dependency{{ContainerName: "app", Condition: node.ConditionHealthy}}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := validateSpec(tt.spec); err == nil {
				t.Fatal("validateSpec accepted it")
			}
		})
	}
	if err := validateSpec(node.TaskSpec{TaskID: "t1", NetworkMode: node.NetworkAWSVPC, Containers: []node.ContainerSpec{ok}}); err != nil {
		t.Fatalf("valid spec rejected: %v", err)
	}
}

func TestConcurrentTasks(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, "") // a fresh namespace: the image is pulled by the first task
	var ids []string
	for i := range 4 {
		ids = append(ids, e.run(sh("app", true, fmt.Sprintf("sleep 1; echo task %d", i)))) // overlap: no address is freed yet
	}
	ips := map[string]bool{}
	for i, id := range ids {
		st := e.waitStopped(id)
		if exitCode(container(st, "app")) != 0 || !slices.Equal(e.logLines(id, "app", "stdout"), []string{fmt.Sprintf("task %d", i)}) {
			t.Errorf("task %d = %+v", i, st)
		}
		ips[st.PrivateIPv4] = true
	}
	if len(ips) != len(ids) {
		t.Errorf("tasks shared addresses: %v", ips)
	}
}

// hurriedClock is the wall clock except that every wait ends at once.
type hurriedClock struct{ clock.Real }

func (hurriedClock) After(time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	ch <- time.Now()
	return ch
}

func TestStopTimeoutUsesInjectedClock(t *testing.T) {
	t.Parallel()
	e := newTestEnvWith(t, func(cfg *Config) { cfg.Clock = hurriedClock{} })
	stubborn := sh("stubborn", true, "trap '' TERM; while true; do sleep 0.1; done")
	stubborn.StopTimeout = time.Hour
	id := e.run(stubborn)
	e.waitRunning(id)
	if err := e.agent.StopTask(context.Background(), id, "hurry"); err != nil {
		t.Fatal(err)
	}
	// Within the test's wait, not an hour: the clock decided the timeout passed.
	if st := e.waitStopped(id); exitCode(container(st, "stubborn")) != 137 {
		t.Fatalf("task = %+v", st)
	}
}
