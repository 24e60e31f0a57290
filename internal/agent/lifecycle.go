package agent

import (
	"context"
	"fmt"
	"syscall"
	"time"

	containerd "github.com/containerd/containerd"
	"github.com/containerd/containerd/errdefs"

	"github.com/kumo-project/kumo/internal/node"
)

// defaultStopTimeout is how long a container gets between SIGTERM and
// SIGKILL unless its definition says otherwise (as in ECS).
const defaultStopTimeout = 30 * time.Second

// Container and task reasons ECS reports.
const (
	reasonEssentialExited = "Essential container in task exited"
	reasonOOM             = "OutOfMemoryError: Container killed due to memory usage"
)

// eventKind says what happened to a container.
type eventKind int

const (
	eventExited  eventKind = iota // the container's process ended
	eventHealth                   // the container's health status changed
	eventKillDue                  // the container's stop timeout passed
)

// event is something the task loop reacts to.
type event struct {
	kind      eventKind
	container string
	exitCode  int
	exitedAt  time.Time
	health    string
}

// runningContainer is a started container the task loop watches.
type runningContainer struct {
	task containerd.Task
	ctx  context.Context // ends when the container is forgotten or the agent closes
	stop context.CancelFunc
}

// send delivers an event to the task loop unless the sender's container is
// no longer watched.
func (t *task) send(ctx context.Context, ev event) {
	select {
	case t.events <- ev:
	case <-ctx.Done():
	}
}

// runTask drives one task from wherever its record says it is to STOPPED.
// It returns early, leaving containers running, when the agent closes.
func (a *Agent) runTask(t *task) {
	defer close(t.done)
	defer a.stopMetadata(t)
	switch a.snapshot(t).Status.Status {
	case node.StatusStopped:
		return
	case node.StatusDeprovisioning:
		a.finish(t)
		return
	}
	if !a.prepare(t) {
		if a.ctx.Err() == nil {
			a.finish(t)
		}
		return
	}
	if a.supervise(t) {
		a.finish(t)
	}
}

// prepare sets up the task's sandbox (network, cgroup, metadata endpoint)
// and pulls the images of containers still to start; after a restart it
// re-adopts what exists. It returns false if the task failed to start
// (already marked so) or the agent is closing.
func (a *Agent) prepare(t *task) bool {
	rec := a.snapshot(t)
	// Once containers run, their namespace exists; a failure to re-adopt
	// the rest of the sandbox must not mark live containers stopped.
	started := rec.Status.Status != node.StatusProvisioning && rec.Status.Status != node.StatusPending
	sb, err := a.cfg.Network.Setup(a.ctx, t.id, rec.Spec.NetworkMode, allPorts(rec.Spec))
	if err == nil {
		err = a.cg.createTask(t.id, rec.Spec.CPU, rec.Spec.MemoryMB)
	}
	switch {
	case err != nil && started:
		a.cfg.Logger.Warn("re-adopt task sandbox", "task", t.id, "err", err)
	case err != nil:
		a.failStart(t, "ResourceInitializationError: "+err.Error(), nil)
		return false
	default:
		a.update(t, func(r *record) {
			r.Sandbox = sb
			r.Status.PrivateIPv4, r.Status.MACAddress = sb.IPv4, sb.MAC
			for i, c := range r.Spec.Containers {
				r.Status.Containers[i].NetworkBindings = bindingsOf(c, sb.Bindings)
			}
		})
		a.serveMetadata(t, sb)
	}
	if rec.Status.Status == node.StatusProvisioning {
		a.update(t, func(r *record) {
			r.Status.Status = node.StatusPending
			r.Status.PullStartedAt = a.cfg.Clock.Now()
		})
	}
	return a.pullImages(t)
}

// pullImages makes sure the images of the containers still to start are
// present. A failed pull fails the task with CannotPullContainerError.
func (a *Agent) pullImages(t *task) bool {
	rec := a.snapshot(t)
	for _, c := range rec.Spec.Containers {
		if _, stopping := t.stopRequested(); stopping || a.stopping(t) {
			return true // supervise stops the task before starting anything
		}
		if rec.container(c.Name).Status != node.StatusPending {
			continue
		}
		img, err := a.ensureImage(a.ctx, c.Image)
		if a.ctx.Err() != nil {
			return false
		}
		if err != nil {
			reason := pullError(c.Image, err)
			a.failStart(t, reason, map[string]string{c.Name: reason})
			return false
		}
		t.images[c.Name] = img
	}
	a.update(t, func(r *record) {
		if r.Status.PullStoppedAt.IsZero() {
			r.Status.PullStoppedAt = a.cfg.Clock.Now()
		}
		for name, img := range t.images {
			r.container(name).ImageDigest = img.Target().Digest.String()
		}
	})
	return true
}

