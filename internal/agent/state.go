package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sync"

	containerd "github.com/containerd/containerd"

	"github.com/kumo-project/kumo/internal/agent/network"
	"github.com/kumo-project/kumo/internal/fsutil"
	"github.com/kumo-project/kumo/internal/node"
)

// record is what task.json holds: the spec and everything the agent learned
// about the task, enough to resume it after a restart.
type record struct {
	Spec    node.TaskSpec    `json:"spec"`
	Status  node.TaskStatus  `json:"status"`
	Sandbox *network.Sandbox `json:"sandbox,omitempty"`
}

// task is a task the agent knows. rec is guarded by Agent.mu and changed
// only by the task's loop (through Agent.update).
type task struct {
	id   string
	dir  string
	rec  record
	done chan struct{} // closed when the loop returns

	// Loop-owned state, touched only by the task's loop goroutine.
	events   chan event
	images   map[string]containerd.Image // by container name
	running  map[string]*runningContainer
	metadata io.Closer // the task's metadata endpoint, if served

	stopMu     sync.Mutex
	stopReason *string       // set by the first StopTask
	stopWake   chan struct{} // capacity 1: wakes the loop after a StopTask
}

func newRecord(spec node.TaskSpec) record {
	st := node.TaskStatus{
		TaskID:       spec.TaskID,
		Status:       node.StatusProvisioning,
		Seq:          1,
		HealthStatus: node.HealthUnknown,
	}
	for _, c := range spec.Containers {
		cs := node.ContainerStatus{Name: c.Name, Status: node.StatusPending, RuntimeID: containerID(spec.TaskID, c.Name)}
		if c.HealthCheck != nil {
			cs.HealthStatus = node.HealthUnknown
		}
		st.Containers = append(st.Containers, cs)
	}
	return record{Spec: spec, Status: st}
}

func newTask(rec record, dir string) *task {
	return &task{
		id:       rec.Spec.TaskID,
		dir:      dir,
		rec:      rec,
		done:     make(chan struct{}),
		events:   make(chan event, 16),
		images:   make(map[string]containerd.Image),
		running:  make(map[string]*runningContainer),
		stopWake: make(chan struct{}, 1),
	}
}

// containerID is the containerd container ID of a task's container, also
// its RuntimeID (the "DockerId" of the metadata endpoint).
func containerID(taskID, name string) string { return taskID + "-" + name }

func (t *task) recordPath() string { return filepath.Join(t.dir, "task.json") }
func (t *task) logsDir() string    { return filepath.Join(t.dir, "logs") }
func (t *task) logPath(name string) string {
	return filepath.Join(t.logsDir(), name+".log")
}

// save writes task.json atomically (temp file, fsync, rename).
func (t *task) save() error {
	if err := os.MkdirAll(t.logsDir(), 0o700); err != nil {
		return err
	}
	return fsutil.WriteJSONAtomic(t.recordPath(), t.rec)
}

// loadRecords reads the task.json of every task dir.
func loadRecords(tasksDir string) ([]record, error) {
	entries, err := os.ReadDir(tasksDir)
	if err != nil {
		return nil, err
	}
	var out []record
	for _, e := range entries {
		path := filepath.Join(tasksDir, e.Name(), "task.json")
		b, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			continue // a removed task whose logs are kept
		}
		if err != nil {
			return nil, err
		}
		var rec record
		if err := json.Unmarshal(b, &rec); err != nil {
			return nil, fmt.Errorf("load %s: %w", path, err)
		}
		out = append(out, rec)
	}
	return out, nil
}

// requestStop records the first stop request and wakes the loop.
func (t *task) requestStop(reason string) {
	t.stopMu.Lock()
	if t.stopReason == nil {
		t.stopReason = &reason
	}
	t.stopMu.Unlock()
	select {
	case t.stopWake <- struct{}{}:
	default:
	}
}

// stopRequested returns the reason of the first StopTask, if any.
func (t *task) stopRequested() (string, bool) {
	t.stopMu.Lock()
	defer t.stopMu.Unlock()
	if t.stopReason == nil {
		return "", false
	}
	return *t.stopReason, true
}

