package ecs

import (
	"context"
	"errors"
	"time"

	"github.com/kumo-project/kumo/internal/node"
	"github.com/kumo-project/kumo/internal/protocol"
	"github.com/kumo-project/kumo/internal/store"
	"github.com/kumo-project/kumo/internal/wire/ecswire"
)

// serviceInterval bounds how long the scheduler waits without a nudge; it
// also paces how often target health is read.
const serviceInterval = time.Second

// maxDrain ends a drain that ELBv2 never reports finished: ECS's largest
// deregistration delay.
const maxDrain = time.Hour

// errServiceChanged means the service changed while the scheduler decided.
var errServiceChanged = errors.New("service changed meanwhile")

// serviceLoop runs the service scheduler until ctx ends.
func (s *Service) serviceLoop(ctx context.Context) {
	ticker := s.clock.NewTicker(serviceInterval)
	defer ticker.Stop()
	for {
		s.moveTargets(ctx)
		s.reconcileServices(ctx)
		select {
		case <-ctx.Done():
			return
		case <-s.serviceWake:
		case <-ticker.C():
		}
	}
}

// reconcileServices runs one scheduling pass over every service that is
// not INACTIVE.
func (s *Service) reconcileServices(ctx context.Context) {
	var keys []string
	err := s.store.View(func(tx *store.Tx) error {
		return tx.Scan(tableServices, "", "", func(key string, _ []byte) (bool, error) {
			keys = append(keys, key)
			return true, nil
		})
	})
	if err != nil {
		s.log.Error("list services", "error", err)
		return
	}
	for _, key := range keys {
		if ctx.Err() != nil {
			return
		}
		err := s.reconcileService(ctx, key)
		switch {
		case errors.Is(err, errServiceChanged):
			s.nudgeServices() // decide again on what changed, without waiting for a tick
		case err != nil:
			s.log.Error("schedule service", "service", key, "error", err)
		}
	}
}

// reconcileService reads one service and its tasks, decides, and applies.
func (s *Service) reconcileService(ctx context.Context, key string) error {
	rec, tasks, err := s.readService(key)
	if err != nil || rec.Service.Status == serviceInactive {
		return err
	}
	snap := serviceSnapshot{rec: rec, now: s.clock.Now()}
	for _, t := range tasks {
		snap.tasks = append(snap.tasks, s.schedulerView(ctx, t))
	}
	plan := decideService(snap)
	if !plan.changed && len(plan.start) == 0 && len(plan.stop) == 0 {
		return nil
	}
	if err := s.applyServicePlan(key, rec.Rev, plan); err != nil {
		return err
	}
	s.nudge()
	if len(plan.start) > 0 || len(plan.stop) > 0 {
		s.nudgeServices() // take the next step without waiting for a tick
	}
	return nil
}

// readService reads a service and the tasks its pass decides on (see
// serviceTasks).
func (s *Service) readService(key string) (serviceRecord, []taskRecord, error) {
	var rec serviceRecord
	var tasks []taskRecord
	err := s.store.View(func(tx *store.Tx) error {
		var ok bool
		var err error
		rec, ok, err = store.Get[serviceRecord](tx, tableServices, key)
		if err != nil || !ok || rec.Service.Status == serviceInactive {
			return err
		}
		tasks, err = serviceTasks(tx, rec)
		return err
	})
	return rec, tasks, err
}

// schedulerView turns a stored task into what decideService reads,
// asking the target groups how they see it.
func (s *Service) schedulerView(ctx context.Context, r taskRecord) serviceTask {
	t := r.Task
	st := serviceTask{
		id:            r.Spec.TaskID,
		deploymentID:  t.StartedBy,
		lastStatus:    t.LastStatus,
		desiredStatus: t.DesiredStatus,
		stopCode:      t.StopCode,
		stoppedReason: t.StoppedReason,
		health:        t.HealthStatus,
		startedAt:     protocol.TimeOf(t.StartedAt),
	}
	for _, c := range t.Containers {
		st.hasHealthCheck = st.hasHealthCheck || c.HealthStatus != ""
	}
	if r.Registered && !r.Draining && t.LastStatus == node.StatusRunning {
		st.targets = s.readTargetHealth(ctx, r)
	}
	return st
}

