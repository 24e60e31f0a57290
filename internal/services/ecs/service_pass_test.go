package ecs

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kumo-project/kumo/internal/node"
	"github.com/kumo-project/kumo/internal/protocol"
	"github.com/kumo-project/kumo/internal/store"
	"github.com/kumo-project/kumo/internal/wire/ecswire"
)

// createService creates a service of the bench task definition in the
// bench cluster, with the deployment circuit breaker when breaker is set.
func (e *tickEnv) createService(tb testing.TB, name string, desired int32, breaker *ecswire.DeploymentCircuitBreaker) {
	tb.Helper()
	_, err := e.svc.CreateService(e.ctx, &ecswire.CreateServiceRequest{
		Cluster: "bench", ServiceName: name, TaskDefinition: "bench", DesiredCount: &desired, LaunchType: "FARGATE",
		NetworkConfiguration:    &ecswire.NetworkConfiguration{AwsvpcConfiguration: &ecswire.AwsVpcConfiguration{Subnets: []string{"subnet-1"}}},
		DeploymentConfiguration: &ecswire.DeploymentConfiguration{DeploymentCircuitBreaker: breaker},
	})
	if err != nil {
		tb.Fatal(err)
	}
}

func (e *tickEnv) redeploy(tb testing.TB, name string) {
	tb.Helper()
	_, err := e.svc.UpdateService(e.ctx, &ecswire.UpdateServiceRequest{Cluster: "bench", Service: name, ForceNewDeployment: true})
	if err != nil {
		tb.Fatal(err)
	}
}

