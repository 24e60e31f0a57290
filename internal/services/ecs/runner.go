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

// stoppedTaskRetention is how long a STOPPED task stays describable; ECS
// keeps stopped tasks visible for at least an hour.
const stoppedTaskRetention = time.Hour

// runInterval bounds how long a change can wait without a nudge.
const runInterval = time.Second

// action is one thing the runner must do for a task.
type action int

const (
	actNone   action = iota
	actSubmit        // send the task to the node
	actStop          // ask the node to stop it
	actForget        // mark stopped without the node (never submitted)
	actExpire        // delete a long-stopped task
)

// taskState is the part of a task record the runner decides on. The
// runner reads it only for the tasks taskWork lists as due, so a pass
// stays cheap with thousands of stopped tasks kept for their retention
// hour.
type taskState struct {
	Task struct {
		LastStatus    string              `json:"lastStatus"`
		DesiredStatus string              `json:"desiredStatus"`
		StopCode      string              `json:"stopCode"`
		StoppedReason string              `json:"stoppedReason"`
		StoppedAt     *protocol.Timestamp `json:"stoppedAt"`
	}
	Spec struct {
		TaskID string
	}
	Submitted bool
	StopSent  bool
	Draining  bool
}

// decide is the runner's pure decision for one task.
func decide(rec taskState, now time.Time) action {
	t := rec.Task
	switch {
	case t.LastStatus == node.StatusStopped:
		if stopped := protocol.TimeOf(t.StoppedAt); !stopped.IsZero() && now.Sub(stopped) > stoppedTaskRetention {
			return actExpire
		}
		return actNone
	case t.DesiredStatus == "STOPPED" && !rec.Submitted:
		return actForget
	case t.DesiredStatus == "STOPPED" && !rec.StopSent && !rec.Draining:
		return actStop
	case t.DesiredStatus == "RUNNING" && !rec.Submitted:
		return actSubmit
	}
	return actNone
}

// runLoop drives stored tasks toward their desired status.
func (s *Service) runLoop(ctx context.Context) {
	s.forgetLostTasks(ctx)
	ticker := s.clock.NewTicker(runInterval)
	defer ticker.Stop()
	for {
		s.reconcileTasks(ctx)
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-ticker.C():
		}
	}
}

func (s *Service) reconcileTasks(ctx context.Context) {
	now := s.clock.Now()
	if err := s.forgetRunTokens(now); err != nil {
		s.log.Error("forget expired RunTask client tokens", "error", err)
	}
	var due []taskState
	err := s.store.View(func(tx *store.Tx) error {
		var err error
		due, err = dueTasks(tx, now)
		return err
	})
	if err != nil {
		s.log.Error("read tasks", "error", err)
		return
	}
	for _, rec := range due {
		if ctx.Err() != nil {
			return
		}
		switch decide(rec, now) {
		case actSubmit:
			s.submit(ctx, rec)
		case actStop:
			s.stop(ctx, rec)
		case actForget:
			s.updateTask(rec.Spec.TaskID, func(r *taskRecord) bool {
				markStopped(r, now, r.Task.StopCode, r.Task.StoppedReason)
				return true
			})
		case actExpire:
			s.expire(rec)
		}
	}
}

func (s *Service) submit(ctx context.Context, st taskState) {
	var rec taskRecord
	err := s.store.View(func(tx *store.Tx) error {
		key, _, err := store.Get[string](tx, tableTaskIndex, st.Spec.TaskID)
		if err != nil {
			return err
		}
		rec, _, err = store.Get[taskRecord](tx, tableTasks, key)
		return err
	})
	if err != nil {
		s.log.Error("read task to submit", "task", st.Spec.TaskID, "error", err)
		return
	}
	if err := s.node.RunTask(ctx, rec.Spec); err != nil {
		s.log.Error("run task on node", "task", rec.Spec.TaskID, "error", err)
		s.updateTask(rec.Spec.TaskID, func(r *taskRecord) bool {
			markStopped(r, s.clock.Now(), node.StopTaskFailedToStart, "ResourceInitializationError: "+err.Error())
			return true
		})
		return
	}
	s.updateTask(rec.Spec.TaskID, func(r *taskRecord) bool {
		r.Submitted = true
		return true
	})
}

func (s *Service) stop(ctx context.Context, rec taskState) {
	err := s.node.StopTask(ctx, rec.Spec.TaskID, rec.Task.StoppedReason)
	if err != nil && !errors.Is(err, node.ErrNotFound) {
		s.log.Error("stop task on node", "task", rec.Spec.TaskID, "error", err)
		return
	}
	s.updateTask(rec.Spec.TaskID, func(r *taskRecord) bool {
		r.StopSent = true
		if errors.Is(err, node.ErrNotFound) {
			markStopped(r, s.clock.Now(), r.Task.StopCode, r.Task.StoppedReason)
		}
		return true
	})
}