// failStart marks a task that could not start as stopping with
// TaskFailedToStart; containers get the reasons given for them.
func (a *Agent) failStart(t *task, reason string, containerReasons map[string]string) {
	now := a.cfg.Clock.Now()
	a.update(t, func(r *record) {
		r.Status.Status = node.StatusStopping
		r.Status.StoppingAt = now
		r.Status.StopCode = node.StopTaskFailedToStart
		r.Status.StoppedReason = reason
		for i := range r.Status.Containers {
			c := &r.Status.Containers[i]
			if c.Status != node.StatusStopped {
				c.Status = node.StatusStopped
				c.Reason = containerReasons[c.Name]
			}
		}
	})
}

// supervise starts the containers in dependency order and reacts to their
// exits, health changes and stop requests until every container stopped
// (true) or the agent closes (false).
func (a *Agent) supervise(t *task) bool {
	rec := a.snapshot(t)
	for _, c := range rec.Status.Containers {
		if c.Status == node.StatusRunning {
			a.reattach(t, c.Name)
		}
	}
	if rec.Status.Status == node.StatusStopping {
		a.signalStop(t)
	}
	for {
		if reason, ok := t.stopRequested(); ok && !a.stopping(t) {
			if reason == "" {
				reason = "Task stopped by user"
			}
			a.beginStop(t, node.StopUserInitiated, reason)
		}
		if !a.stopping(t) {
			a.startReady(t)
		}
		if a.allStopped(t) {
			if !a.stopping(t) {
				a.beginStop(t, node.StopEssentialContainerExited, reasonEssentialExited)
			}
			return true
		}
		select {
		case ev := <-t.events:
			a.handle(t, ev)
		case <-t.stopWake:
		case <-a.ctx.Done():
			for _, rc := range t.running {
				rc.stop()
			}
			return false
		}
	}
}

// handle applies one container event.
func (a *Agent) handle(t *task, ev event) {
	switch ev.kind {
	case eventExited:
		a.containerExited(t, ev.container, ev.exitCode, ev.exitedAt)
	case eventHealth:
		if _, ok := t.running[ev.container]; ok { // else a late probe of an exited container
			a.update(t, func(r *record) { r.container(ev.container).HealthStatus = ev.health })
		}
	case eventKillDue:
		if rc, ok := t.running[ev.container]; ok {
			_ = rc.task.Kill(a.ctx, syscall.SIGKILL, containerd.WithKillAll)
		}
	}
}

// stopping reports whether the task is on its way to STOPPED (or there).
func (a *Agent) stopping(t *task) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return t.rec.Status.Status != node.StatusPending && t.rec.Status.Status != node.StatusRunning &&
		t.rec.Status.Status != node.StatusProvisioning
}

// allStopped reports whether no container of the task runs or will run.
func (a *Agent) allStopped(t *task) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, c := range t.rec.Status.Containers {
		if c.Status != node.StatusStopped {
			return false
		}
	}
	return true
}

// startReady starts every pending container whose dependencies are met,
// marks those whose dependencies can no longer be met as stopped, and
// moves the task to RUNNING once every essential container has started.
func (a *Agent) startReady(t *task) {
	for progress := true; progress && !a.stopping(t); {
		progress = false
		rec := a.snapshot(t)
		for _, c := range rec.Spec.Containers {
			if rec.container(c.Name).Status != node.StatusPending {
				continue
			}
			ready, unmet := dependenciesMet(rec, c)
			switch {
			case unmet != "":
				a.containerFailed(t, c, "DependencyConditionNotMet: "+unmet)
				progress = true
			case ready:
				if err := a.startContainer(t, rec, c); err != nil {
					if a.ctx.Err() != nil {
						return
					}
					a.containerFailed(t, c, "CannotStartContainerError: "+err.Error())
				}
				progress = true
			}
			if progress {
				break // re-read the record: the world changed
			}
		}
	}
	if rec := a.snapshot(t); rec.Status.Status == node.StatusPending && essentialsStarted(rec) {
		a.update(t, func(r *record) {
			r.Status.Status = node.StatusRunning
			r.Status.StartedAt = a.cfg.Clock.Now()
		})
	}
}

// essentialsStarted reports whether every essential container has started.
func essentialsStarted(rec record) bool {
	for _, c := range rec.Spec.Containers {
		if c.Essential && rec.container(c.Name).StartedAt.IsZero() {
			return false
		}
	}
	return true
}

// dependenciesMet reports whether c may start, or why it never will.
func dependenciesMet(rec record, c node.ContainerSpec) (ready bool, unmet string) {
	ready = true
	for _, d := range c.DependsOn {
		dep := rec.container(d.ContainerName)
		exited := dep.Status == node.StatusStopped && dep.ExitCode != nil
		neverRan := dep.Status == node.StatusStopped && dep.ExitCode == nil
		switch d.Condition {
		case node.ConditionStart:
			ready = ready && !dep.StartedAt.IsZero()
			if neverRan && dep.StartedAt.IsZero() {
				return false, fmt.Sprintf("container %s never started (dependency of %s)", dep.Name, c.Name)
			}
		case node.ConditionComplete:
			ready = ready && exited
			if neverRan {
				return false, fmt.Sprintf("container %s never ran (COMPLETE dependency of %s)", dep.Name, c.Name)
			}
		case node.ConditionSuccess:
			ready = ready && exited && *dep.ExitCode == 0
			if neverRan || (exited && *dep.ExitCode != 0) {
				return false, fmt.Sprintf("container %s did not exit successfully (SUCCESS dependency of %s)", dep.Name, c.Name)
			}
		case node.ConditionHealthy:
			ready = ready && dep.Status == node.StatusRunning && dep.HealthStatus == node.HealthHealthy
			if dep.Status == node.StatusStopped {
				return false, fmt.Sprintf("container %s stopped before it was healthy (HEALTHY dependency of %s)", dep.Name, c.Name)
			}
		default:
			return false, fmt.Sprintf("unknown dependency condition %q", d.Condition)
		}
	}
	return ready, ""
}

