// Package agent is kumo's node agent: it implements node.Node with
// containerd and runc, so the control plane's tasks become real containers.
//
//	RunTask ─► task loop (one goroutine per task, lifecycle.go, containers.go)
//	             PROVISIONING  network sandbox, cgroup, metadata endpoint
//	             PENDING       image pulls (image.go)
//	             RUNNING       containers started in dependsOn order (spec.go),
//	                           exits awaited, health checks run (health.go)
//	             STOPPING      SIGTERM, SIGKILL after StopTimeout
//	             DEPROVISIONING network and cgroup released
//	             STOPPED
//
// Every status change is written to <DataDir>/agent/tasks/<id>/task.json
// before watchers hear of it, so a kumo killed at any moment restarts,
// reloads the tasks and re-attaches to containers that kept running under
// their shims (or learns the exit status of those that ended meanwhile).
package agent

import (
	"context"
	"errors"
	"fmt"
	"google.golang.org/grpc"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	containerd "github.com/containerd/containerd"
	"github.com/containerd/containerd/errdefs"
	"github.com/containerd/containerd/namespaces"

	"github.com/kumo-project/kumo/internal/agent/awslogs"
	"github.com/kumo-project/kumo/internal/agent/network"
	"github.com/kumo-project/kumo/internal/clock"
	"github.com/kumo-project/kumo/internal/node"
)

var _ node.Node = (*Agent)(nil)

// Config configures an Agent.
type Config struct {
	// InstanceID names the kumo instance (required); cgroups and network
	// names derive from it.
	InstanceID string
	// DataDir is kumo's data dir (required); agent state lives in
	// <DataDir>/agent.
	DataDir string
	// ContainerdAddress is the containerd socket (required).
	ContainerdAddress string
	// Namespace is the containerd namespace; default "kumo".
	Namespace string
	// Clock times health checks and stop timeouts; default the wall clock.
	Clock clock.Clock
	// Network gives tasks their network (required).
	Network *network.Manager
	// ExecutablePath is the kumo binary, run as the log driver
	// (`kumo log-driver <file>`) and as the container init (`kumo init`);
	// default os.Executable().
	ExecutablePath string
	// ImageHostRewrite maps a registry host of an image reference to the host
	// to pull from, and says whether that host speaks plain HTTP (optional).
	ImageHostRewrite func(host string) (host2 string, plainHTTP bool)
	// RegistryCredentials returns the user name and secret to pull from a
	// registry host (after rewriting), or "" for anonymous pulls (optional).
	RegistryCredentials func(host string) (user, secret string, err error)
	// ExtraMetadata serves the requests to the task metadata address
	// (169.254.170.2) outside /v3/ and /v4/, e.g. the credentials endpoint
	// /v2/credentials/<id> (optional). TaskIDFromContext tells which task's
	// namespace a request came from.
	ExtraMetadata http.Handler
	// HostMetadataPort is the 127.0.0.1 port of the task metadata endpoint
	// for host-mode tasks; 0 picks a free port at Start.
	HostMetadataPort int
	// Logger; default slog.Default().
	Logger *slog.Logger
	// LogSink receives the output of containers whose log driver is
	// awslogs (optional: without it the output stays on the node only).
	LogSink awslogs.Sink
	// DNSServer is the resolver address written to the /etc/resolv.conf of
	// awsvpc and bridge tasks whose task definition sets no dnsServers:
	// kumo's DNS on the bridge (optional: without it they get the host's
	// file).
	DNSServer string
}

// Agent runs the tasks of one node.
type Agent struct {
	cfg    Config
	client *containerd.Client
	cg     cgroups

	ctx    context.Context // namespaced; ends on Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // task loops

	hostMetadata *http.Server
	hostMetaAddr string

	mu       sync.Mutex
	tasks    map[string]*task
	watchers map[*watcher]struct{}
	lastCPU  map[string]cpuReading // by runtime ID, for precpu_stats
	// imageLocks serialize pulls per image name; never shrinks (one
	// small entry per image name ever used).
	imageLocks map[string]*sync.Mutex
	shippers   map[string]bool // awslogs sources being shipped (awslogs.go)
	started    bool
	closed     bool
}