func (s *Service) readTargetHealth(ctx context.Context, r taskRecord) []taskTarget {
	var out []taskTarget
	for _, lb := range r.LoadBalancers {
		target, ok := targetOf(r, lb)
		if !ok {
			continue
		}
		tt := taskTarget{targetGroupARN: lb.TargetGroupArn, port: int(deref(lb.ContainerPort, 0)), state: "unavailable"}
		health, err := s.lbs.TargetHealth(ctx, lb.TargetGroupArn, []Target{target})
		if err != nil {
			s.log.Warn("read target health", "targetGroup", lb.TargetGroupArn, "error", err)
		}
		for _, h := range health {
			if h.Target == target {
				tt.state, tt.reason, tt.description = h.State, h.Reason, h.Description
			}
		}
		out = append(out, tt)
	}
	return out
}

// applyServicePlan writes the plan in one transaction, unless the service
// changed since it was read.
func (s *Service) applyServicePlan(key string, rev uint64, plan servicePlan) error {
	now := s.clock.Now()
	return s.store.Update(func(tx *store.Tx) error {
		cur, ok, err := store.Get[serviceRecord](tx, tableServices, key)
		if err != nil {
			return err
		}
		if !ok || cur.Rev != rev {
			return errServiceChanged
		}
		rec := plan.rec
		rec.Service.Tags = cur.Service.Tags // tags are edited without a revision
		for _, stop := range plan.stop {
			if err := stopServiceTask(tx, stop, now); err != nil {
				return err
			}
		}
		for _, start := range plan.start {
			if err := s.startServiceTasks(tx, &rec, start, now); err != nil {
				return err
			}
		}
		rec.Rev++
		return tx.Put(tableServices, key, rec)
	})
}

// stopServiceTask asks a task to stop. A task in target groups first
// drains (DEACTIVATING); the runner stops it once the scheduler is done.
func stopServiceTask(tx *store.Tx, stop taskStop, now time.Time) error {
	key, ok, err := store.Get[string](tx, tableTaskIndex, stop.taskID)
	if err != nil || !ok {
		return err
	}
	rec, ok, err := store.Get[taskRecord](tx, tableTasks, key)
	if err != nil || !ok || rec.Task.DesiredStatus == "STOPPED" {
		return err
	}
	t := &rec.Task
	t.DesiredStatus = "STOPPED"
	t.StopCode = node.StopServiceSchedulerInitiated
	t.StoppedReason = stop.reason
	t.Version++
	if rec.Registered {
		rec.Draining = true
		if t.LastStatus == node.StatusRunning {
			t.LastStatus = statusDeactivating
		}
	}
	return tx.Put(tableTasks, key, rec)
}

// startServiceTasks creates a deployment's new tasks, as RunTask would
// with the service's settings, and reports them in an event.
func (s *Service) startServiceTasks(tx *store.Tx, rec *serviceRecord, start taskStart, now time.Time) error {
	var dep *ecswire.Deployment
	for i := range rec.Service.Deployments {
		if rec.Service.Deployments[i].Id == start.deploymentID {
			dep = &rec.Service.Deployments[i]
		}
	}
	if dep == nil {
		return nil
	}
	sc := rec.scope()
	svc := rec.Service
	cluster, err := activeCluster(tx, sc, svc.ClusterArn)
	if err != nil {
		return err
	}
	td, err := findTaskDef(tx, sc, dep.TaskDefinition)
	if err != nil {
		return err
	}
	in := &ecswire.RunTaskRequest{
		Cluster: svc.ClusterArn, TaskDefinition: dep.TaskDefinition, LaunchType: svc.LaunchType,
		NetworkConfiguration: dep.NetworkConfiguration, StartedBy: dep.Id, Group: serviceGroup(svc.ServiceName),
		EnableExecuteCommand: svc.EnableExecuteCommand, PropagateTags: svc.PropagateTags,
	}
	if svc.PropagateTags == "SERVICE" {
		in.Tags = svc.Tags
	}
	plan, err := planRun(in, td)
	if err != nil {
		return err
	}
	var ids []string
	for i := 0; i < start.count; i++ {
		task := s.newTask(sc, cluster.Cluster, plan, in, td.Tags)
		task.LoadBalancers = svc.LoadBalancers
		taskKey := sc.key(cluster.Cluster.ClusterName, task.Spec.TaskID)
		if err := tx.Put(tableTasks, taskKey, task); err != nil {
			return err
		}
		if err := tx.Put(tableTaskIndex, task.Spec.TaskID, taskKey); err != nil {
			return err
		}
		ids = append(ids, task.Spec.TaskID)
	}
	addEvent(rec, now, "has started %d tasks: %s.", len(ids), taskList(ids))
	rec.Steady = false
	return nil
}
