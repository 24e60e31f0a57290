package agent

import (
	"context"
	"fmt"
	"syscall"
	"time"

	containerd "github.com/containerd/containerd"
	"github.com/containerd/containerd/cio"
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

// startContainer creates and starts a container, or adopts it if a crash
// left it created or running.
func (a *Agent) startContainer(t *task, rec record, c node.ContainerSpec) error {
	id := containerID(t.id, c.Name)
	cont, err := a.client.LoadContainer(a.ctx, id)
	if errdefs.IsNotFound(err) {
		cont, err = a.createContainer(t, rec, c)
	}
	if err != nil {
		return err
	}
	tk, err := cont.Task(a.ctx, nil)
	if errdefs.IsNotFound(err) {
		tk, err = cont.NewTask(a.ctx, cio.BinaryIO(a.cfg.ExecutablePath, map[string]string{"log-driver": t.logPath(c.Name)}))
	}
	if err != nil {
		return err
	}
	status, err := tk.Status(a.ctx)
	if err != nil {
		return err
	}
	if err := a.watch(t, c.Name, tk); err != nil {
		return err
	}
	if status.Status == containerd.Created {
		if err := tk.Start(a.ctx); err != nil {
			t.running[c.Name].stop()
			delete(t.running, c.Name)
			_, _ = tk.Delete(a.ctx, containerd.WithProcessKill)
			return err
		}
	}
	a.update(t, func(r *record) {
		cs := r.container(c.Name)
		cs.Status, cs.StartedAt = node.StatusRunning, a.cfg.Clock.Now()
	})
	a.startHealthCheck(t, c)
	return nil
}

// createContainer creates the containerd container with its snapshot and
// OCI spec.
func (a *Agent) createContainer(t *task, rec record, c node.ContainerSpec) (containerd.Container, error) {
	img := t.images[c.Name]
	if img == nil {
		return nil, fmt.Errorf("image of container %s not pulled", c.Name)
	}
	imgSpec, err := img.Spec(a.ctx)
	if err != nil {
		return nil, err
	}
	opts, err := a.specOpts(t, rec, c, img, imgSpec.Config)
	if err != nil {
		return nil, err
	}
	id := containerID(t.id, c.Name)
	labels := containerLabels(rec.Spec, c)
	if sig := imgSpec.Config.StopSignal; sig != "" {
		labels[containerd.StopSignalLabel] = sig // docker stop honours the image's STOPSIGNAL; so does ECS
	}
	return a.client.NewContainer(a.ctx, id,
		containerd.WithImage(img),
		containerd.WithNewSnapshot(id, img),
		containerd.WithRuntime("io.containerd.runc.v2", nil),
		containerd.WithContainerLabels(labels),
		containerd.WithNewSpec(opts...))
}

// containerLabels are the Docker labels ECS puts on task containers.
func containerLabels(spec node.TaskSpec, c node.ContainerSpec) map[string]string {
	return map[string]string{
		"com.amazonaws.ecs.cluster":                 spec.ClusterARN,
		"com.amazonaws.ecs.container-name":          c.Name,
		"com.amazonaws.ecs.task-arn":                spec.TaskARN,
		"com.amazonaws.ecs.task-definition-family":  spec.Family,
		"com.amazonaws.ecs.task-definition-version": fmt.Sprint(spec.Revision),
	}
}

// reattach watches a container that was running before the agent restarted.
func (a *Agent) reattach(t *task, name string) {
	tk, err := a.loadTask(name, t)
	if err == nil {
		err = a.watch(t, name, tk)
	}
	if err != nil {
		a.cfg.Logger.Warn("container lost while kumo was down", "task", t.id, "container", name, "err", err)
		a.containerFailed(t, a.snapshot(t).containerSpec(name), "ContainerLost: "+err.Error())
		return
	}
	a.startHealthCheck(t, a.snapshot(t).containerSpec(name))
}

func (a *Agent) loadTask(name string, t *task) (containerd.Task, error) {
	cont, err := a.client.LoadContainer(a.ctx, containerID(t.id, name))
	if err != nil {
		return nil, err
	}
	return cont.Task(a.ctx, nil)
}

// watch waits for the container's exit and reports it to the task loop. A
// wait broken by a containerd restart is resumed: the shim keeps the exit
// status until the task is deleted.
func (a *Agent) watch(t *task, name string, tk containerd.Task) error {
	ctx, stop := context.WithCancel(a.ctx)
	exitCh, err := tk.Wait(ctx)
	if err != nil {
		stop()
		return err
	}
	t.running[name] = &runningContainer{task: tk, ctx: ctx, stop: stop}
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case st := <-exitCh:
				code, at, err := st.Result()
				if err == nil {
					t.send(ctx, event{kind: eventExited, container: name, exitCode: int(code), exitedAt: at.UTC()})
					return
				}
			}
			exitCh = a.rewait(ctx, tk)
		}
	}()
	return nil
}

// rewait calls Wait again until containerd answers or ctx ends.
func (a *Agent) rewait(ctx context.Context, tk containerd.Task) <-chan containerd.ExitStatus {
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
		if ch, err := tk.Wait(ctx); err == nil {
			return ch
		}
	}
	return nil
}

// containerExited records a container's exit, deletes its containerd task
// (freeing the shim) and stops the task if the container was essential.
func (a *Agent) containerExited(t *task, name string, code int, at time.Time) {
	rc, ok := t.running[name]
	if !ok {
		return
	}
	oom := a.cg.oomKilled(t.id, name)
	rc.stop()
	delete(t.running, name)
	if at.IsZero() {
		at = a.cfg.Clock.Now()
	}
	a.update(t, func(r *record) {
		cs := r.container(name)
		cs.Status, cs.ExitCode, cs.FinishedAt = node.StatusStopped, &code, at
		if oom {
			cs.Reason = reasonOOM
		}
	})
	if _, err := rc.task.Delete(a.ctx); err != nil && !errdefs.IsNotFound(err) {
		a.cfg.Logger.Warn("delete exited container task", "task", t.id, "container", name, "err", err)
	}
	if a.snapshot(t).containerSpec(name).Essential && !a.stopping(t) {
		a.beginStop(t, node.StopEssentialContainerExited, reasonEssentialExited)
	}
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