// New validates cfg and prepares an agent; Start connects and resumes tasks.
func New(cfg Config) (*Agent, error) {
	if cfg.InstanceID == "" || cfg.DataDir == "" || cfg.ContainerdAddress == "" {
		return nil, errors.New("agent: InstanceID, DataDir and ContainerdAddress are required")
	}
	if cfg.Network == nil {
		return nil, errors.New("agent: Network is required")
	}
	if cfg.Namespace == "" {
		cfg.Namespace = "kumo"
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ExecutablePath == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("agent: find own executable: %w", err)
		}
		cfg.ExecutablePath = exe
	}
	return &Agent{
		cfg:        cfg,
		cg:         cgroups{root: "kumo-" + cfg.InstanceID},
		tasks:      make(map[string]*task),
		watchers:   make(map[*watcher]struct{}),
		lastCPU:    make(map[string]cpuReading),
		imageLocks: make(map[string]*sync.Mutex),
	}, nil
}

// Start connects to containerd, reloads every task of the data dir and
// re-attaches to their containers.
func (a *Agent) Start(ctx context.Context) error {
	client, err := containerd.New(a.cfg.ContainerdAddress,
		containerd.WithDefaultNamespace(a.cfg.Namespace), containerd.WithTimeout(10*time.Second),
		// While the supervisor restarts a dead containerd, calls wait for it
		// to be back instead of failing tasks with "connection refused".
		containerd.WithCallOpts([]grpc.CallOption{grpc.WaitForReady(true)}))
	if err != nil {
		return fmt.Errorf("agent: connect to containerd at %s: %w", a.cfg.ContainerdAddress, err)
	}
	if _, err := client.Version(ctx); err != nil {
		client.Close()
		return fmt.Errorf("agent: containerd at %s: %w", a.cfg.ContainerdAddress, err)
	}
	a.client = client
	a.ctx, a.cancel = context.WithCancel(namespaces.WithNamespace(context.Background(), a.cfg.Namespace))
	if err := os.MkdirAll(a.tasksDir(), 0o700); err != nil {
		return err
	}
	if err := a.startHostMetadata(); err != nil {
		return err
	}
	records, err := loadRecords(a.tasksDir())
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, rec := range records {
		a.launch(newTask(rec, a.taskDir(rec.Spec.TaskID)))
	}
	a.resumeShipments()
	a.started = true
	return nil
}

// Close stops the task loops and disconnects. Containers keep running; a
// new Agent on the same data dir re-attaches to them.
func (a *Agent) Close() error {
	a.mu.Lock()
	if a.closed || a.cancel == nil {
		a.closed = true
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	a.mu.Unlock()
	a.cancel()
	a.wg.Wait()
	if a.hostMetadata != nil {
		a.hostMetadata.Close()
	}
	return a.client.Close()
}

func (a *Agent) tasksDir() string             { return filepath.Join(a.cfg.DataDir, "agent", "tasks") }
func (a *Agent) taskDir(taskID string) string { return filepath.Join(a.tasksDir(), taskID) }

// launch starts the loop of t; a.mu must be held.
func (a *Agent) launch(t *task) {
	a.tasks[t.id] = t
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		a.runTask(t)
	}()
	a.shipLogs(t)
}

// Info describes this node.
func (a *Agent) Info(ctx context.Context) (node.Info, error) {
	host, _ := os.Hostname()
	return node.Info{
		NodeID:     a.cfg.InstanceID,
		Hostname:   host,
		CPU:        runtime.NumCPU() * 1024,
		MemoryMB:   hostMemoryMB(),
		BridgeIP:   a.cfg.Network.BridgeIP(),
		TaskSubnet: a.cfg.Network.Subnet(),
	}, nil
}

