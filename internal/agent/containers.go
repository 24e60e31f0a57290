package agent

import (
	"context"
	"fmt"
	"time"

	containerd "github.com/containerd/containerd"
	"github.com/containerd/containerd/cio"
	"github.com/containerd/containerd/errdefs"

	"github.com/kumo-project/kumo/internal/node"
)

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