func (s *Service) expire(rec taskState) {
	err := s.store.Update(func(tx *store.Tx) error {
		key, _, err := store.Get[string](tx, tableTaskIndex, rec.Spec.TaskID)
		if err != nil {
			return err
		}
		if err := tx.Delete(tableTasks, key); err != nil {
			return err
		}
		return tx.Delete(tableTaskIndex, rec.Spec.TaskID)
	})
	if err != nil {
		s.log.Error("expire task", "task", rec.Spec.TaskID, "error", err)
	}
}

// forgetLostTasks marks STOPPED the submitted tasks that the node no longer
// knows (its state was wiped), so they do not stay RUNNING forever.
func (s *Service) forgetLostTasks(ctx context.Context) {
	known, err := s.node.ListTasks(ctx)
	if err != nil {
		s.log.Error("list node tasks", "error", err)
		return
	}
	onNode := map[string]bool{}
	for _, st := range known {
		onNode[st.TaskID] = true
	}
	var lost []string
	err = s.store.View(func(tx *store.Tx) error {
		open, err := listWork[taskState](tx, workOpen)
		for _, rec := range open {
			if rec.Submitted && !onNode[rec.Spec.TaskID] {
				lost = append(lost, rec.Spec.TaskID)
			}
		}
		return err
	})
	if err != nil {
		s.log.Error("read tasks", "error", err)
		return
	}
	for _, id := range lost {
		s.updateTask(id, func(r *taskRecord) bool {
			markStopped(r, s.clock.Now(), "", "Task lost: the node no longer knows it")
			return true
		})
	}
}

// updateTask applies change to the stored task with a node task ID; change
// returns false to leave the record as it was.
func (s *Service) updateTask(taskID string, change func(*taskRecord) bool) {
	err := s.store.Update(func(tx *store.Tx) error {
		key, ok, err := store.Get[string](tx, tableTaskIndex, taskID)
		if err != nil || !ok {
			return err
		}
		rec, ok, err := store.Get[taskRecord](tx, tableTasks, key)
		if err != nil || !ok {
			return err
		}
		if !change(&rec) {
			return nil
		}
		return tx.Put(tableTasks, key, rec)
	})
	if err != nil {
		s.log.Error("update task", "task", taskID, "error", err)
	}
}

// applyNodeUpdates records every status the node reports.
func (s *Service) applyNodeUpdates(ctx context.Context, updates <-chan node.TaskStatus) {
	for {
		select {
		case <-ctx.Done():
			return
		case st, ok := <-updates:
			if !ok {
				return
			}
			s.applyNodeStatus(ctx, st)
			// A task that stopped or changed health may need a replacement.
			s.nudgeServices()
		}
	}
}

func (s *Service) applyNodeStatus(ctx context.Context, st node.TaskStatus) {
	stopped := false
	s.updateTask(st.TaskID, func(r *taskRecord) bool {
		if st.Seq <= r.NodeSeq || r.Task.LastStatus == node.StatusStopped {
			return false
		}
		r.NodeSeq = st.Seq
		r.Submitted = true
		applyStatus(r, st)
		stopped = r.Task.LastStatus == node.StatusStopped
		return true
	})
	if stopped {
		// The node can free the task's sandbox; its logs stay on the node.
		if err := s.node.RemoveTask(ctx, st.TaskID); err != nil && !errors.Is(err, node.ErrNotFound) {
			s.log.Warn("remove stopped task from node", "task", st.TaskID, "error", err)
		}
	}
}