// RunTask accepts a task and starts it in the background.
func (a *Agent) RunTask(ctx context.Context, spec node.TaskSpec) error {
	if err := validateSpec(spec); err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.started || a.closed {
		return errors.New("agent: not running")
	}
	if _, ok := a.tasks[spec.TaskID]; ok {
		return nil
	}
	rec := newRecord(spec)
	t := newTask(rec, a.taskDir(spec.TaskID))
	if err := t.save(); err != nil {
		return fmt.Errorf("agent: save task %s: %w", spec.TaskID, err)
	}
	a.launch(t)
	a.notifyLocked(t)
	return nil
}

// StopTask asks the task loop to stop the task.
func (a *Agent) StopTask(ctx context.Context, taskID, reason string) error {
	t, err := a.task(taskID)
	if err != nil {
		return err
	}
	t.requestStop(reason)
	return nil
}

// TaskStatus returns the current status of a task.
func (a *Agent) TaskStatus(ctx context.Context, taskID string) (node.TaskStatus, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	t, ok := a.tasks[taskID]
	if !ok {
		return node.TaskStatus{}, fmt.Errorf("task %s: %w", taskID, node.ErrNotFound)
	}
	return cloneStatus(t.rec.Status), nil
}

// ListTasks returns the status of every known task.
func (a *Agent) ListTasks(ctx context.Context) ([]node.TaskStatus, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]node.TaskStatus, 0, len(a.tasks))
	for _, t := range a.tasks {
		out = append(out, cloneStatus(t.rec.Status))
	}
	return out, nil
}

// RemoveTask forgets a STOPPED task: it deletes its containers, snapshots,
// cgroup, network sandbox and task dir, keeping the container logs.
func (a *Agent) RemoveTask(ctx context.Context, taskID string) error {
	t, err := a.task(taskID)
	if err != nil {
		return err
	}
	a.mu.Lock()
	status := t.rec.Status.Status
	a.mu.Unlock()
	if status != node.StatusStopped {
		return fmt.Errorf("task %s is %s, not STOPPED", taskID, status)
	}
	<-t.done
	if err := a.removeContainers(t); err != nil {
		return err
	}
	if err := a.cg.removeTask(taskID); err != nil {
		return err
	}
	if err := a.cfg.Network.Teardown(ctx, taskID); err != nil {
		return err
	}
	if err := os.Remove(t.recordPath()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	a.removeTaskFiles(t)
	a.mu.Lock()
	delete(a.tasks, taskID)
	for _, c := range t.rec.Spec.Containers {
		delete(a.lastCPU, containerID(taskID, c.Name))
	}
	a.mu.Unlock()
	return nil
}

// task returns the known task taskID.
func (a *Agent) task(taskID string) (*task, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	t, ok := a.tasks[taskID]
	if !ok {
		return nil, fmt.Errorf("task %s: %w", taskID, node.ErrNotFound)
	}
	return t, nil
}

// removeContainers deletes the task's containerd tasks, containers and
// snapshots.
func (a *Agent) removeContainers(t *task) error {
	ctx := a.ctx
	for _, c := range a.snapshot(t).Spec.Containers {
		cont, err := a.client.LoadContainer(ctx, containerID(t.id, c.Name))
		if errdefs.IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		if tk, err := cont.Task(ctx, nil); err == nil {
			if _, err := tk.Delete(ctx, containerd.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
				return fmt.Errorf("delete task of container %s: %w", c.Name, err)
			}
		}
		if err := cont.Delete(ctx, containerd.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("delete container %s: %w", c.Name, err)
		}
	}
	return nil
}

// removeTaskFiles deletes the task dir except the container logs, which the
// log shipper may still need.
func (a *Agent) removeTaskFiles(t *task) {
	entries, _ := os.ReadDir(t.dir)
	for _, e := range entries {
		if e.Name() != "logs" {
			os.RemoveAll(filepath.Join(t.dir, e.Name()))
		}
	}
}