// containerFailed marks a container that will never run as stopped; if it
// is essential, the task stops.
func (a *Agent) containerFailed(t *task, c node.ContainerSpec, reason string) {
	a.update(t, func(r *record) {
		cs := r.container(c.Name)
		cs.Status, cs.Reason = node.StatusStopped, reason
	})
	if c.Essential {
		code := node.StopEssentialContainerExited
		if !a.startedOnce(t) {
			code = node.StopTaskFailedToStart
		}
		a.beginStop(t, code, reason)
	}
}

// startedOnce reports whether the task reached RUNNING.
func (a *Agent) startedOnce(t *task) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return !t.rec.Status.StartedAt.IsZero()
}

// beginStop moves the task to STOPPING and signals its containers.
func (a *Agent) beginStop(t *task, code, reason string) {
	now := a.cfg.Clock.Now()
	a.update(t, func(r *record) {
		r.Status.Status = node.StatusStopping
		r.Status.StoppingAt = now
		r.Status.StopCode, r.Status.StoppedReason = code, reason
		for i := range r.Status.Containers {
			if c := &r.Status.Containers[i]; c.Status == node.StatusPending {
				c.Status = node.StatusStopped
			}
		}
	})
	a.signalStop(t)
}

// signalStop sends its stop signal (the image's STOPSIGNAL, else SIGTERM)
// to every running container and schedules its SIGKILL after its stop
// timeout.
func (a *Agent) signalStop(t *task) {
	rec := a.snapshot(t)
	for name, rc := range t.running {
		sig := syscall.SIGTERM
		if cont, err := a.client.LoadContainer(a.ctx, containerID(t.id, name)); err == nil {
			sig, _ = containerd.GetStopSignal(a.ctx, cont, syscall.SIGTERM)
		}
		if err := rc.task.Kill(a.ctx, sig); err != nil && !errdefs.IsNotFound(err) {
			a.cfg.Logger.Warn("stop container", "task", t.id, "container", name, "err", err)
		}
		timeout := rec.containerSpec(name).StopTimeout
		if timeout <= 0 {
			timeout = defaultStopTimeout
		}
		go func() {
			select {
			case <-a.cfg.Clock.After(timeout):
				t.send(rc.ctx, event{kind: eventKillDue, container: name})
			case <-rc.ctx.Done():
			}
		}()
	}
}

// finish releases the task's sandbox and marks it STOPPED.
func (a *Agent) finish(t *task) {
	now := a.cfg.Clock.Now()
	a.update(t, func(r *record) {
		if r.Status.StoppingAt.IsZero() {
			r.Status.StoppingAt = now
		}
		r.Status.Status = node.StatusDeprovisioning
		if r.Status.ExecutionStoppedAt.IsZero() {
			r.Status.ExecutionStoppedAt = latest(r.Status.Containers)
		}
		if r.Status.ExecutionStoppedAt.IsZero() {
			r.Status.ExecutionStoppedAt = now
		}
	})
	a.stopMetadata(t)
	if err := a.cfg.Network.Teardown(a.ctx, t.id); err != nil {
		a.cfg.Logger.Warn("tear down task network", "task", t.id, "err", err)
	}
	if err := a.cg.removeTask(t.id); err != nil {
		a.cfg.Logger.Warn("remove task cgroup", "task", t.id, "err", err)
	}
	a.update(t, func(r *record) {
		r.Status.Status = node.StatusStopped
		r.Status.StoppedAt = a.cfg.Clock.Now()
	})
}

// latest returns the last FinishedAt of the containers.
func latest(cs []node.ContainerStatus) time.Time {
	var t time.Time
	for _, c := range cs {
		if c.FinishedAt.After(t) {
			t = c.FinishedAt
		}
	}
	return t
}

// allPorts collects the port mappings of every container.
func allPorts(spec node.TaskSpec) []node.PortMapping {
	var ports []node.PortMapping
	for _, c := range spec.Containers {
		ports = append(ports, c.PortMappings...)
	}
	return ports
}

// bindingsOf picks the bindings of the container's own ports.
func bindingsOf(c node.ContainerSpec, all []node.NetworkBinding) []node.NetworkBinding {
	var out []node.NetworkBinding
	for _, b := range all {
		for _, p := range c.PortMappings {
			proto := p.Protocol
			if proto == "" {
				proto = "tcp"
			}
			if b.ContainerPort == p.ContainerPort && b.Protocol == proto {
				out = append(out, b)
			}
		}
	}
	return out
}
