package ecs

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kumo-project/kumo/internal/node"
	"github.com/kumo-project/kumo/internal/store"
	"github.com/kumo-project/kumo/internal/wire/ecswire"
)

// pending makes a task RunTask just stored: not yet on the node.
func pending(*taskRecord) {}

// stopAsked makes a running task the user asked to stop.
func stopAsked(r *taskRecord) {
	running(r)
	r.Task.DesiredStatus = "STOPPED"
	r.Task.StopCode, r.Task.StoppedReason = node.StopUserInitiated, "Task stopped by user"
}

// storedIDs returns the node task IDs of the tasks in the store.
func (e *tickEnv) storedIDs(t *testing.T) []string {
	t.Helper()
	var ids []string
	err := e.store.View(func(tx *store.Tx) error {
		all, err := store.List[taskState](tx, tableTasks, "")
		for _, st := range all {
			ids = append(ids, st.Spec.TaskID)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func (e *tickEnv) due(t *testing.T) []string {
	t.Helper()
	var ids []string
	err := e.store.View(func(tx *store.Tx) error {
		due, err := dueTasks(tx, e.clock.Now())
		for _, st := range due {
			ids = append(ids, st.Spec.TaskID)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func startedIDs(n *fakeNode) []string {
	var ids []string
	for _, spec := range n.startedSpecs() {
		ids = append(ids, spec.TaskID)
	}
	return ids
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// TestRunnerReadsOnlyDueTasks checks that a pass reads the tasks not yet
// STOPPED and the expired ones, none of the recently stopped.
func TestRunnerReadsOnlyDueTasks(t *testing.T) {
	t.Parallel()
	e := newTickEnv(t, filepath.Join(t.TempDir(), "state.db"))
	e.makeTemplate(t)
	open := append(e.addTasks(t, 3, running), e.addTasks(t, 2, pending)...)
	open = append(open, e.template.Spec.TaskID)
	expired := e.addTasks(t, 2, stoppedAt(tickStart.Add(-stoppedTaskRetention-time.Second)))
	e.addTasks(t, 50, stoppedAt(tickStart.Add(-30*time.Minute)))
	// Stopped exactly an hour ago: not past the hour yet.
	e.addTasks(t, 1, stoppedAt(tickStart.Add(-stoppedTaskRetention)))
	if got, want := e.due(t), append(open, expired...); !sameSet(got, want) {
		t.Errorf("due tasks = %d %v, want the %d open and expired %v", len(got), got, len(want), want)
	}
}

// TestRunnerActsOnOpenTasksAmongStopped: pending tasks go to the node,
// tasks asked to stop are stopped there, among many stopped tasks.
func TestRunnerActsOnOpenTasksAmongStopped(t *testing.T) {
	t.Parallel()
	e := newTickEnv(t, filepath.Join(t.TempDir(), "state.db"))
	e.makeTemplate(t)
	e.addTasks(t, 100, stoppedAt(tickStart.Add(-10*time.Minute)))
	toStart := append(e.addTasks(t, 3, pending), e.template.Spec.TaskID)
	toStop := e.addTasks(t, 2, stopAsked)
	e.addTasks(t, 2, running)

	e.svc.reconcileTasks(e.ctx)
	if got := startedIDs(e.node); !sameSet(got, toStart) {
		t.Errorf("node ran %v, want %v", got, toStart)
	}
	e.node.mu.Lock()
	stopped := slices.Clone(e.node.stopped)
	e.node.mu.Unlock()
	if !sameSet(stopped, toStop) {
		t.Errorf("node stopped %v, want %v", stopped, toStop)
	}
	// Submitted and stop-sent tasks are done with until the node reports.
	e.svc.reconcileTasks(e.ctx)
	if n := len(e.node.startedSpecs()); n != len(toStart) {
		t.Errorf("a second pass ran %d tasks in all, want %d", n, len(toStart))
	}
}

// TestStoppedTaskExpiresAfterItsHour follows a task the node reports
// STOPPED: kept an hour for DescribeTasks, then deleted with its ID.
func TestStoppedTaskExpiresAfterItsHour(t *testing.T) {
	t.Parallel()
	e := newTickEnv(t, filepath.Join(t.TempDir(), "state.db"))
	e.makeTemplate(t)
	e.svc.reconcileTasks(e.ctx) // submits it
	other := e.addTasks(t, 1, stoppedAt(tickStart.Add(-50*time.Minute)))[0]
	id := e.template.Spec.TaskID
	e.svc.applyNodeStatus(e.ctx, node.TaskStatus{TaskID: id, Seq: 1, Status: node.StatusStopped, StoppedAt: tickStart,
		StopCode: node.StopEssentialContainerExited, StoppedReason: "Essential container in task exited"})
	if got := e.due(t); len(got) != 0 {
		t.Fatalf("due right after the stop: %v", got)
	}

	e.clock.set(tickStart.Add(20 * time.Minute))
	e.svc.reconcileTasks(e.ctx)
	if got := e.storedIDs(t); !sameSet(got, []string{id}) {
		t.Errorf("after 20 minutes stored %v, want only %s (%s stopped 70 minutes ago)", got, id, other)
	}
	e.clock.set(tickStart.Add(stoppedTaskRetention))
	e.svc.reconcileTasks(e.ctx)
	if got := e.storedIDs(t); !sameSet(got, []string{id}) {
		t.Errorf("exactly an hour after the stop stored %v, want %s", got, id)
	}
	e.clock.set(tickStart.Add(stoppedTaskRetention + time.Second))
	e.svc.reconcileTasks(e.ctx)
	if got := e.storedIDs(t); len(got) != 0 {
		t.Errorf("past the hour stored %v, want none", got)
	}
	err := e.store.View(func(tx *store.Tx) error {
		if _, ok, _ := store.Get[string](tx, tableTaskIndex, id); ok {
			t.Errorf("task ID %s still maps to a task", id)
		}
		return tx.Scan(taskWork.Name, "", "", func(key string, _ []byte) (bool, error) {
			t.Errorf("index entry %s of an expired task", key)
			return true, nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestOldDataDirIsIndexedAtStart opens a data dir written by a kumo
// without the task index: its pending task still runs, its expired task
// still goes, its running task is still known to be open.
func TestOldDataDirIsIndexedAtStart(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.db")
	old := openTickEnv(t, path)
	old.makeTemplate(t)
	toStart := append(old.addTasks(t, 2, pending), old.template.Spec.TaskID)
	runningID := old.addTasks(t, 1, running)[0]
	expired := old.addTasks(t, 1, stoppedAt(tickStart.Add(-2*time.Hour)))[0]
	kept := old.addTasks(t, 1, stoppedAt(tickStart.Add(-time.Minute)))[0]
	old.store.Close()

	e := newTickEnv(t, path)
	if got, want := e.due(t), append(toStart, runningID, expired); !sameSet(got, want) {
		t.Errorf("due after start = %v, want %v", got, want)
	}
	e.svc.reconcileTasks(e.ctx)
	if got := startedIDs(e.node); !sameSet(got, toStart) {
		t.Errorf("node ran %v, want %v", got, toStart)
	}
	if got, want := e.storedIDs(t), append(toStart, runningID, kept); !sameSet(got, want) {
		t.Errorf("stored after a pass %v, want %v", got, want)
	}
}

// TestTargetPassSeesTasksInTargetGroups: the target group step still
// registers an ACTIVATING task and takes a task that stopped while
// registered out of its groups, though it reads only indexed tasks.
func TestTargetPassSeesTasksInTargetGroups(t *testing.T) {
	t.Parallel()
	e := newTickEnv(t, filepath.Join(t.TempDir(), "state.db"))
	j := &journal{}
	e.svc.lbs = newFakeLB(j, "tg")
	e.makeTemplate(t)
	inGroups := func(r *taskRecord) {
		r.Spec.NetworkMode = node.NetworkHost
		r.LoadBalancers = []ecswire.LoadBalancer{{TargetGroupArn: "tg", ContainerName: "app", ContainerPort: int32Ptr(80)}}
	}
	activating := e.addTasks(t, 1, func(r *taskRecord) {
		running(r)
		inGroups(r)
		r.Task.LastStatus = statusActivating
	})[0]
	crashed := e.addTasks(t, 1, func(r *taskRecord) {
		stoppedAt(tickStart.Add(-time.Minute))(r)
		inGroups(r)
		r.Registered = true
	})[0]
	e.addTasks(t, 20, func(r *taskRecord) {
		stoppedAt(tickStart.Add(-time.Minute))(r)
		inGroups(r)
	})

	e.svc.moveTargets(e.ctx)
	registered := map[string]bool{}
	err := e.store.View(func(tx *store.Tx) error {
		all, err := store.List[taskRecord](tx, tableTasks, "")
		for _, r := range all {
			registered[r.Spec.TaskID] = r.Registered
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !registered[activating] || registered[crashed] {
		t.Errorf("after a pass registered: ACTIVATING task %v (want true), stopped task %v (want false)", registered[activating], registered[crashed])
	}
	if j.index("register 127.0.0.1") < 0 || j.index("deregister 127.0.0.1") < 0 {
		t.Errorf("target groups saw %v, want a register and a deregister", j.entries)
	}
}

// TestRunnerForgetsExpiredRunTokens: a RunTask clientToken is deleted by
// the runner pass once past its lifetime, and not before.
func TestRunnerForgetsExpiredRunTokens(t *testing.T) {
	t.Parallel()
	e := newTickEnv(t, filepath.Join(t.TempDir(), "state.db"))
	remember := func(token string) {
		err := e.store.Update(func(tx *store.Tx) error { return e.svc.rememberRun(tx, scopeOf(e.ctx), token, nil) })
		if err != nil {
			t.Fatal(err)
		}
	}
	remember("old")
	e.clock.set(tickStart.Add(30 * time.Minute))
	remember("new")
	e.clock.set(tickStart.Add(runTokenLifetime + time.Second))
	e.svc.reconcileTasks(e.ctx)
	var kept []string
	e.store.View(func(tx *store.Tx) error {
		return tx.Scan(tableRunTokens, "", "", func(k string, _ []byte) (bool, error) {
			kept = append(kept, k[strings.LastIndex(k, "/")+1:])
			return true, nil
		})
	})
	if !slices.Equal(kept, []string{"new"}) {
		t.Fatalf("tokens kept: %v, want [new]", kept)
	}
}
