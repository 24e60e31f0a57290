package agent

import (
	"github.com/kumo-project/kumo/internal/agent/awslogs"
	"github.com/kumo-project/kumo/internal/node"
)

// awslogsDriver is the logDriver value whose output the agent ships to
// CloudWatch Logs.
const awslogsDriver = "awslogs"

// shipLogs starts a shipper for each container of t that logs with
// awslogs. It runs when a task is launched and when a restarted agent
// resumes it; each shipper asks the sink where delivery stopped and ends
// once its container has exited and its output is delivered. a.mu must be
// held.
func (a *Agent) shipLogs(t *task) {
	if a.cfg.LogSink == nil {
		return
	}
	for _, c := range t.rec.Spec.Containers {
		if c.Log.Driver != awslogsDriver {
			continue
		}
		cfg, err := a.shipperConfig(t, c)
		if err != nil {
			a.cfg.Logger.Warn("awslogs: container output not shipped", "task", t.id, "container", c.Name, "err", err)
			continue
		}
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			if err := awslogs.Run(a.ctx, cfg); err != nil && a.ctx.Err() == nil {
				a.cfg.Logger.Warn("awslogs: shipper stopped", "task", t.id, "container", c.Name, "err", err)
			}
		}()
	}
}

func (a *Agent) shipperConfig(t *task, c node.ContainerSpec) (awslogs.Config, error) {
	opts, err := awslogs.ParseOptions(c.Log.Options)
	if err != nil {
		return awslogs.Config{}, err
	}
	spec := t.rec.Spec
	region := opts.Region
	if region == "" {
		region = spec.Region
	}
	return awslogs.Config{
		Path:   t.logPath(c.Name),
		Source: t.id + "/" + c.Name,
		Dest: awslogs.Destination{
			Account: spec.AccountID, Region: region, Group: opts.Group,
			Stream: awslogs.StreamName(opts.StreamPrefix, c.Name, t.id, containerID(t.id, c.Name)),
		},
		Options:  opts,
		Sink:     a.cfg.LogSink,
		Finished: func() bool { return a.containerFinished(t.id, c.Name) },
		Clock:    a.cfg.Clock,
		Logger:   a.cfg.Logger,
	}, nil
}

// containerFinished reports whether a container has stopped for good (or
// its task is gone).
func (a *Agent) containerFinished(taskID, name string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	t, ok := a.tasks[taskID]
	if !ok {
		return true
	}
	cs := t.rec.container(name)
	return cs == nil || cs.Status == node.StatusStopped
}
