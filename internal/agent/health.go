package agent

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	containerd "github.com/containerd/containerd"
	"github.com/containerd/containerd/cio"

	"github.com/kumo-project/kumo/internal/node"
)

// Health check defaults, as in ECS.
const (
	defaultHealthInterval = 30 * time.Second
	defaultHealthTimeout  = 5 * time.Second
	defaultHealthRetries  = 3
)

// execSeq makes exec IDs unique within the agent.
var execSeq atomic.Uint64

// healthArgv turns an ECS health check command into an argv.
func healthArgv(command []string) ([]string, error) {
	if len(command) < 2 {
		return nil, fmt.Errorf("health check command %q: want [CMD, args...] or [CMD-SHELL, command]", command)
	}
	switch command[0] {
	case "CMD":
		return command[1:], nil
	case "CMD-SHELL":
		return []string{"/bin/sh", "-c", command[1]}, nil
	}
	return nil, fmt.Errorf("health check command %q: must start with CMD or CMD-SHELL", command)
}

// startHealthCheck runs the container's health check, if it has one, until
// the container stops being watched.
func (a *Agent) startHealthCheck(t *task, c node.ContainerSpec) {
	rc, ok := t.running[c.Name]
	if !ok || c.HealthCheck == nil {
		return
	}
	hc := *c.HealthCheck
	if hc.Interval <= 0 {
		hc.Interval = defaultHealthInterval
	}
	if hc.Timeout <= 0 {
		hc.Timeout = defaultHealthTimeout
	}
	if hc.Retries <= 0 {
		hc.Retries = defaultHealthRetries
	}
	rec := a.snapshot(t)
	startedAt := rec.container(c.Name).StartedAt
	go a.runHealthCheck(t, c.Name, rc, hc, startedAt)
}

// runHealthCheck probes every Interval; one success makes the container
// HEALTHY, Retries consecutive failures after StartPeriod make it
// UNHEALTHY. Only changes are reported.
func (a *Agent) runHealthCheck(t *task, name string, rc *runningContainer, hc node.HealthCheck, startedAt time.Time) {
	argv, argErr := healthArgv(hc.Command)
	status, failures := "", 0
	ticker := a.cfg.Clock.NewTicker(hc.Interval)
	defer ticker.Stop()
	for {
		select {
		case <-rc.ctx.Done():
			return
		case <-ticker.C():
		}
		err := argErr
		if err == nil {
			err = a.probe(rc, argv, hc.Timeout)
		}
		next := status
		switch {
		case err == nil:
			failures, next = 0, node.HealthHealthy
		case a.cfg.Clock.Now().Before(startedAt.Add(hc.StartPeriod)):
			// failures during the start period do not count
		default:
			failures++
			if failures >= hc.Retries {
				next = node.HealthUnhealthy
			}
		}
		if next != status {
			status = next
			t.send(rc.ctx, event{kind: eventHealth, container: name, health: status})
		}
	}
}

// probe runs argv in the container and fails unless it exits 0 within
// timeout.
func (a *Agent) probe(rc *runningContainer, argv []string, timeout time.Duration) error {
	spec, err := rc.task.Spec(rc.ctx)
	if err != nil {
		return err
	}
	pspec := *spec.Process
	pspec.Args, pspec.Terminal = argv, false
	id := fmt.Sprintf("health-%d", execSeq.Add(1))
	// The command gets real stdout and stderr (a closed stdout makes many
	// programs fail); the tail of what it printed explains a failure.
	out := &tailBuffer{max: 4096}
	p, err := rc.task.Exec(rc.ctx, id, &pspec, cio.NewCreator(cio.WithStreams(nil, out, out)))
	if err != nil {
		return err
	}
	defer p.Delete(context.WithoutCancel(rc.ctx), containerd.WithProcessKill)
	exitCh, err := p.Wait(rc.ctx)
	if err != nil {
		return err
	}
	if err := p.Start(rc.ctx); err != nil {
		return err
	}
	select {
	case st := <-exitCh:
		code, _, err := st.Result()
		if err != nil {
			return err
		}
		if code != 0 {
			return fmt.Errorf("health check exited %d: %s", code, out.String())
		}
		return nil
	case <-a.cfg.Clock.After(timeout):
		_ = p.Kill(rc.ctx, syscall.SIGKILL)
		return fmt.Errorf("health check timed out after %s", timeout)
	case <-rc.ctx.Done():
		return rc.ctx.Err()
	}
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > b.max {
		b.buf = b.buf[len(b.buf)-b.max:]
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
