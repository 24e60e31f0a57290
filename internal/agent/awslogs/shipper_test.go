package awslogs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kumo-project/kumo/internal/agent/awslogs"
	"github.com/kumo-project/kumo/internal/agent/logdriver"
	"github.com/kumo-project/kumo/internal/clock"
	"github.com/kumo-project/kumo/internal/protocol"
	"github.com/kumo-project/kumo/internal/services/logs"
	"github.com/kumo-project/kumo/internal/wire/logswire"
)

// fastClock runs 20 times faster than the wall clock, so the shipper's
// quiet periods (multi-line flush, drain grace) pass quickly.
type fastClock struct{ start time.Time }

const speedup = 20

func (c fastClock) Now() time.Time {
	return c.start.Add(time.Since(c.start) * speedup)
}
func (c fastClock) After(d time.Duration) <-chan time.Time { return time.After(d / speedup) }
func (c fastClock) NewTicker(d time.Duration) clock.Ticker {
	return clock.Real{}.NewTicker(d / speedup)
}

var dest = awslogs.Destination{Account: "000000000000", Region: "us-east-1", Group: "/ecs/web", Stream: "web/app/task1"}

// newSink is the real Logs service, as the agent's sink.
func newSink(t *testing.T, dir string) *logs.Service {
	t.Helper()
	svc, err := logs.New(logs.Config{Dir: dir, Clock: clock.Real{}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	svc.Start(ctx)
	t.Cleanup(func() { cancel(); svc.Wait() })
	return svc
}

// logFile appends records to a log file as `kumo log-driver` writes them.
type logFile struct {
	t    *testing.T
	f    *os.File
	when int64
}

func newLogFile(t *testing.T) *logFile {
	f, err := os.Create(filepath.Join(t.TempDir(), "app.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return &logFile{t: t, f: f, when: time.Now().UnixNano()}
}

func (l *logFile) write(recs ...logdriver.Record) {
	for _, r := range recs {
		l.when += int64(time.Microsecond)
		r.TimeNanos = l.when
		if r.Stream == "" {
			r.Stream = "stdout"
		}
		b, _ := json.Marshal(r)
		if _, err := l.f.Write(append(b, '\n')); err != nil {
			l.t.Fatal(err)
		}
	}
}

func (l *logFile) lines(msgs ...string) {
	for _, m := range msgs {
		l.write(logdriver.Record{Message: m})
	}
}

// appLines is what testapp's `lines` mode prints: numbered lines and,
// after every 1000th, a three-line stack trace; and the events awslogs
// should make of them with the multiline pattern ^[^\t].
func appLines(n int) (lines, events []string) {
	for i := 1; i <= n; i++ {
		line := fmt.Sprintf("line %d", i)
		lines = append(lines, line)
		events = append(events, line+"\n")
		if i%1000 == 0 {
			trace := []string{fmt.Sprintf("ERROR simulated failure after line %d", i), "\tat main.work(main.go:10)", "\tat main.loop(main.go:20)", "\tat main.main(main.go:30)"}
			lines = append(lines, trace...)
			ev := ""
			for _, l := range trace {
				ev += l + "\n"
			}
			events = append(events, ev)
		}
	}
	return lines, events
}

// stored reads the whole stream through the Logs API handlers.
func stored(t *testing.T, svc *logs.Service) []string {
	t.Helper()
	ctx := protocol.WithRequest(context.Background(), &protocol.Request{Caller: protocol.Caller{AccountID: dest.Account, Region: dest.Region}})
	var out []string
	token := ""
	for i := 0; i < 1000; i++ {
		in := &logswire.GetLogEventsRequest{LogGroupName: dest.Group, LogStreamName: dest.Stream, StartFromHead: ptr(true), NextToken: token}
		res, err := svc.GetLogEvents(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range res.Events {
			out = append(out, e.Message)
		}
		if res.NextForwardToken == token {
			return out
		}
		token = res.NextForwardToken
	}
	t.Fatal("GetLogEvents never reached the end")
	return nil
}

func ptr[T any](v T) *T { return &v }

func config(path string, sink awslogs.Sink, opts map[string]string, finished func() bool) awslogs.Config {
	o, err := awslogs.ParseOptions(opts)
	if err != nil {
		panic(err)
	}
	return awslogs.Config{Path: path, Source: "task1/app", Dest: dest, Options: o, Sink: sink, Finished: finished, Clock: fastClock{time.Now()}}
}

func run(t *testing.T, cfg awslogs.Config) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := awslogs.Run(ctx, cfg); err != nil {
		t.Fatal(err)
	}
}

func TestShipMultilineExactlyOnce(t *testing.T) {
	t.Parallel()
	svc := newSink(t, t.TempDir())
	f := newLogFile(t)
	lines, want := appLines(5000)
	f.lines(lines...)
	opts := map[string]string{"awslogs-group": dest.Group, "awslogs-create-group": "true", "awslogs-multiline-pattern": "^[^\t]"}
	run(t, config(f.f.Name(), svc, opts, func() bool { return true }))
	if got := stored(t, svc); !slices.Equal(got, want) {
		t.Fatalf("stored %d events, want %d; first difference at %d", len(got), len(want), firstDiff(got, want))
	}
}

// TestShipResumesWhereDeliveryStopped stops a shipper in the middle of
// the file many times over; every run resumes from the sink's mark, and
// the stream ends with every line exactly once.
func TestShipResumesWhereDeliveryStopped(t *testing.T) {
	t.Parallel()
	svc := newSink(t, t.TempDir())
	f := newLogFile(t)
	lines, want := appLines(30000)
	f.lines(lines...)
	opts := map[string]string{"awslogs-group": dest.Group, "awslogs-create-group": "true", "awslogs-multiline-pattern": "^[^\t]"}
	cfg := config(f.f.Name(), svc, opts, func() bool { return true })
	for i := 0; i < 5; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(5+i*5)*time.Millisecond)
		awslogs.Run(ctx, cfg)
		cancel()
	}
	run(t, cfg)
	if got := stored(t, svc); !slices.Equal(got, want) {
		t.Fatalf("stored %d events, want %d; first difference at %d", len(got), len(want), firstDiff(got, want))
	}
}

func TestShipFollowsAGrowingFile(t *testing.T) {
	t.Parallel()
	svc := newSink(t, t.TempDir())
	f := newLogFile(t)
	var done atomic.Bool
	opts := map[string]string{"awslogs-group": dest.Group, "awslogs-create-group": "true", "awslogs-datetime-format": `\[%H:%M:%S\]`}
	errc := make(chan error, 1)
	go func() { errc <- awslogs.Run(context.Background(), config(f.f.Name(), svc, opts, done.Load)) }()
	f.lines("[10:00:00] start", "[10:00:01] boom", "Traceback:", "  x")
	// A line split by the log driver, with stderr cutting in between.
	f.write(logdriver.Record{Message: "[10:00:02] long ", Partial: true}, logdriver.Record{Message: "line"})
	f.write(logdriver.Record{Message: "[10:00:03] err", Stream: "stderr"})
	time.Sleep(50 * time.Millisecond)
	f.lines("[10:00:04] last")
	done.Store(true)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	want := []string{"[10:00:00] start\n", "[10:00:01] boom\nTraceback:\n  x\n", "[10:00:02] long line\n", "[10:00:03] err\n", "[10:00:04] last\n"}
	if got := stored(t, svc); !slices.Equal(got, want) {
		t.Fatalf("stored %q, want %q", got, want)
	}
}

func TestShipWithoutCreateGroupWaitsForTheGroup(t *testing.T) {
	t.Parallel()
	svc := newSink(t, t.TempDir())
	f := newLogFile(t)
	f.lines("a", "b")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	cfg := config(f.f.Name(), svc, map[string]string{"awslogs-group": dest.Group}, func() bool { return true })
	if err := awslogs.Run(ctx, cfg); err == nil {
		t.Fatal("shipped into a log group that does not exist")
	}
	if err := svc.EnsureGroup(context.Background(), dest); err != nil {
		t.Fatal(err)
	}
	run(t, cfg)
	if got := stored(t, svc); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("stored %q", got)
	}
}

func TestShipNonBlockingDropsTheBacklog(t *testing.T) {
	t.Parallel()
	svc := newSink(t, t.TempDir())
	f := newLogFile(t)
	lines, _ := appLines(20000)
	f.lines(lines...)
	opts := map[string]string{"awslogs-group": dest.Group, "awslogs-create-group": "true", "mode": "non-blocking", "max-buffer-size": "64k"}
	run(t, config(f.f.Name(), svc, opts, func() bool { return true }))
	got := stored(t, svc)
	if len(got) == 0 || len(got) >= len(lines) || got[len(got)-1] != lines[len(lines)-1] {
		t.Fatalf("stored %d of %d lines, last %q", len(got), len(lines), got[len(got)-1])
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestShipRecreatesADeletedStream deletes the stream under a running
// shipper: it makes the stream again and goes on.
func TestShipRecreatesADeletedStream(t *testing.T) {
	t.Parallel()
	svc := newSink(t, t.TempDir())
	f := newLogFile(t)
	var done atomic.Bool
	opts := map[string]string{"awslogs-group": dest.Group, "awslogs-create-group": "true"}
	errc := make(chan error, 1)
	go func() { errc <- awslogs.Run(context.Background(), config(f.f.Name(), svc, opts, done.Load)) }()
	f.lines("before")
	ctx := protocol.WithRequest(context.Background(), &protocol.Request{Caller: protocol.Caller{AccountID: dest.Account, Region: dest.Region}})
	deadline := time.Now().Add(10 * time.Second)
	for len(storedOrNil(t, svc)) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := svc.DeleteLogStream(ctx, &logswire.DeleteLogStreamRequest{LogGroupName: dest.Group, LogStreamName: dest.Stream}); err != nil {
		t.Fatal(err)
	}
	f.lines("after")
	done.Store(true)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if got := stored(t, svc); !slices.Equal(got, []string{"after"}) {
		t.Fatalf("stored %q", got)
	}
}

// storedOrNil is stored, but nil while the stream does not exist.
func storedOrNil(t *testing.T, svc *logs.Service) []string {
	ctx := protocol.WithRequest(context.Background(), &protocol.Request{Caller: protocol.Caller{AccountID: dest.Account, Region: dest.Region}})
	res, err := svc.GetLogEvents(ctx, &logswire.GetLogEventsRequest{LogGroupName: dest.Group, LogStreamName: dest.Stream, StartFromHead: ptr(true)})
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range res.Events {
		out = append(out, e.Message)
	}
	return out
}
