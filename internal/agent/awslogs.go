package agent

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/kumo-project/kumo/internal/agent/awslogs"
	"github.com/kumo-project/kumo/internal/fsutil"
	"github.com/kumo-project/kumo/internal/node"
)

// awslogsDriver is the logDriver value whose output the agent ships to
// CloudWatch Logs.
const awslogsDriver = "awslogs"

// shipment is what <task>/logs/<container>.awslogs.json holds while a
// container's output is not all delivered: enough to resume shipping
// after a restart, also once the task itself was removed (ECS removes a
// task from the node as soon as it stops). The shipper deletes it when
// done.
type shipment struct {
	TaskID    string
	Container string
	RuntimeID string
	Account   string
	Region    string
	Options   map[string]string
}

const shipmentSuffix = ".awslogs.json"

// shipLogs starts a shipper for each container of t that logs with
// awslogs (when the task is launched or resumed). a.mu must be held.
func (a *Agent) shipLogs(t *task) {
	if a.cfg.LogSink == nil {
		return
	}
	spec := t.rec.Spec
	for _, c := range spec.Containers {
		if c.Log.Driver != awslogsDriver {
			continue
		}
		sh := shipment{TaskID: t.id, Container: c.Name, RuntimeID: containerID(t.id, c.Name),
			Account: spec.AccountID, Region: spec.Region, Options: c.Log.Options}
		path := filepath.Join(t.logsDir(), c.Name+shipmentSuffix)
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			if err := fsutil.WriteJSONAtomic(path, sh); err != nil {
				a.cfg.Logger.Warn("awslogs: cannot record the shipment", "task", t.id, "container", c.Name, "err", err)
			}
		}
		a.startShipper(path, sh)
	}
}

// resumeShipments starts the shippers of shipments left unfinished by
// tasks the agent no longer knows (removed before their output was all
// delivered). a.mu must be held.
func (a *Agent) resumeShipments() {
	if a.cfg.LogSink == nil {
		return
	}
	paths, _ := filepath.Glob(filepath.Join(a.tasksDir(), "*", "logs", "*"+shipmentSuffix))
	for _, path := range paths {
		b, err := os.ReadFile(path)
		var sh shipment
		if err == nil {
			err = json.Unmarshal(b, &sh)
		}
		if err != nil {
			a.cfg.Logger.Warn("awslogs: unreadable shipment", "path", path, "err", err)
			continue
		}
		a.startShipper(path, sh)
	}
}

// startShipper runs the shipper of a shipment unless it runs already. The
// shipment file goes once everything is delivered. a.mu must be held.
func (a *Agent) startShipper(path string, sh shipment) {
	source := sh.TaskID + "/" + sh.Container
	if a.shippers[source] {
		return
	}
	cfg, err := a.shipperConfig(path, sh)
	if err != nil {
		a.cfg.Logger.Warn("awslogs: container output not shipped", "task", sh.TaskID, "container", sh.Container, "err", err)
		return
	}
	if a.shippers == nil {
		a.shippers = map[string]bool{}
	}
	a.shippers[source] = true
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		err := awslogs.Run(a.ctx, cfg)
		switch {
		case err == nil:
			os.Remove(path)
		case a.ctx.Err() == nil:
			a.cfg.Logger.Warn("awslogs: shipper stopped", "task", sh.TaskID, "container", sh.Container, "err", err)
		}
		a.mu.Lock()
		delete(a.shippers, source)
		a.mu.Unlock()
	}()
}

func (a *Agent) shipperConfig(path string, sh shipment) (awslogs.Config, error) {
	opts, err := awslogs.ParseOptions(sh.Options)
	if err != nil {
		return awslogs.Config{}, err
	}
	region := opts.Region
	if region == "" {
		region = sh.Region
	}
	return awslogs.Config{
		Path:   strings.TrimSuffix(path, shipmentSuffix) + ".log",
		Source: sh.TaskID + "/" + sh.Container,
		Dest: awslogs.Destination{
			Account: sh.Account, Region: region, Group: opts.Group,
			Stream: awslogs.StreamName(opts.StreamPrefix, sh.Container, sh.TaskID, sh.RuntimeID),
		},
		Options:  opts,
		Sink:     a.cfg.LogSink,
		Finished: func() bool { return a.containerFinished(sh.TaskID, sh.Container) },
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
