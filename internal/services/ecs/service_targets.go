package ecs

import (
	"context"
	"time"

	"github.com/kumo-project/kumo/internal/node"
	"github.com/kumo-project/kumo/internal/store"
	"github.com/kumo-project/kumo/internal/wire/ecswire"
)

// targetAction is what the scheduler does about one task's target groups.
type targetAction int

const (
	targetNone       targetAction = iota
	targetRegister                // ACTIVATING: join the target groups, then RUNNING
	targetDeregister              // DEACTIVATING: leave them and start draining
	targetDrained                 // draining is over: let the runner stop the task
	targetForget                  // the task stopped without draining: leave at once
)

// decideTarget is the scheduler's pure decision about a task's target
// groups. draining tells whether any target group still drains it.
func decideTarget(r taskRecord, draining bool, now time.Time) targetAction {
	if len(r.LoadBalancers) == 0 {
		return targetNone
	}
	t := r.Task
	switch {
	case r.Draining && r.DrainStartedAt.IsZero():
		return targetDeregister
	case r.Draining && (!draining || now.Sub(r.DrainStartedAt) > maxDrain):
		return targetDrained
	case r.Draining:
		return targetNone
	case r.Registered && t.DesiredStatus == "STOPPED":
		return targetForget
	case !r.Registered && t.LastStatus == statusActivating && t.DesiredStatus == "RUNNING":
		return targetRegister
	}
	return targetNone
}

// moveTargets registers tasks that became RUNNING in their target groups
// and deregisters tasks about to stop, waiting out the drain.
func (s *Service) moveTargets(ctx context.Context) {
	if s.lbs == nil {
		return
	}
	var tasks []taskRecord
	err := s.store.View(func(tx *store.Tx) error {
		var err error
		tasks, err = listWork[taskRecord](tx, workTargets)
		return err
	})
	if err != nil {
		s.log.Error("read tasks", "error", err)
		return
	}
	now := s.clock.Now()
	for _, r := range tasks {
		draining := r.Draining && !r.DrainStartedAt.IsZero() && s.stillDraining(ctx, r)
		switch decideTarget(r, draining, now) {
		case targetRegister:
			s.registerTargets(ctx, r)
		case targetDeregister:
			s.deregisterTargets(ctx, r, true)
		case targetDrained:
			s.updateTask(r.Spec.TaskID, func(t *taskRecord) bool {
				t.Draining, t.Registered = false, false
				return true
			})
			s.nudge()
		case targetForget:
			s.deregisterTargets(ctx, r, false)
		}
	}
}

func (s *Service) registerTargets(ctx context.Context, r taskRecord) {
	for _, lb := range r.LoadBalancers {
		target, ok := targetOf(r, lb)
		if !ok {
			s.log.Warn("task has no address for its target group yet", "task", r.Spec.TaskID)
			return
		}
		if err := s.lbs.RegisterTargets(ctx, lb.TargetGroupArn, []Target{target}); err != nil {
			s.log.Error("register target", "task", r.Spec.TaskID, "targetGroup", lb.TargetGroupArn, "error", err)
			return
		}
	}
	s.updateTask(r.Spec.TaskID, func(t *taskRecord) bool {
		t.Registered = true
		if t.Task.LastStatus == statusActivating {
			t.Task.LastStatus = node.StatusRunning
			t.Task.Version++
		}
		return true
	})
	s.targetEvent(r, "registered", false)
	s.nudgeServices()
}

// deregisterTargets takes a task out of its target groups; with drain the
// task then waits for the groups' deregistration delay.
func (s *Service) deregisterTargets(ctx context.Context, r taskRecord, drain bool) {
	for _, lb := range r.LoadBalancers {
		target, ok := targetOf(r, lb)
		if !ok {
			continue
		}
		if err := s.lbs.DeregisterTargets(ctx, lb.TargetGroupArn, []Target{target}); err != nil {
			s.log.Error("deregister target", "task", r.Spec.TaskID, "targetGroup", lb.TargetGroupArn, "error", err)
			return
		}
	}
	now := s.clock.Now()
	s.updateTask(r.Spec.TaskID, func(t *taskRecord) bool {
		if drain {
			t.DrainStartedAt = now
		} else {
			t.Registered = false
		}
		return true
	})
	s.targetEvent(r, "deregistered", drain)
}

// stillDraining tells whether any target group still drains the task.
func (s *Service) stillDraining(ctx context.Context, r taskRecord) bool {
	for _, lb := range r.LoadBalancers {
		target, ok := targetOf(r, lb)
		if !ok {
			continue
		}
		health, err := s.lbs.TargetHealth(ctx, lb.TargetGroupArn, []Target{target})
		if err != nil {
			continue // a deleted target group drains nothing
		}
		for _, h := range health {
			if h.Target == target && h.State == targetDraining {
				return true
			}
		}
	}
	return false
}

// targetEvent adds ECS's events for a target change to the task's
// service; draining says the task now drains its connections.
func (s *Service) targetEvent(r taskRecord, verb string, draining bool) {
	name, ok := cutPrefix(r.Task.Group, "service:")
	if !ok {
		return
	}
	sc := scope{account: r.Spec.AccountID, region: r.Spec.Region}
	key := sc.key(clusterName(r.Task.ClusterArn), name)
	err := s.store.Update(func(tx *store.Tx) error {
		rec, ok, err := store.Get[serviceRecord](tx, tableServices, key)
		if err != nil || !ok {
			return err
		}
		if draining {
			addEvent(&rec, s.clock.Now(), "has begun draining connections on 1 tasks.")
		}
		for _, lb := range r.LoadBalancers {
			addEvent(&rec, s.clock.Now(), "%s 1 targets in (target-group %s)", verb, lb.TargetGroupArn)
		}
		rec.Rev++
		return tx.Put(tableServices, key, rec)
	})
	if err != nil {
		s.log.Error("add service event", "service", key, "error", err)
	}
}

// targetOf is where a load balancer reaches a task's container port: the
// task's own IP in awsvpc mode, the node's loopback and the published port
// in bridge and host modes.
func targetOf(r taskRecord, lb ecswire.LoadBalancer) (Target, bool) {
	port := int(deref(lb.ContainerPort, 0))
	switch r.Spec.NetworkMode {
	case node.NetworkAWSVPC:
		for _, a := range r.Task.Attachments {
			for _, d := range a.Details {
				if ip := deref(d.Value, ""); d.Name == "privateIPv4Address" && ip != "" {
					return Target{ID: ip, Port: port}, true
				}
			}
		}
	case node.NetworkHost:
		return Target{ID: "127.0.0.1", Port: port}, true
	case node.NetworkBridge:
		for _, c := range r.Task.Containers {
			for _, b := range c.NetworkBindings {
				if c.Name == lb.ContainerName && deref(b.ContainerPort, 0) == int32(port) {
					return Target{ID: "127.0.0.1", Port: int(deref(b.HostPort, 0))}, true
				}
			}
		}
	}
	return Target{}, false
}
