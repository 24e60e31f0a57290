package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kumo-project/kumo/internal/services/logs/filterpattern"
	"github.com/kumo-project/kumo/internal/services/logs/insights"
	"github.com/kumo-project/kumo/internal/services/logs/logstore"
)

const (
	totalEvents = 1_000_000
	streams     = 10
	group       = "/ecs/bench"
)

var start = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

// fixture is a store holding totalEvents events and the same messages in
// a text file for grep.
type fixture struct {
	store    *logstore.Store
	textFile string
}

var (
	fixtureOnce sync.Once
	shared      fixture
	fixtureErr  error
	fixtureDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.store != nil {
		shared.store.Close()
	}
	if fixtureDir != "" {
		os.RemoveAll(fixtureDir)
	}
	os.Exit(code)
}

// message makes the i-th event's text: an access-log style line, one in a
// hundred an ERROR.
func message(i int) string {
	level, status := "INFO", 200
	if i%100 == 7 {
		level, status = "ERROR", 500
	}
	return fmt.Sprintf("2026-11-01T00:00:00Z %s request id=%08x path=/api/items/%d status=%d latency_ms=%d user=u%d",
		level, i*2654435761, i%5000, status, i%250, i%977)
}

func loadFixture(b *testing.B) fixture {
	b.Helper()
	fixtureOnce.Do(func() {
		fixtureDir, fixtureErr = os.MkdirTemp("", "kumo-logs-bench-")
		if fixtureErr != nil {
			return
		}
		shared, fixtureErr = buildFixture(fixtureDir)
	})
	if fixtureErr != nil {
		b.Fatal(fixtureErr)
	}
	return shared
}

// buildFixture spreads totalEvents over the streams, 60 ms apart (about
// 16.7 hours, 1,000 one-minute bins), appended in batches of 5,000.
func buildFixture(dir string) (fixture, error) {
	s, err := logstore.Open(logstore.Config{Dir: filepath.Join(dir, "store"), Clock: fixedClock{start.Add(24 * time.Hour)}})
	if err != nil {
		return fixture{}, err
	}
	if _, err := s.CreateGroup(group, logstore.GroupSettings{}); err != nil {
		return fixture{}, err
	}
	for i := range streams {
		if _, err := s.CreateStream(group, fmt.Sprintf("web/%d", i)); err != nil {
			return fixture{}, err
		}
	}
	var text strings.Builder
	const batch = 5000
	for i := 0; i < totalEvents; i += batch * streams {
		for st := range streams {
			evs := make([]logstore.InputEvent, 0, batch)
			for j := i + st; j < i+batch*streams && j < totalEvents; j += streams {
				m := message(j)
				evs = append(evs, logstore.InputEvent{Timestamp: start.UnixMilli() + int64(j)*60, Message: m})
				text.WriteString(m)
				text.WriteByte('\n')
			}
			if _, err := s.Append(group, fmt.Sprintf("web/%d", st), evs); err != nil {
				return fixture{}, err
			}
		}
	}
	textFile := filepath.Join(dir, "events.txt")
	return fixture{store: s, textFile: textFile}, os.WriteFile(textFile, []byte(text.String()), 0o600)
}

// BenchmarkAppend measures durable appends of 1,000-event batches (one
// write and one fsync each), as PutLogEvents or the awslogs driver send.
func BenchmarkAppend(b *testing.B) {
	s, err := logstore.Open(logstore.Config{Dir: b.TempDir(), Clock: fixedClock{start}})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	s.CreateGroup(group, logstore.GroupSettings{})
	s.CreateStream(group, "s")
	batch := make([]logstore.InputEvent, 1000)
	for i := range batch {
		batch[i] = logstore.InputEvent{Timestamp: start.UnixMilli() + int64(i), Message: message(i)}
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Append(group, "s", batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkAppendConcurrent measures many writers of 10-event batches to
// one stream, where group commit shares fsyncs.
func BenchmarkAppendConcurrent(b *testing.B) {
	s, err := logstore.Open(logstore.Config{Dir: b.TempDir(), Clock: fixedClock{start}})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	s.CreateGroup(group, logstore.GroupSettings{})
	s.CreateStream(group, "s")
	batch := make([]logstore.InputEvent, 10)
	for i := range batch {
		batch[i] = logstore.InputEvent{Timestamp: start.UnixMilli() + int64(i), Message: message(i)}
	}
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Append(group, "s", batch); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkFilterTerm is FilterLogEvents with the pattern ERROR over all
// 1,000,000 events of ten streams, merged in timestamp order.
func BenchmarkFilterTerm(b *testing.B) {
	f := loadFixture(b)
	pattern := filterpattern.MustCompile("ERROR")
	b.ResetTimer()
	for b.Loop() {
		matched := 0
		err := f.store.Scan(context.Background(), group, logstore.ScanQuery{Match: pattern.Match}, func(e logstore.Event) bool {
			matched++
			return true
		})
		if err != nil || matched != totalEvents/100 {
			b.Fatalf("matched %d, err %v", matched, err)
		}
	}
	reportCompression(b, f)
}

// reportCompression reports the store's size as a share of the plain text.
func reportCompression(b *testing.B, f fixture) {
	g, err := f.store.Group(group)
	st, statErr := os.Stat(f.textFile)
	if err != nil || statErr != nil {
		b.Fatal(err, statErr)
	}
	b.ReportMetric(float64(g.StoredBytes)/float64(st.Size()), "stored/text")
}

// BenchmarkInsightsStatsByBin is `stats count(*) by bin(1m)` over all
// 1,000,000 events, read from the store.
func BenchmarkInsightsStatsByBin(b *testing.B) {
	f := loadFixture(b)
	q, err := insights.Parse("stats count(*) by bin(1m)")
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		x := q.NewExecution()
		err := f.store.Scan(context.Background(), group, logstore.ScanQuery{}, func(e logstore.Event) bool {
			x.Add(insights.Event{Timestamp: e.Timestamp, IngestionTime: e.IngestionTime, Message: e.Message, LogStream: e.Stream})
			return true
		})
		res := x.Result()
		if err != nil || len(res.Rows) != 1000 || res.Statistics.RecordsScanned != totalEvents {
			b.Fatalf("%d rows, %v scanned, err %v", len(res.Rows), res.Statistics.RecordsScanned, err)
		}
	}
}

// BenchmarkGrepCount is the floor: grep -c ERROR over the same messages as
// a plain text file (in the page cache after the first run).
func BenchmarkGrepCount(b *testing.B) {
	f := loadFixture(b)
	grep, err := exec.LookPath("grep")
	if err != nil {
		b.Skip("grep not installed")
	}
	b.ResetTimer()
	for b.Loop() {
		out, err := exec.Command(grep, "-c", "ERROR", f.textFile).Output()
		if err != nil || strings.TrimSpace(string(out)) != fmt.Sprint(totalEvents/100) {
			b.Fatalf("grep -c: %q, %v", out, err)
		}
	}
}
