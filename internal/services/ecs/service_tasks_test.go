package ecs

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/kumo-project/kumo/internal/node"
	"github.com/kumo-project/kumo/internal/protocol"
)

// openTasks returns the IDs of a service's tasks not yet STOPPED.
func (e *tickEnv) openTasks(tb testing.TB, name string) []string {
	tb.Helper()
	var ids []string
	e.editTasks(tb, func(r *taskRecord) bool {
		if r.Task.Group == serviceGroup(name) && r.Task.LastStatus != node.StatusStopped {
			ids = append(ids, r.Spec.TaskID)
		}
		return false
	})
	return ids
}

// readServiceTasks returns the IDs of the tasks a scheduler pass reads
// for a service.
func (e *tickEnv) readServiceTasks(tb testing.TB, name string) []string {
	tb.Helper()
	_, tasks, err := e.svc.readService(scopeOf(e.ctx).key("bench", name))
	if err != nil {
		tb.Fatal(err)
	}
	var ids []string
	for _, t := range tasks {
		ids = append(ids, t.Spec.TaskID)
	}
	return ids
}

// TestServicePassReadsOnlyTasksItNeeds: a pass reads a service's tasks
// not yet STOPPED, its PRIMARY deployment's failed ones and the counted
// ones, in task key order; none of the other stopped tasks, other
// services' or groups'.
func TestServicePassReadsOnlyTasksItNeeds(t *testing.T) {
	t.Parallel()
	e := newTickEnv(t, filepath.Join(t.TempDir(), "state.db"))
	e.makeTemplate(t)
	primary := e.steadyService(t, "web", 2, nil).Service.Deployments[0].Id
	e.steadyService(t, "other", 1, nil)
	counted := e.crash(t, "web")
	e.svc.reconcileServices(e.ctx) // counts it and starts a replacement
	e.redeploy(t, "web")
	e.svc.reconcileServices(e.ctx) // starts the new deployment's tasks
	newID := e.service(t, "web").Service.Deployments[0].Id
	failed := e.addStopped(t, 2, "web", newID, node.StopTaskFailedToStart, "CannotPullContainerError")
	e.addTasks(t, 1, func(r *taskRecord) {
		running(r)
		r.Task.Group, r.Task.StartedBy = serviceGroup("web"), newID
		r.Task.DesiredStatus, r.Task.StopCode, r.Task.StoppedReason = "STOPPED", node.StopUserInitiated, "by user"
	})
	want := append(e.openTasks(t, "web"), counted)
	want = append(want, failed...)

	e.addStopped(t, 20, "web", newID, node.StopServiceSchedulerInitiated, scaledIn)
	e.addStopped(t, 20, "web", newID, node.StopUserInitiated, "Task stopped by user")
	e.addStopped(t, 20, "web", primary, node.StopEssentialContainerExited, "Essential container in task exited")
	e.addStopped(t, 20, "other", newID, node.StopEssentialContainerExited, "Essential container in task exited")
	e.addStopped(t, 20, "web/failed/"+newID, newID, node.StopEssentialContainerExited, "Essential container in task exited")
	e.addTasks(t, 5, func(r *taskRecord) {
		running(r)
		r.Task.Group = serviceGroup("web/open")
	})

	got := e.readServiceTasks(t, "web")
	if !sameSet(got, want) {
		t.Errorf("a pass over web read %d tasks %v, want the %d %v", len(got), got, len(want), want)
	}
	// In one cluster, task key order is task ID order.
	if !slices.IsSorted(got) {
		t.Errorf("a pass over web read its tasks out of key order: %v", got)
	}
}

// TestServicePassOnOldDataDir opens a data dir written before the
// service task index: a pass still sees the service's running and
// failed tasks.
func TestServicePassOnOldDataDir(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.db")
	old := openTickEnv(t, path)
	old.makeTemplate(t)
	old.createService(t, "web", 2, nil)
	primary := old.service(t, "web").Service.Deployments[0].Id
	runningIDs := old.addTasks(t, 2, func(r *taskRecord) {
		running(r)
		r.Task.Group, r.Task.StartedBy = serviceGroup("web"), primary
		r.Task.StartedAt = protocol.NewTimestamp(tickStart.Add(-time.Minute))
	})
	old.addStopped(t, 20, "web", primary, node.StopServiceSchedulerInitiated, scaledIn)
	crashed := old.addStopped(t, 1, "web", primary, node.StopEssentialContainerExited, "Essential container in task exited")
	old.store.Close()

	e := newTickEnv(t, path)
	e.svc.reconcileServices(e.ctx)
	rec := e.service(t, "web")
	if live := e.liveTasks(t, "web"); !slices.Equal(rec.Counted, crashed) || !sameSet(live, runningIDs) {
		t.Errorf("after a pass on the old data dir: counted %v, live tasks %v; want %v and %v",
			rec.Counted, live, crashed, runningIDs)
	}
}
