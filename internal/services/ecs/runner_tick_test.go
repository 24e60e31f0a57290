package ecs

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/kumo-project/kumo/internal/arn"
	"github.com/kumo-project/kumo/internal/clock"
	"github.com/kumo-project/kumo/internal/node"
	"github.com/kumo-project/kumo/internal/protocol"
	"github.com/kumo-project/kumo/internal/store"
	"github.com/kumo-project/kumo/internal/wire/ecswire"
)

// manualClock is a clock that moves only when a test sets it; its tickers
// never tick, so nothing runs unless the test calls it.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func (c *manualClock) After(time.Duration) <-chan time.Time { return make(chan time.Time) }
func (c *manualClock) NewTicker(time.Duration) clock.Ticker { return stillTicker{} }

type stillTicker struct{}

func (stillTicker) C() <-chan time.Time { return nil }
func (stillTicker) Stop()               {}

// tickEnv is a Service on a store at a path, with a fake node and a
// manual clock, whose reconcilers run only when the test calls them.
type tickEnv struct {
	svc   *Service
	store *store.Store
	node  *fakeNode
	clock *manualClock
	ctx   context.Context
	// template is a real task record, made by RunTask, that task copies.
	template taskRecord
}

var tickStart = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func newTickEnv(tb testing.TB, path string) *tickEnv {
	tb.Helper()
	e := openTickEnv(tb, path)
	if err := e.svc.indexTasks(); err != nil {
		tb.Fatal(err)
	}
	return e
}

// openTickEnv is a tickEnv without the task index, as the store of a kumo
// before it was.
func openTickEnv(tb testing.TB, path string) *tickEnv {
	tb.Helper()
	st, err := store.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	e := &tickEnv{store: st, node: newFakeNode(), clock: &manualClock{now: tickStart}}
	e.svc = New(Config{Store: st, Node: e.node, Clock: e.clock, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	e.ctx = protocol.WithRequest(context.Background(), &protocol.Request{
		Caller: protocol.Caller{AccountID: "000000000000", Region: "us-east-1"},
	})
	return e
}

// makeTemplate runs one task through RunTask, so the copies have what a
// real task record holds.
func (e *tickEnv) makeTemplate(tb testing.TB) {
	tb.Helper()
	if _, err := e.svc.CreateCluster(e.ctx, &ecswire.CreateClusterRequest{ClusterName: "bench"}); err != nil {
		tb.Fatal(err)
	}
	td := &ecswire.RegisterTaskDefinitionRequest{
		Family: "bench", NetworkMode: "awsvpc", RequiresCompatibilities: []string{"FARGATE"}, Cpu: "256", Memory: "512",
		ContainerDefinitions: []ecswire.ContainerDefinition{
			{Name: "app", Image: "busybox", Command: []string{"sleep", "3600"}},
			{Name: "sidecar", Image: "busybox", Command: []string{"sleep", "3600"}},
		},
	}
	if _, err := e.svc.RegisterTaskDefinition(e.ctx, td); err != nil {
		tb.Fatal(err)
	}
	out, err := e.svc.RunTask(e.ctx, &ecswire.RunTaskRequest{
		Cluster: "bench", TaskDefinition: "bench", LaunchType: "FARGATE",
		NetworkConfiguration: &ecswire.NetworkConfiguration{AwsvpcConfiguration: &ecswire.AwsVpcConfiguration{Subnets: []string{"subnet-1"}}},
	})
	if err != nil {
		tb.Fatal(err)
	}
	err = e.store.View(func(tx *store.Tx) error {
		var ok bool
		e.template, ok, err = store.Get[taskRecord](tx, tableTasks, e.keyOf(out.Tasks[0].TaskArn))
		if !ok && err == nil {
			tb.Fatal("the task RunTask made is not stored")
		}
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
}

func (e *tickEnv) keyOf(taskARN string) string {
	key, _ := taskKey(scopeOf(e.ctx), "bench", taskARN)
	return key
}

// addTasks stores n copies of the template, each changed by edit, in one
// transaction, the way RunTask stores tasks, and returns their IDs.
func (e *tickEnv) addTasks(tb testing.TB, n int, edit func(*taskRecord)) []string {
	tb.Helper()
	var ids []string
	err := e.store.Update(func(tx *store.Tx) error {
		for i := 0; i < n; i++ {
			rec := e.template
			rec.Spec.TaskID = arn.NewID()
			rec.Task.TaskArn = scopeOf(e.ctx).taskARN("bench", rec.Spec.TaskID)
			edit(&rec)
			key := e.keyOf(rec.Task.TaskArn)
			if err := tx.Put(tableTasks, key, rec); err != nil {
				return err
			}
			if err := tx.Put(tableTaskIndex, rec.Spec.TaskID, key); err != nil {
				return err
			}
			ids = append(ids, rec.Spec.TaskID)
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return ids
}

// running makes a task that the node runs.
func running(r *taskRecord) {
	r.Submitted = true
	r.NodeSeq = 3
	r.Task.LastStatus = node.StatusRunning
}

// stoppedAt makes a task that stopped at t.
func stoppedAt(t time.Time) func(*taskRecord) {
	return func(r *taskRecord) {
		r.Submitted, r.StopSent = true, true
		markStopped(r, t, node.StopEssentialContainerExited, "Essential container in task exited")
	}
}

// BenchmarkRunnerTick measures one pass of the task runner over 10 running
// tasks and 5,000 tasks stopped in the last hour, which ECS keeps
// describable: the pass has nothing to do, so it must cost next to nothing.
//
//	go test ./internal/services/ecs -run '^$' -bench RunnerTick
func BenchmarkRunnerTick(b *testing.B) {
	e := newTickEnv(b, filepath.Join(b.TempDir(), "state.db"))
	e.makeTemplate(b)
	e.addTasks(b, 9, running) // with the template's own task: 10 open
	e.addTasks(b, 5000, stoppedAt(tickStart.Add(-30*time.Minute)))
	e.svc.reconcileTasks(e.ctx) // submits the template's task
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.svc.reconcileTasks(e.ctx)
	}
}

// BenchmarkTargetTick measures one pass of the service scheduler's target
// group step over the same tasks: none is in a target group.
func BenchmarkTargetTick(b *testing.B) {
	e := newTickEnv(b, filepath.Join(b.TempDir(), "state.db"))
	e.svc.lbs = newFakeLB(&journal{})
	e.makeTemplate(b)
	e.addTasks(b, 9, running)
	e.addTasks(b, 5000, stoppedAt(tickStart.Add(-30*time.Minute)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.svc.moveTargets(e.ctx)
	}
}