// update applies change to the task's status, bumps Seq, persists the
// record and tells watchers. Only the task's loop calls it.
func (a *Agent) update(t *task, change func(r *record)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	change(&t.rec)
	t.rec.Status.Seq++
	t.rec.Status.HealthStatus = taskHealth(t.rec)
	if err := t.save(); err != nil {
		a.cfg.Logger.Error("save task state", "task", t.id, "err", err)
	}
	a.notifyLocked(t)
}

// snapshot returns a copy of the task's record.
func (a *Agent) snapshot(t *task) record {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := t.rec
	r.Status = cloneStatus(t.rec.Status)
	return r
}

// container returns the status of the named container of r.
func (r *record) container(name string) *node.ContainerStatus {
	for i := range r.Status.Containers {
		if r.Status.Containers[i].Name == name {
			return &r.Status.Containers[i]
		}
	}
	return nil
}

// containerSpec returns the spec of the named container.
func (r record) containerSpec(name string) node.ContainerSpec {
	for _, c := range r.Spec.Containers {
		if c.Name == name {
			return c
		}
	}
	return node.ContainerSpec{}
}

// taskHealth is ECS's task health: UNHEALTHY if an essential container is
// unhealthy, HEALTHY if every essential container with a health check is
// healthy, UNKNOWN otherwise (and when no essential container has a check).
func taskHealth(r record) string {
	checked, healthy := 0, 0
	for _, c := range r.Spec.Containers {
		if !c.Essential || c.HealthCheck == nil {
			continue
		}
		checked++
		switch r.container(c.Name).HealthStatus {
		case node.HealthUnhealthy:
			return node.HealthUnhealthy
		case node.HealthHealthy:
			healthy++
		}
	}
	if checked > 0 && healthy == checked {
		return node.HealthHealthy
	}
	return node.HealthUnknown
}

// cloneStatus deep-copies a status so callers cannot alias the agent's.
func cloneStatus(s node.TaskStatus) node.TaskStatus {
	s.Containers = slices.Clone(s.Containers)
	for i := range s.Containers {
		c := &s.Containers[i]
		c.NetworkBindings = slices.Clone(c.NetworkBindings)
		if c.ExitCode != nil {
			code := *c.ExitCode
			c.ExitCode = &code
		}
	}
	return s
}

// safeName matches task IDs and container names, which become file names,
// cgroup names and containerd IDs.
var safeName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

// validateSpec rejects specs the agent cannot run.
func validateSpec(spec node.TaskSpec) error {
	if !safeName.MatchString(spec.TaskID) || len(spec.Containers) == 0 {
		return fmt.Errorf("agent: task %q needs an ID of letters, digits, - and _, and at least one container", spec.TaskID)
	}
	switch spec.NetworkMode {
	case node.NetworkAWSVPC, node.NetworkBridge, node.NetworkHost, node.NetworkNone:
	default:
		return fmt.Errorf("agent: unknown network mode %q", spec.NetworkMode)
	}
	names := map[string]bool{}
	essential := false
	for _, c := range spec.Containers {
		if !safeName.MatchString(c.Name) || c.Image == "" {
			return fmt.Errorf("agent: container %q needs a name of letters, digits, - and _, and an image", c.Name)
		}
		if names[c.Name] {
			return fmt.Errorf("agent: duplicate container name %q", c.Name)
		}
		names[c.Name] = true
		essential = essential || c.Essential
	}
	if !essential {
		return errors.New("agent: a task needs at least one essential container")
	}
	checked := map[string]bool{}
	for _, c := range spec.Containers {
		checked[c.Name] = c.HealthCheck != nil
	}
	for _, c := range spec.Containers {
		for _, d := range c.DependsOn {
			if !names[d.ContainerName] || d.ContainerName == c.Name {
				return fmt.Errorf("agent: container %q depends on unknown container %q", c.Name, d.ContainerName)
			}
			if d.Condition == node.ConditionHealthy && !checked[d.ContainerName] {
				return fmt.Errorf("agent: container %q waits for %q to be HEALTHY, which has no health check", c.Name, d.ContainerName)
			}
		}
	}
	return nil
}
