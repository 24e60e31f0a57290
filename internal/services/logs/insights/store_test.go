package insights

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kumo-project/kumo/internal/services/logs/logstore"
)

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

// TestQueryOverStoredGroups runs the seeds digest query over two log
// groups read from a real store, as StartQuery will.
func TestQueryOverStoredGroups(t *testing.T) {
	t.Parallel()
	s, err := logstore.Open(logstore.Config{Dir: t.TempDir(), Clock: fixedClock{base.Add(time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	groups := map[string][]string{
		"/ecs/web": {"GET / 200", "WARNING: slow", "GET /x 200"},
		"/ecs/api": {"error: db down", "ok", "Error again"},
	}
	for g, msgs := range groups {
		s.CreateGroup(g, logstore.GroupSettings{})
		s.CreateStream(g, "task/1")
		var evs []logstore.InputEvent
		for i, m := range msgs {
			offset := int64(i) * 2000
			if g == "/ecs/api" {
				offset += 1000 // interleave the two groups in time
			}
			evs = append(evs, logstore.InputEvent{Timestamp: base.UnixMilli() + offset, Message: m})
		}
		if _, err := s.Append(g, "task/1", evs); err != nil {
			t.Fatal(err)
		}
	}

	q, err := Parse(`fields @timestamp, @message, @log | filter @message like /(?i)(Warning|Error)/ | sort @timestamp desc | limit 100`)
	if err != nil {
		t.Fatal(err)
	}
	x := q.NewExecution()
	for _, g := range []string{"/ecs/web", "/ecs/api"} {
		err := s.Scan(context.Background(), g, logstore.ScanQuery{StartTime: base.UnixMilli(), EndTime: base.Add(time.Minute).UnixMilli()}, func(e logstore.Event) bool {
			x.Add(Event{Timestamp: e.Timestamp, IngestionTime: e.IngestionTime, Message: e.Message, LogStream: e.Stream,
				Log: "000000000000:" + g, Ptr: fmt.Sprintf("%s/%s/%d", g, e.Stream, e.Seq)})
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	res := x.Result()
	want := [][2]string{
		{"Error again", "000000000000:/ecs/api"},
		{"WARNING: slow", "000000000000:/ecs/web"},
		{"error: db down", "000000000000:/ecs/api"},
	}
	if len(res.Rows) != len(want) {
		t.Fatalf("rows %v", res.Rows)
	}
	for i, row := range res.Rows {
		if row[1].Value != want[i][0] || row[2].Value != want[i][1] || row[3].Field != "@ptr" {
			t.Errorf("row %d = %v, want message %q from %q", i, row, want[i][0], want[i][1])
		}
	}
	if res.Statistics.RecordsScanned != 6 || res.Statistics.RecordsMatched != 3 {
		t.Errorf("statistics %+v", res.Statistics)
	}
}