func (e *tickEnv) service(tb testing.TB, name string) serviceRecord {
	tb.Helper()
	var rec serviceRecord
	err := e.store.View(func(tx *store.Tx) error {
		var ok bool
		var err error
		rec, ok, err = store.Get[serviceRecord](tx, tableServices, scopeOf(e.ctx).key("bench", name))
		if !ok && err == nil {
			tb.Fatalf("no service %s", name)
		}
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return rec
}

// editTasks changes, in one transaction, every stored task for which
// edit returns true.
func (e *tickEnv) editTasks(tb testing.TB, edit func(*taskRecord) bool) {
	tb.Helper()
	err := e.store.Update(func(tx *store.Tx) error {
		all, err := store.List[taskRecord](tx, tableTasks, "")
		for _, rec := range all {
			if edit(&rec) {
				key, _, _ := store.Get[string](tx, tableTaskIndex, rec.Spec.TaskID)
				if err := tx.Put(tableTasks, key, rec); err != nil {
					return err
				}
			}
		}
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// settleNode does what the node would: the service tasks the scheduler
// started run (since a minute, so they count as healthy), the ones it
// stopped stop.
func (e *tickEnv) settleNode(tb testing.TB) {
	tb.Helper()
	now := e.clock.Now()
	e.editTasks(tb, func(r *taskRecord) bool {
		if !strings.HasPrefix(r.Task.Group, "service:") || r.Task.LastStatus == node.StatusStopped {
			return false
		}
		if r.Task.DesiredStatus == "STOPPED" {
			markStopped(r, now, r.Task.StopCode, r.Task.StoppedReason)
			return true
		}
		if r.Task.LastStatus == node.StatusRunning {
			return false
		}
		running(r)
		r.Task.StartedAt = protocol.NewTimestamp(now.Add(-time.Minute))
		return true
	})
}

// crash stops one running task of the service's PRIMARY deployment as
// the node reports an exited essential container, and returns its ID.
func (e *tickEnv) crash(tb testing.TB, name string) string {
	tb.Helper()
	primary := e.service(tb, name).Service.Deployments[0].Id
	var id string
	e.editTasks(tb, func(r *taskRecord) bool {
		if id != "" || r.Task.Group != serviceGroup(name) || r.Task.StartedBy != primary || r.Task.LastStatus == node.StatusStopped {
			return false
		}
		id = r.Spec.TaskID
		markStopped(r, e.clock.Now(), node.StopEssentialContainerExited, "Essential container in task exited")
		return true
	})
	if id == "" {
		tb.Fatalf("no task of %s's primary deployment to crash", name)
	}
	return id
}

// addStopped stores n STOPPED tasks of a service, started by a
// deployment, stopped at the clock's time with a code and reason.
func (e *tickEnv) addStopped(tb testing.TB, n int, name, deploymentID, code, reason string) []string {
	tb.Helper()
	now := e.clock.Now()
	return e.addTasks(tb, n, func(r *taskRecord) {
		r.Task.Group, r.Task.StartedBy = serviceGroup(name), deploymentID
		r.Submitted, r.StopSent = true, true
		markStopped(r, now, code, reason)
	})
}

// steadyService makes a service that ran its desired count to a
// COMPLETED deployment and a steady state.
func (e *tickEnv) steadyService(tb testing.TB, name string, desired int32, breaker *ecswire.DeploymentCircuitBreaker) serviceRecord {
	tb.Helper()
	e.createService(tb, name, desired, breaker)
	for i := 0; i < 5 && !e.service(tb, name).Steady; i++ {
		e.svc.reconcileServices(e.ctx)
		e.settleNode(tb)
	}
	rec := e.service(tb, name)
	if !rec.Steady || rec.LastCompleted == nil {
		tb.Fatalf("service %s not steady after 5 passes:\n%s", name, eventMessages(rec))
	}
	return rec
}

// liveTasks returns the IDs of a service's tasks meant to keep running.
func (e *tickEnv) liveTasks(tb testing.TB, name string) []string {
	tb.Helper()
	var ids []string
	e.editTasks(tb, func(r *taskRecord) bool {
		if r.Task.Group == serviceGroup(name) && r.Task.DesiredStatus == "RUNNING" {
			ids = append(ids, r.Spec.TaskID)
		}
		return false
	})
	return ids
}

func deploymentOf(rec serviceRecord, id string) (ecswire.Deployment, bool) {
	for _, d := range rec.Service.Deployments {
		if d.Id == id {
			return d, true
		}
	}
	return ecswire.Deployment{}, false
}

var breakerWithRollback = &ecswire.DeploymentCircuitBreaker{Enable: true, Rollback: true}

const scaledIn = "Scaling activity initiated by (deployment ecs-svc/0)"

// TestServicePassReplacesStoppedTask: a crashed task of a steady service
// is counted once and replaced, among many stopped tasks.
func TestServicePassReplacesStoppedTask(t *testing.T) {
	t.Parallel()
	e := newTickEnv(t, filepath.Join(t.TempDir(), "state.db"))
	e.makeTemplate(t)
	primary := e.steadyService(t, "web", 2, nil).Service.Deployments[0].Id
	e.addStopped(t, 200, "web", primary, node.StopServiceSchedulerInitiated, scaledIn)
	e.addStopped(t, 200, "web", "ecs-svc/old", node.StopEssentialContainerExited, "Essential container in task exited")

	e.clock.set(tickStart.Add(time.Minute))
	crashed := e.crash(t, "web")
	e.svc.reconcileServices(e.ctx)
	rec := e.service(t, "web")
	if !slices.Equal(rec.Counted, []string{crashed}) || rec.Failures != 1 || rec.Service.Deployments[0].FailedTasks != 1 {
		t.Errorf("after the crash: counted %v, failures %d, failed tasks %d; want [%s], 1, 1",
			rec.Counted, rec.Failures, rec.Service.Deployments[0].FailedTasks, crashed)
	}
	live := e.liveTasks(t, "web")
	if len(live) != 2 || slices.Contains(live, crashed) {
		t.Errorf("live tasks after the crash = %v, want two others than %s", live, crashed)
	}
	if msgs := eventMessages(rec); !strings.Contains(strings.Split(msgs, "\n")[0], "has started 1 tasks") {
		t.Errorf("latest event is not the replacement's start:\n%s", msgs)
	}
	e.settleNode(t)
	e.clock.set(tickStart.Add(2 * time.Minute))
	e.svc.reconcileServices(e.ctx)
	e.svc.reconcileServices(e.ctx)
	rec = e.service(t, "web")
	if !rec.Steady || rec.Service.Deployments[0].FailedTasks != 1 || rec.Failures != 0 {
		t.Errorf("after the replacement runs: steady %v, failed tasks %d, failures %d; want true, 1, 0",
			rec.Steady, rec.Service.Deployments[0].FailedTasks, rec.Failures)
	}
}

// TestServicePassCountsFailuresAcrossPasses: failed tasks of a new
// deployment, one per pass, are each counted once; the third trips the
// circuit breaker, which rolls back to the completed deployment.
func TestServicePassCountsFailuresAcrossPasses(t *testing.T) {
	t.Parallel()
	e := newTickEnv(t, filepath.Join(t.TempDir(), "state.db"))
	e.makeTemplate(t)
	completed := e.steadyService(t, "web", 3, breakerWithRollback).LastCompleted.Id
	e.addStopped(t, 300, "web", completed, node.StopEssentialContainerExited, "Essential container in task exited")
	e.createService(t, "other", 0, breakerWithRollback)
	e.addStopped(t, 100, "other", completed, node.StopEssentialContainerExited, "Essential container in task exited")

	e.redeploy(t, "web")
	e.svc.reconcileServices(e.ctx) // starts the new deployment's tasks, which never run
	newID := e.service(t, "web").Service.Deployments[0].Id
	for i := 1; i <= 3; i++ {
		e.clock.set(tickStart.Add(time.Duration(i) * time.Minute))
		e.crash(t, "web")
		e.svc.reconcileServices(e.ctx)
		e.svc.reconcileServices(e.ctx) // a second pass must not count it again
		rec := e.service(t, "web")
		dep, ok := deploymentOf(rec, newID)
		if !ok || int(dep.FailedTasks) != i || len(rec.Counted) != i {
			t.Fatalf("after failure %d: deployment %s has %d failed tasks, counted %v; want %d",
				i, newID, dep.FailedTasks, rec.Counted, i)
		}
	}
	rec := e.service(t, "web")
	msgs := eventMessages(rec)
	for _, want := range []string{"(deployment " + newID + ") deployment failed: tasks failed to start.", "rolling back to deployment " + completed + "."} {
		if !strings.Contains(msgs, want) {
			t.Errorf("events lack %q:\n%s", want, msgs)
		}
	}
	primary := rec.Service.Deployments[0]
	if primary.Id == newID || primary.RolloutStateReason != "ECS deployment circuit breaker: rolling back to deploymentId "+completed+"." {
		t.Errorf("primary after the breaker = %s %q, want a rollback to %s", primary.Id, primary.RolloutStateReason, completed)
	}
	if other := e.service(t, "other"); len(other.Counted) != 0 || other.Service.Deployments[0].FailedTasks != 0 {
		t.Errorf("service other counted %v", other.Counted)
	}
}

// TestServicePassForgetsCountedTasksAsTheyExpire: a counted task stays
// in Counted while it is stored, also once a newer deployment is PRIMARY,
// and leaves it when it expires after its hour.
func TestServicePassForgetsCountedTasksAsTheyExpire(t *testing.T) {
	t.Parallel()
	e := newTickEnv(t, filepath.Join(t.TempDir(), "state.db"))
	e.makeTemplate(t)
	e.steadyService(t, "web", 2, nil)
	e.addStopped(t, 300, "web", "ecs-svc/old", node.StopEssentialContainerExited, "Essential container in task exited")
	crashed := e.crash(t, "web")
	e.svc.reconcileServices(e.ctx)
	e.settleNode(t)

	e.clock.set(tickStart.Add(10 * time.Minute))
	e.redeploy(t, "web")
	for i := 0; i < 4; i++ {
		e.svc.reconcileServices(e.ctx)
		e.settleNode(t)
	}
	if rec := e.service(t, "web"); !slices.Equal(rec.Counted, []string{crashed}) || len(rec.Service.Deployments) != 1 {
		t.Fatalf("after the redeployment: counted %v, %d deployments; want [%s] and one\n%s",
			rec.Counted, len(rec.Service.Deployments), crashed, eventMessages(rec))
	}

	e.clock.set(tickStart.Add(stoppedTaskRetention + time.Second))
	e.svc.reconcileTasks(e.ctx) // expires the crashed task
	e.svc.reconcileServices(e.ctx)
	if rec := e.service(t, "web"); len(rec.Counted) != 0 {
		t.Errorf("after the crashed task expired: counted %v, want none", rec.Counted)
	}
}

// BenchmarkServicePass measures one service scheduler pass over three
// steady services with 10 running tasks among 5,000 tasks stopped in the
// last hour in their cluster: the pass has nothing to do.
//
//	go test ./internal/services/ecs -run '^$' -bench ServicePass
func BenchmarkServicePass(b *testing.B) {
	e := newTickEnv(b, filepath.Join(b.TempDir(), "state.db"))
	e.makeTemplate(b)
	names := []string{"web", "api", "worker"}
	for i, name := range names {
		primary := e.steadyService(b, name, int32(3+i/2), nil).Service.Deployments[0].Id
		e.addStopped(b, 1000, name, "ecs-svc/old", node.StopEssentialContainerExited, "Essential container in task exited")
		e.addStopped(b, 600, name, primary, node.StopServiceSchedulerInitiated, scaledIn)
	}
	e.addTasks(b, 200, stoppedAt(tickStart.Add(-30*time.Minute)))
	revs := map[string]uint64{}
	for _, name := range names {
		revs[name] = e.service(b, name).Rev
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.svc.reconcileServices(e.ctx)
	}
	b.StopTimer()
	for _, name := range names {
		if rev := e.service(b, name).Rev; rev != revs[name] {
			b.Fatalf("service %s changed during the benchmark (rev %d → %d)", name, revs[name], rev)
		}
	}
}
