package agent

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	ctrd "github.com/kumo-project/kumo/internal/agent/containerd"
	"github.com/kumo-project/kumo/internal/node"
)

const loopUntilTERM = "trap 'exit 0' TERM; while true; do sleep 0.1; done"

func TestRestartReattachesRunningTask(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, "")
	app := sh("app", true, loopUntilTERM)
	app.HealthCheck = &node.HealthCheck{Command: []string{"CMD", "true"}, Interval: 200 * time.Millisecond}
	id := e.run(app)
	before := e.waitFor(id, time.Minute, func(s node.TaskStatus) bool { return s.HealthStatus == node.HealthHealthy })

	e.restart()
	// A new watcher first hears the current status of every known task.
	watchCtx, stopWatch := context.WithTimeout(context.Background(), 10*time.Second)
	defer stopWatch()
	watch, err := e.agent.Watch(watchCtx)
	if err != nil {
		t.Fatal(err)
	}
	if first := <-watch; first.TaskID != id || first.Status != node.StatusRunning {
		t.Fatalf("first watched status = %+v", first)
	}
	st, err := e.agent.TaskStatus(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != node.StatusRunning || st.Seq < before.Seq || st.PrivateIPv4 != before.PrivateIPv4 {
		t.Fatalf("after restart: %+v, before: %+v", st, before)
	}
	// The new agent serves the task's metadata endpoint again (its
	// listener may come up a moment after the task is re-attached).
	var out string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if out = e.metadataOrError(id, container(st, "app").RuntimeID); strings.Contains(out, `"KnownStatus":"RUNNING"`) {
			break
		}
	}
	if !strings.Contains(out, `"KnownStatus":"RUNNING"`) {
		t.Errorf("metadata after restart = %q", out)
	}
	time.Sleep(time.Second) // the re-attached health check and wait keep it running
	if st, _ := e.agent.TaskStatus(context.Background(), id); st.Status != node.StatusRunning {
		t.Fatalf("task stopped after restart: %+v", st)
	}
	if err := e.agent.StopTask(context.Background(), id, "after restart"); err != nil {
		t.Fatal(err)
	}
	st = e.waitStopped(id)
	if exitCode(container(st, "app")) != 0 || st.StopCode != node.StopUserInitiated {
		t.Fatalf("stopped task = %+v", st)
	}
}

// TestRestartAfterContainerdKill kills containerd (-9) under a live agent,
// then restarts the agent while one container exits meanwhile.
func TestRestartAfterContainerdKill(t *testing.T) {
	t.Parallel()
	requireEnv(t)
	sup, err := ctrd.New(ctrd.Config{InstanceID: "kill", DataDir: filepath.Join(t.TempDir(), "d")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := sup.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sup.Close() })
	e := newTestEnv(t, sup.Address())

	longLived := e.run(sh("app", true, loopUntilTERM))
	shortLived := e.run(sh("app", true, "trap 'exit 0' TERM; sleep 4; exit 5"))
	e.waitRunning(longLived)
	e.waitRunning(shortLived)

	pid := sup.Pid()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for i := 0; sup.Pid() == pid || ping(sup.Address()) != nil; i++ {
		if i > 300 {
			t.Fatal("containerd not restarted")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if st, _ := e.agent.TaskStatus(ctx, longLived); st.Status != node.StatusRunning {
		t.Fatalf("containerd restart stopped the task: %+v", st)
	}

	// kumo down while the short-lived container exits.
	e.agent.Close()
	time.Sleep(4 * time.Second)
	e.start()
	st := e.waitStopped(shortLived)
	c := container(st, "app")
	if exitCode(c) != 5 || c.FinishedAt.IsZero() || st.StopCode != node.StopEssentialContainerExited {
		t.Fatalf("container that exited while kumo was down: %+v", st)
	}
	if st, _ := e.agent.TaskStatus(ctx, longLived); st.Status != node.StatusRunning {
		t.Fatalf("long-lived task after restart: %+v", st)
	}
	if err := e.agent.StopTask(ctx, longLived, "bye"); err != nil {
		t.Fatal(err)
	}
	if st := e.waitStopped(longLived); exitCode(container(st, "app")) != 0 {
		t.Fatalf("stopped task = %+v", st)
	}
}

// ping reports whether a containerd answers on address.
func ping(address string) error {
	s, err := ctrd.New(ctrd.Config{Address: address})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return s.Start(ctx)
}

// metadataOrError asks the container's metadata from inside the task's
// netns and returns the answer, or curl's error output.
func (e *testEnv) metadataOrError(taskID, runtimeID string) string {
	e.t.Helper()
	if _, err := exec.LookPath("curl"); err != nil {
		e.t.Skip("curl not installed")
	}
	tk, err := e.agent.task(taskID)
	if err != nil {
		e.t.Fatal(err)
	}
	rec := e.agent.snapshot(tk)
	out, err := exec.Command("nsenter", "--net="+rec.Sandbox.NetNSPath, "curl", "-sS", "--max-time", "5",
		"http://"+metadataHost+"/v4/"+runtimeID).CombinedOutput()
	if err != nil {
		return err.Error() + ": " + string(out)
	}
	return string(out)
}