// applyStatus copies the node's view of a task into the ECS task.
func applyStatus(r *taskRecord, st node.TaskStatus) {
	t := &r.Task
	t.LastStatus = controlPlaneStatus(r, st.Status)
	t.Version++
	t.PullStartedAt = protocol.NewTimestamp(st.PullStartedAt)
	t.PullStoppedAt = protocol.NewTimestamp(st.PullStoppedAt)
	t.StartedAt = protocol.NewTimestamp(st.StartedAt)
	t.ExecutionStoppedAt = protocol.NewTimestamp(st.ExecutionStoppedAt)
	if !st.StoppingAt.IsZero() && t.StoppingAt == nil {
		t.StoppingAt = protocol.NewTimestamp(st.StoppingAt)
	}
	if st.HealthStatus != "" {
		t.HealthStatus = st.HealthStatus
	}
	if st.Status == node.StatusRunning && t.ConnectivityAt == nil {
		t.Connectivity = "CONNECTED"
		t.ConnectivityAt = protocol.NewTimestamp(st.StartedAt)
	}
	if st.Status == node.StatusStopping || st.Status == node.StatusDeprovisioning || st.Status == node.StatusStopped {
		t.DesiredStatus = "STOPPED"
		// A stop the user asked for keeps its code and reason.
		if t.StopCode == "" && t.StoppedReason == "" {
			t.StopCode = st.StopCode
			t.StoppedReason = st.StoppedReason
		}
	}
	if st.Status == node.StatusStopped {
		t.StoppedAt = protocol.NewTimestamp(st.StoppedAt)
		if t.StoppingAt == nil {
			t.StoppingAt = t.StoppedAt
		}
	}
	applyNetwork(t, st)
	for i := range t.Containers {
		for _, cs := range st.Containers {
			if cs.Name == t.Containers[i].Name {
				applyContainerStatus(&t.Containers[i], cs, st)
			}
		}
	}
}

// controlPlaneStatus adds ECS's ACTIVATING and DEACTIVATING steps around
// the node's RUNNING: the service scheduler's load balancer work.
func controlPlaneStatus(r *taskRecord, status string) string {
	if status != node.StatusRunning {
		return status
	}
	switch {
	case r.Draining:
		return statusDeactivating
	case len(r.LoadBalancers) > 0 && !r.Registered:
		return statusActivating
	}
	return status
}

func applyNetwork(t *ecswire.Task, st node.TaskStatus) {
	if len(t.Attachments) == 0 {
		return
	}
	a := &t.Attachments[0]
	switch {
	case st.Status == node.StatusStopped:
		a.Status = "DELETED"
	case st.Status == node.StatusDeprovisioning || st.Status == node.StatusStopping:
		a.Status = "DETACHED"
	case st.PrivateIPv4 != "":
		a.Status = "ATTACHED"
	}
	if st.PrivateIPv4 != "" && !hasDetail(a.Details, "privateIPv4Address") {
		subnet := eniAttachment(nil, "", st.PrivateIPv4, st.MACAddress).Details
		a.Details = append(a.Details, subnet...)
	}
}

func hasDetail(details []ecswire.KeyValuePair, name string) bool {
	for _, d := range details {
		if d.Name == name {
			return true
		}
	}
	return false
}

func applyContainerStatus(c *ecswire.Container, cs node.ContainerStatus, st node.TaskStatus) {
	c.LastStatus = cs.Status
	c.Reason = cs.Reason
	c.RuntimeId = cs.RuntimeID
	c.ImageDigest = cs.ImageDigest
	if cs.HealthStatus != "" {
		c.HealthStatus = cs.HealthStatus
	}
	if cs.ExitCode != nil {
		code := int32(*cs.ExitCode)
		c.ExitCode = &code
	}
	if st.PrivateIPv4 != "" && len(c.NetworkInterfaces) == 0 {
		c.NetworkInterfaces = []ecswire.NetworkInterface{{AttachmentId: "eni-" + st.MACAddress, PrivateIpv4Address: st.PrivateIPv4}}
	}
	c.NetworkBindings = c.NetworkBindings[:0]
	for _, b := range cs.NetworkBindings {
		c.NetworkBindings = append(c.NetworkBindings, ecswire.NetworkBinding{
			BindIP: b.BindIP, ContainerPort: int32Ptr(int32(b.ContainerPort)), HostPort: int32Ptr(int32(b.HostPort)), Protocol: b.Protocol,
		})
	}
}

// markStopped records a task as STOPPED without the node's help (it never
// ran, or the node lost it).
func markStopped(r *taskRecord, now time.Time, code, reason string) {
	t := &r.Task
	ts := protocol.NewTimestamp(now)
	t.LastStatus = node.StatusStopped
	t.DesiredStatus = "STOPPED"
	t.StopCode = code
	t.StoppedReason = reason
	if t.StoppingAt == nil {
		t.StoppingAt = ts
	}
	if t.ExecutionStoppedAt == nil {
		t.ExecutionStoppedAt = ts
	}
	t.StoppedAt = ts
	t.Version++
	for i := range t.Containers {
		if t.Containers[i].LastStatus != node.StatusStopped {
			t.Containers[i].LastStatus = node.StatusStopped
		}
	}
	for i := range t.Attachments {
		t.Attachments[i].Status = "DELETED"
	}
}
