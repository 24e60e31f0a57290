package agent

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	ctrd "github.com/kumo-project/kumo/internal/agent/containerd"
	"github.com/kumo-project/kumo/internal/agent/network"
	"github.com/kumo-project/kumo/internal/node"
)

// childMode is the argument that makes the test binary act as a kumo
// process for TestKill9: see runChild.
const childMode = "agent-child"

// kumoParts is what a kumo process runs on a data dir.
type kumoParts struct {
	sup   *ctrd.Supervisor
	nm    *network.Manager
	agent *Agent
}

// startKumo starts containerd, the network manager and the agent of a data
// dir, as `kumo up` would.
func startKumo(dataDir, instance string) (*kumoParts, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sup, err := ctrd.New(ctrd.Config{InstanceID: instance, DataDir: dataDir})
	if err != nil {
		return nil, err
	}
	if err := sup.Start(ctx); err != nil {
		return nil, err
	}
	nm, err := network.NewManager(network.Config{InstanceID: instance, StateDir: filepath.Join(dataDir, "network")})
	if err != nil {
		return nil, err
	}
	a, err := New(Config{InstanceID: instance, DataDir: dataDir, ContainerdAddress: sup.Address(), Network: nm,
		ExecutablePath: os.Args[0], Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return nil, err
	}
	if err := a.Start(ctx); err != nil {
		return nil, err
	}
	return &kumoParts{sup: sup, nm: nm, agent: a}, nil
}

// runChild is the body of the child process: start kumo, run a task that
// prints a line every 100ms, print the task ID once it runs, then wait to be
// killed.
func runChild(dataDir, instance, image string) int {
	k, err := startKumo(dataDir, instance)
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	spec := node.TaskSpec{TaskID: "killtest", NetworkMode: node.NetworkAWSVPC, Containers: []node.ContainerSpec{{
		Name: "app", Image: image, Essential: true,
		Command: []string{"sh", "-c", "trap 'exit 0' TERM; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done"},
	}}}
	if err := k.agent.RunTask(context.Background(), spec); err != nil {
		fmt.Println("error:", err)
		return 1
	}
	for range 600 {
		if st, _ := k.agent.TaskStatus(context.Background(), spec.TaskID); st.Status == node.StatusRunning {
			fmt.Println("running", spec.TaskID)
			time.Sleep(time.Minute) // killed long before
			return 0
		}
		time.Sleep(100 * time.Millisecond)
	}
	fmt.Println("error: task not running")
	return 1
}

// TestKill9 kills a whole kumo process (agent and, through its parent-death
// signal, its containerd) while a task runs; a new kumo on the same data
// dir finds the task running, its log still growing, and can stop it.
func TestKill9(t *testing.T) {
	t.Parallel()
	requireEnv(t)
	dataDir := filepath.Join(t.TempDir(), "k")
	instance := fmt.Sprintf("k%d", os.Getpid()%100000)
	child := exec.Command(os.Args[0], childMode, dataDir, instance, busyboxImage)
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { child.Process.Kill(); child.Wait() })
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if !strings.HasPrefix(line, "running ") {
		t.Fatalf("child: %q", line)
	}
	taskID := strings.TrimSpace(strings.TrimPrefix(line, "running "))

	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	child.Wait()
	time.Sleep(300 * time.Millisecond)

	k, err := startKumo(dataDir, instance)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		k.agent.Close()
		k.nm.RemoveAll()
		k.sup.Close()
	})
	e := &testEnv{t: t, agent: k.agent}
	st := e.waitFor(taskID, 10*time.Second, func(s node.TaskStatus) bool { return true })
	if st.Status != node.StatusRunning {
		t.Fatalf("after kill -9 and restart: %+v", st)
	}
	before := len(e.logLines(taskID, "app", "stdout"))
	time.Sleep(time.Second)
	if after := len(e.logLines(taskID, "app", "stdout")); after <= before {
		t.Fatalf("log stopped growing: %d lines, then %d", before, after)
	}
	if err := k.agent.StopTask(context.Background(), taskID, "after kill -9"); err != nil {
		t.Fatal(err)
	}
	if st := e.waitStopped(taskID); exitCode(container(st, "app")) != 0 {
		t.Fatalf("stopped = %+v", st)
	}
	if err := k.agent.RemoveTask(context.Background(), taskID); err != nil {
		t.Fatal(err)
	}
}
