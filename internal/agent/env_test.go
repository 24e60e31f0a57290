package agent

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	ctrd "github.com/kumo-project/kumo/internal/agent/containerd"
	"github.com/kumo-project/kumo/internal/agent/initproc"
	"github.com/kumo-project/kumo/internal/agent/logdriver"
	"github.com/kumo-project/kumo/internal/agent/network"
	"github.com/kumo-project/kumo/internal/node"
)

// Shared by the tests: one containerd and one registry serving busybox.
var (
	sharedContainerd string // socket address; "" when the tests cannot run
	busyboxImage     string // reference of the busybox test image
	usr1Image        string // the same with STOPSIGNAL SIGUSR1
	skipReason       string
)

// TestMain lets the test binary act as the log driver and the container
// init (as `kumo log-driver` and `kumo init` do), and starts the shared
// containerd and registry.
func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == "log-driver" {
		if err := logdriver.Main(os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if len(os.Args) > 1 && os.Args[1] == "init" {
		os.Exit(initproc.InitMain(os.Args[2:]))
	}
	if len(os.Args) == 5 && os.Args[1] == childMode {
		os.Exit(runChild(os.Args[2], os.Args[3], os.Args[4]))
	}
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	if reason := environmentProblem(); reason != "" {
		skipReason = reason
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "kagt")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	sup, err := ctrd.New(ctrd.Config{InstanceID: "shared", DataDir: dir})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := sup.Start(ctx); err != nil {
		panic(err)
	}
	defer sup.Close()
	sharedContainerd = sup.Address()

	refs, stop, err := serveBusybox()
	if err != nil {
		panic(err)
	}
	defer stop()
	busyboxImage, usr1Image = refs[0], refs[1]
	return m.Run()
}

// environmentProblem says why the integration tests cannot run here.
func environmentProblem() string {
	if os.Geteuid() != 0 {
		return "needs root"
	}
	for _, bin := range []string{"containerd", "runc", "containerd-shim-runc-v2"} {
		if _, err := exec.LookPath(bin); err != nil {
			return bin + " not installed"
		}
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		return "busybox-static not installed"
	}
	return ""
}

// serveBusybox builds images of /bin/busybox and its applet links (plain,
// and with STOPSIGNAL SIGUSR1) and serves them from an in-process registry
// on 127.0.0.1.
func serveBusybox() (refs []string, stop func(), err error) {
	layer, err := busyboxLayer()
	if err != nil {
		return nil, nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	srv := &http.Server{Handler: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	go srv.Serve(l)
	for _, variant := range []struct{ tag, stopSignal string }{{"busybox:1", ""}, {"busybox:usr1", "SIGUSR1"}} {
		img, err := mutate.AppendLayers(empty.Image, layer)
		if err == nil {
			img, err = mutate.Config(img, v1.Config{
				Cmd:        []string{"sh"},
				Env:        []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"},
				StopSignal: variant.stopSignal,
			})
		}
		ref := l.Addr().String() + "/test/" + variant.tag
		var tag name.Reference
		if err == nil {
			tag, err = name.ParseReference(ref)
		}
		if err == nil {
			err = remote.Write(tag, img)
		}
		if err != nil {
			srv.Close()
			return nil, nil, err
		}
		refs = append(refs, ref)
	}
	return refs, func() { srv.Close() }, nil
}

// busyboxLayer is a layer with /bin/busybox and a link per applet.
func busyboxLayer() (v1.Layer, error) {
	bin, err := os.ReadFile("/bin/busybox")
	if err != nil {
		return nil, err
	}
	list, err := exec.Command("/bin/busybox", "--list").Output()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, dir := range []string{"bin/", "etc/", "tmp/"} {
		tw.WriteHeader(&tar.Header{Name: dir, Typeflag: tar.TypeDir, Mode: 0o1777})
	}
	tw.WriteHeader(&tar.Header{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(bin))})
	tw.Write(bin)
	for _, applet := range strings.Fields(string(list)) {
		if applet != "busybox" {
			tw.WriteHeader(&tar.Header{Name: "bin/" + applet, Typeflag: tar.TypeSymlink, Linkname: "busybox"})
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
}

// testEnv is one agent with its own instance ID, data dir and network.
type testEnv struct {
	t       *testing.T
	agent   *Agent
	cfg     Config
	network *network.Manager
}

func requireEnv(t *testing.T) {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
}

// newTestEnv starts an agent on the shared containerd (or on address).
func newTestEnv(t *testing.T, address string) *testEnv {
	t.Helper()
	return newTestEnvWith(t, func(cfg *Config) {
		if address != "" {
			cfg.ContainerdAddress = address
		}
	})
}

// newTestEnvWith starts an agent on the shared containerd with the config
// changed by configure.
func newTestEnvWith(t *testing.T, configure func(*Config)) *testEnv {
	t.Helper()
	requireEnv(t)
	id := make([]byte, 4)
	rand.Read(id)
	instance := "t" + hex.EncodeToString(id)
	dir := t.TempDir()
	nm, err := network.NewManager(network.Config{InstanceID: instance, StateDir: filepath.Join(dir, "network")})
	if err != nil {
		t.Fatal(err)
	}
	e := &testEnv{t: t, network: nm, cfg: Config{
		InstanceID:        instance,
		DataDir:           dir,
		ContainerdAddress: sharedContainerd,
		Namespace:         "kumo-" + instance,
		Network:           nm,
		ExecutablePath:    os.Args[0],
		Logger:            slog.New(slog.NewTextHandler(io.Discard, nil)),
	}}
	configure(&e.cfg)
	e.start()
	t.Cleanup(func() {
		e.removeAll()
		e.agent.Close()
		nm.RemoveAll()
	})
	return e
}

// start (re)creates the agent, as a kumo restart does.
func (e *testEnv) start() {
	e.t.Helper()
	a, err := New(e.cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.Start(ctx); err != nil {
		e.t.Fatal(err)
	}
	e.agent = a
}

// restart closes the agent and starts a new one on the same data dir.
func (e *testEnv) restart() {
	e.t.Helper()
	e.agent.Close()
	e.start()
}

// removeAll kills and removes every task the agent knows.
func (e *testEnv) removeAll() {
	ctx := context.Background()
	tasks, _ := e.agent.ListTasks(ctx)
	for _, st := range tasks {
		if st.Status != node.StatusStopped {
			e.agent.StopTask(ctx, st.TaskID, "test cleanup")
			e.waitFor(st.TaskID, 40*time.Second, func(s node.TaskStatus) bool { return s.Status == node.StatusStopped })
		}
		e.agent.RemoveTask(ctx, st.TaskID)
	}
}

// run starts a task of the given containers in awsvpc mode.
func (e *testEnv) run(containers ...node.ContainerSpec) string {
	e.t.Helper()
	return e.runSpec(node.TaskSpec{NetworkMode: node.NetworkAWSVPC, Containers: containers})
}

func (e *testEnv) runSpec(spec node.TaskSpec) string {
	e.t.Helper()
	id := make([]byte, 16)
	rand.Read(id)
	spec.TaskID = hex.EncodeToString(id)
	spec.TaskARN = "arn:aws:ecs:us-east-1:000000000000:task/test/" + spec.TaskID
	spec.ClusterARN = "arn:aws:ecs:us-east-1:000000000000:cluster/test"
	spec.Family, spec.Revision, spec.LaunchType = "test", 1, "FARGATE"
	if err := e.agent.RunTask(context.Background(), spec); err != nil {
		e.t.Fatal(err)
	}
	return spec.TaskID
}

// waitFor polls the task's status until cond holds.
func (e *testEnv) waitFor(taskID string, timeout time.Duration, cond func(node.TaskStatus) bool) node.TaskStatus {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	var st node.TaskStatus
	var err error
	for time.Now().Before(deadline) {
		st, err = e.agent.TaskStatus(context.Background(), taskID)
		if err == nil && cond(st) {
			return st
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.t.Fatalf("task %s: condition not met in %s; last status %+v (err %v)", taskID, timeout, st, err)
	return st
}

func (e *testEnv) waitStopped(taskID string) node.TaskStatus {
	e.t.Helper()
	return e.waitFor(taskID, 60*time.Second, func(s node.TaskStatus) bool { return s.Status == node.StatusStopped })
}

func (e *testEnv) waitRunning(taskID string) node.TaskStatus {
	e.t.Helper()
	return e.waitFor(taskID, 60*time.Second, func(s node.TaskStatus) bool {
		if s.Status == node.StatusStopped {
			e.t.Fatalf("task stopped instead of running: %+v", s)
		}
		return s.Status == node.StatusRunning
	})
}

// logLines returns the messages a container printed on a stream.
func (e *testEnv) logLines(taskID, container, stream string) []string {
	e.t.Helper()
	r, err := logdriver.NewReader(filepath.Join(e.agent.taskDir(taskID), "logs", container+".log"), 0)
	if err != nil {
		return nil
	}
	defer r.Close()
	var out []string
	for range 10000 {
		rec, _, err := r.Next()
		if err != nil {
			break
		}
		if rec.Stream == stream {
			out = append(out, rec.Message)
		}
	}
	return out
}

// sh is a container running a shell script.
func sh(name string, essential bool, script string) node.ContainerSpec {
	return node.ContainerSpec{Name: name, Image: busyboxImage, Essential: essential, Command: []string{"sh", "-c", script}}
}

func container(st node.TaskStatus, name string) node.ContainerStatus {
	for _, c := range st.Containers {
		if c.Name == name {
			return c
		}
	}
	return node.ContainerStatus{}
}

func exitCode(c node.ContainerStatus) int {
	if c.ExitCode == nil {
		return -1
	}
	return *c.ExitCode
}
