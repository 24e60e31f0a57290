package logstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func newClock() *fakeClock { return &fakeClock{t: t0} }

func openStore(t *testing.T, dir string, clk Clock, segmentBytes int64) *Store {
	t.Helper()
	s, err := Open(Config{Dir: dir, Clock: clk, SegmentBytes: segmentBytes})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustCreate(t *testing.T, s *Store, group string, streams ...string) {
	t.Helper()
	if _, err := s.CreateGroup(group, GroupSettings{}); err != nil && !errors.Is(err, ErrAlreadyExists) {
		t.Fatal(err)
	}
	for _, st := range streams {
		if _, err := s.CreateStream(group, st); err != nil {
			t.Fatal(err)
		}
	}
}

// appendN appends n events with messages "<prefix><i>" and timestamps
// ts0 + i*step ms, in batches of batch.
func appendN(t *testing.T, s *Store, group, stream, prefix string, n, batch int, ts0, step int64) {
	t.Helper()
	for i := 0; i < n; i += batch {
		var evs []InputEvent
		for j := i; j < min(n, i+batch); j++ {
			evs = append(evs, InputEvent{Timestamp: ts0 + int64(j)*step, Message: fmt.Sprintf("%s%d", prefix, j)})
		}
		if _, err := s.Append(group, stream, evs); err != nil {
			t.Fatalf("Append: %v", err)
		}
	}
}

func messages(evs []Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Message
	}
	return out
}

func TestGroupsAndStreamsPersist(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clk := newClock()
	s := openStore(t, dir, clk, 0)

	g, err := s.CreateGroup("/ecs/web", GroupSettings{KMSKeyID: "k1", LogGroupClass: "STANDARD", Tags: map[string]string{"team": "a"}})
	if err != nil {
		t.Fatal(err)
	}
	if g.CreationTime != t0.UnixMilli() || g.Tags["team"] != "a" {
		t.Errorf("CreateGroup = %+v", g)
	}
	if _, err := s.CreateGroup("/ecs/web", GroupSettings{}); !errors.Is(err, ErrAlreadyExists) {
		t.Errorf("duplicate CreateGroup error = %v, want ErrAlreadyExists", err)
	}
	if _, err := s.UpdateGroup("/ecs/web", func(gs *GroupSettings) error { gs.RetentionInDays = 7; gs.Tags["env"] = "dev"; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateGroup("/ecs/web", func(gs *GroupSettings) error { gs.RetentionInDays = 99; return errors.New("refused") }); err == nil {
		t.Error("UpdateGroup should return the update's error")
	}
	mustCreate(t, s, "/ecs/web", "b", "a")
	mustCreate(t, s, "/ecs/api", "x")
	if _, err := s.CreateStream("/ecs/web", "a"); !errors.Is(err, ErrAlreadyExists) {
		t.Errorf("duplicate CreateStream error = %v", err)
	}
	if _, err := s.CreateStream("/nope", "a"); !errors.Is(err, ErrNotFound) {
		t.Errorf("CreateStream in missing group error = %v", err)
	}
	appendN(t, s, "/ecs/api", "x", "m", 3, 3, 1000, 1)
	if err := s.DeleteGroup("/ecs/api"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteStream("/ecs/web", "b"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteStream("/ecs/web", "b"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second DeleteStream error = %v", err)
	}
	s.Close()

	s2 := openStore(t, dir, clk, 0)
	groups := s2.Groups()
	if len(groups) != 1 || groups[0].Name != "/ecs/web" || groups[0].RetentionInDays != 7 || groups[0].Tags["env"] != "dev" || groups[0].KMSKeyID != "k1" {
		t.Fatalf("after reopen Groups = %+v", groups)
	}
	streams, err := s2.Streams("/ecs/web")
	if err != nil || len(streams) != 1 || streams[0].Name != "a" {
		t.Fatalf("after reopen Streams = %+v, %v", streams, err)
	}
	if _, err := s2.Group("/ecs/api"); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted group still there: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "streams")); len(entries) != 0 {
		t.Errorf("stream directories left behind: %d", len(entries))
	}
}

func TestReadPaging(t *testing.T) {
	t.Parallel()
	s := openStore(t, t.TempDir(), newClock(), 0)
	mustCreate(t, s, "g", "s")
	appendN(t, s, "g", "s", "e", 25, 7, 1000, 10) // timestamps 1000..1240

	t.Run("forward pages", func(t *testing.T) {
		var got []string
		pos := uint64(0)
		for range 10 {
			res, err := s.Read("g", "s", ReadQuery{From: pos, Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Events) == 0 {
				if res.Forward != pos {
					t.Errorf("empty page moved the forward position: %d → %d", pos, res.Forward)
				}
				break
			}
			got = append(got, messages(res.Events)...)
			pos = res.Forward
		}
		if len(got) != 25 || got[0] != "e0" || got[24] != "e24" {
			t.Errorf("forward read %d events: %v", len(got), got)
		}
	})
	t.Run("backward pages from the end", func(t *testing.T) {
		var pages [][]string
		pos := EndOfStream
		for range 10 {
			res, err := s.Read("g", "s", ReadQuery{From: pos, Backward: true, Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Events) == 0 {
				if res.Backward != pos {
					t.Errorf("empty page moved the backward position")
				}
				break
			}
			pages = append(pages, messages(res.Events))
			pos = res.Backward
		}
		want := [][]string{{"e15", "e24"}, {"e5", "e14"}, {"e0", "e4"}}
		if len(pages) != len(want) {
			t.Fatalf("backward pages = %v", pages)
		}
		for i, p := range pages {
			if p[0] != want[i][0] || p[len(p)-1] != want[i][1] {
				t.Errorf("page %d = %v, want %s..%s", i, p, want[i][0], want[i][1])
			}
		}
	})
	t.Run("forward token of a backward page", func(t *testing.T) {
		back, _ := s.Read("g", "s", ReadQuery{From: EndOfStream, Backward: true, Limit: 5})
		res, _ := s.Read("g", "s", ReadQuery{From: back.Forward, Limit: 5})
		if len(res.Events) != 0 || res.Forward != back.Forward {
			t.Errorf("reading forward after the newest page gave %v", messages(res.Events))
		}
		appendN(t, s, "g", "s", "late", 1, 1, 5000, 1)
		res, _ = s.Read("g", "s", ReadQuery{From: back.Forward, Limit: 5})
		if len(res.Events) != 1 || res.Events[0].Message != "late0" {
			t.Errorf("new event not found from the end token: %v", messages(res.Events))
		}
	})
	t.Run("time window", func(t *testing.T) {
		res, err := s.Read("g", "s", ReadQuery{StartTime: 1050, EndTime: 1100})
		if err != nil {
			t.Fatal(err)
		}
		if got := messages(res.Events); len(got) != 5 || got[0] != "e5" || got[4] != "e9" {
			t.Errorf("window [1050,1100) = %v", got)
		}
	})
	t.Run("stream description", func(t *testing.T) {
		d, err := s.Stream("g", "s")
		if err != nil {
			t.Fatal(err)
		}
		if d.FirstEventTimestamp != 1000 || d.LastEventTimestamp != 5000 || d.LastIngestionTime != t0.UnixMilli() || d.StoredBytes == 0 {
			t.Errorf("Stream = %+v", d)
		}
	})
}

func TestTornWriteIsTruncatedOnOpen(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		tail func(validBlock []byte) []byte
	}{
		{"half a header", func(b []byte) []byte { return b[:blockHeaderSize/2] }},
		{"header without payload", func(b []byte) []byte { return b[:blockHeaderSize+1] }},
		{"all but the last byte", func(b []byte) []byte { return b[:len(b)-1] }},
		{"corrupt payload", func(b []byte) []byte { c := append([]byte(nil), b...); c[len(c)-1] ^= 0xff; return c }},
		{"garbage", func([]byte) []byte { return []byte("not a block at all, just noise") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			clk := newClock()
			s := openStore(t, dir, clk, 0)
			mustCreate(t, s, "g", "s")
			appendN(t, s, "g", "s", "ok", 10, 4, 1000, 1)
			s.Close()

			seg := onlySegment(t, dir)
			block, _ := encodeBlock(nil, []storedEvent{{seq: 10, timestamp: 2000, ingestion: 1, message: "never acknowledged"}})
			f, err := os.OpenFile(seg, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.Write(tc.tail(block))
			f.Close()

			s2 := openStore(t, dir, clk, 0)
			res, err := s2.Read("g", "s", ReadQuery{})
			if err != nil {
				t.Fatal(err)
			}
			if got := messages(res.Events); len(got) != 10 || got[9] != "ok9" {
				t.Fatalf("after reopen events = %v", got)
			}
			r, err := s2.Append("g", "s", []InputEvent{{Timestamp: 3000, Message: "after"}})
			if err != nil || r.FirstSeq != 10 {
				t.Fatalf("Append after recovery = %+v, %v", r, err)
			}
			res, _ = s2.Read("g", "s", ReadQuery{From: 10})
			if got := messages(res.Events); len(got) != 1 || got[0] != "after" {
				t.Errorf("event after recovery = %v", got)
			}
		})
	}
}

func onlySegment(t *testing.T, dir string) string {
	t.Helper()
	segs, _ := filepath.Glob(filepath.Join(dir, "streams", "*", "*.seg"))
	if len(segs) != 1 {
		t.Fatalf("want one segment, have %v", segs)
	}
	return segs[0]
}

func TestRetention(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clk := newClock()
	s := openStore(t, dir, clk, 4096)
	mustCreate(t, s, "g", "s")
	day := int64(24 * time.Hour / time.Millisecond)
	now := t0.UnixMilli()
	appendN(t, s, "g", "s", "old", 300, 50, now-10*day, 1000) // ten days old
	appendN(t, s, "g", "s", "new", 300, 50, now-day/2, 1000)  // half a day old
	before, _ := s.Stream("g", "s")

	if _, err := s.UpdateGroup("g", func(gs *GroupSettings) error { gs.RetentionInDays = 1; return nil }); err != nil {
		t.Fatal(err)
	}
	res, _ := s.Read("g", "s", ReadQuery{})
	if len(res.Events) != 300 || res.Events[0].Message != "new0" {
		t.Fatalf("expired events not hidden: %d events, first %q", len(res.Events), res.Events[0].Message)
	}
	if err := s.Maintain(); err != nil {
		t.Fatal(err)
	}
	after, _ := s.Stream("g", "s")
	if after.StoredBytes >= before.StoredBytes || after.FirstEventTimestamp != now-day/2 {
		t.Errorf("retention left %d of %d bytes, first event %d", after.StoredBytes, before.StoredBytes, after.FirstEventTimestamp)
	}

	// Lift retention: the deleted events must not come back, even after a restart.
	s.UpdateGroup("g", func(gs *GroupSettings) error { gs.RetentionInDays = 0; return nil })
	s.Close()
	s2 := openStore(t, dir, clk, 4096)
	res, _ = s2.Read("g", "s", ReadQuery{})
	if got := messages(res.Events); len(got) != 300 || got[0] != "new0" || got[299] != "new299" {
		t.Errorf("after Maintain and reopen: %d events, first %q", len(got), got[0])
	}

	// Everything expires: numbering still continues after a restart.
	clk.Add(30 * 24 * time.Hour)
	s2.UpdateGroup("g", func(gs *GroupSettings) error { gs.RetentionInDays = 1; return nil })
	if err := s2.Maintain(); err != nil {
		t.Fatal(err)
	}
	s2.Close()
	s3 := openStore(t, dir, clk, 4096)
	r, err := s3.Append("g", "s", []InputEvent{{Timestamp: clk.Now().UnixMilli(), Message: "fresh"}})
	if err != nil || r.FirstSeq != 600 {
		t.Errorf("append after full expiry = %+v, %v; want seq 600", r, err)
	}
}

func TestConcurrentAppendsGroupCommit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clk := newClock()
	s := openStore(t, dir, clk, 0)
	mustCreate(t, s, "g", "s")
	const writers, perWriter = 8, 50
	var wg sync.WaitGroup
	seen := make(chan AppendResult, writers*perWriter)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				r, err := s.Append("g", "s", []InputEvent{{Timestamp: 1, Message: fmt.Sprintf("w%d-%d", w, i)}, {Timestamp: 2, Message: "pair"}})
				if err != nil {
					t.Error(err)
					return
				}
				seen <- r
			}
		}()
	}
	wg.Wait()
	close(seen)
	used := map[uint64]bool{}
	for r := range seen {
		if r.LastSeq != r.FirstSeq+1 || used[r.FirstSeq] || used[r.LastSeq] {
			t.Fatalf("bad or overlapping sequence numbers %+v", r)
		}
		used[r.FirstSeq], used[r.LastSeq] = true, true
	}
	s.Close()
	s2 := openStore(t, dir, clk, 0)
	res, _ := s2.Read("g", "s", ReadQuery{})
	if len(res.Events) != writers*perWriter*2 {
		t.Fatalf("after reopen %d events, want %d", len(res.Events), writers*perWriter*2)
	}
	for i, e := range res.Events {
		if e.Seq != uint64(i) {
			t.Fatalf("event %d has seq %d", i, e.Seq)
		}
	}
}

func TestScanMergesStreams(t *testing.T) {
	t.Parallel()
	s := openStore(t, t.TempDir(), newClock(), 0)
	mustCreate(t, s, "g", "web/a", "web/b", "db")
	appendN(t, s, "g", "web/a", "a", 20, 5, 1000, 3) // 1000,1003,...
	appendN(t, s, "g", "web/b", "b", 20, 6, 1001, 3)
	appendN(t, s, "g", "db", "d", 20, 20, 1000, 3) // same timestamps as web/a

	var all []Event
	if err := s.Scan(context.Background(), "g", ScanQuery{}, func(e Event) bool { all = append(all, e); return true }); err != nil {
		t.Fatal(err)
	}
	if len(all) != 60 {
		t.Fatalf("scan found %d events", len(all))
	}
	for i := 1; i < len(all); i++ {
		if !all[i-1].Cursor().less(all[i].Cursor()) {
			t.Fatalf("out of order at %d: %+v then %+v", i, all[i-1], all[i])
		}
	}
	if all[0].Stream != "db" || all[1].Stream != "web/a" || all[2].Stream != "web/b" {
		t.Errorf("first events from %s, %s, %s", all[0].Stream, all[1].Stream, all[2].Stream)
	}

	t.Run("pages with cursor", func(t *testing.T) {
		var paged []Event
		var after *Cursor
		for range 20 {
			var page []Event
			s.Scan(context.Background(), "g", ScanQuery{After: after}, func(e Event) bool { page = append(page, e); return len(page) < 7 })
			if len(page) == 0 {
				break
			}
			paged = append(paged, page...)
			c := page[len(page)-1].Cursor()
			after = &c
		}
		if len(paged) != len(all) {
			t.Fatalf("paged scan found %d events, want %d", len(paged), len(all))
		}
		for i := range paged {
			if paged[i].Cursor() != all[i].Cursor() {
				t.Fatalf("page event %d = %+v, want %+v", i, paged[i], all[i])
			}
		}
	})
	t.Run("prefix and time window", func(t *testing.T) {
		var got []Event
		s.Scan(context.Background(), "g", ScanQuery{StreamPrefix: "web/", StartTime: 1003, EndTime: 1010}, func(e Event) bool { got = append(got, e); return true })
		if m := messages(got); len(m) != 5 || m[0] != "a1" || m[1] != "b1" || m[4] != "a3" {
			t.Errorf("prefix window scan = %v", m)
		}
	})
	t.Run("match keeps order and pages", func(t *testing.T) {
		var got []Event
		odd := func(m string) bool { return (m[len(m)-1]-'0')%2 == 1 }
		s.Scan(context.Background(), "g", ScanQuery{Match: odd}, func(e Event) bool { got = append(got, e); return true })
		var want []Event
		for _, e := range all {
			if odd(e.Message) {
				want = append(want, e)
			}
		}
		if len(got) != len(want) || len(got) == 0 {
			t.Fatalf("match scan found %d, want %d", len(got), len(want))
		}
		for i := range got {
			if got[i].Cursor() != want[i].Cursor() {
				t.Fatalf("match scan event %d = %+v, want %+v", i, got[i], want[i])
			}
		}
	})
	t.Run("named streams", func(t *testing.T) {
		n := 0
		s.Scan(context.Background(), "g", ScanQuery{Streams: []string{"db", "missing"}}, func(e Event) bool {
			if e.Stream != "db" {
				t.Errorf("event from %s", e.Stream)
			}
			n++
			return true
		})
		if n != 20 {
			t.Errorf("named stream scan found %d", n)
		}
	})
}

func TestMaintainMergesSmallBlocks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clk := newClock()
	s := openStore(t, dir, clk, 2048)
	mustCreate(t, s, "g", "s")
	appendN(t, s, "g", "s", "tiny-event-", 2000, 1, 1000, 1)
	blocksBefore, segsBefore := countBlocks(s, "g", "s")
	preMerge := copySegments(t, dir)

	// The first pass merges each segment's blocks; the second merges the
	// now small segments.
	for range 2 {
		if err := s.Maintain(); err != nil {
			t.Fatal(err)
		}
	}
	blocksAfter, segsAfter := countBlocks(s, "g", "s")
	if blocksAfter >= blocksBefore/10 || segsAfter >= segsBefore/2 {
		t.Errorf("blocks %d → %d, segments %d → %d", blocksBefore, blocksAfter, segsBefore, segsAfter)
	}
	checkSequential(t, s, 2000)

	// A crash after the merged file was renamed in but before its inputs
	// were removed leaves covered segments behind: reopening drops them.
	s.Close()
	for name, data := range preMerge {
		if _, err := os.Stat(name); errors.Is(err, os.ErrNotExist) {
			os.WriteFile(name, data, 0o600)
		}
	}
	s2 := openStore(t, dir, clk, 2048)
	checkSequential(t, s2, 2000)
	r, err := s2.Append("g", "s", []InputEvent{{Timestamp: 9999, Message: "next"}})
	if err != nil || r.FirstSeq != 2000 {
		t.Errorf("append after merge = %+v, %v", r, err)
	}
}

func countBlocks(s *Store, group, stream string) (blocks, segs int) {
	_, st, _ := s.lookupStream(group, stream)
	for _, sv := range st.snapshot() {
		blocks += len(sv.blocks)
		segs++
	}
	return blocks, segs
}

func copySegments(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(dir, "streams", "*", "*.seg"))
	out := map[string][]byte{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[p] = data
	}
	return out
}

func checkSequential(t *testing.T, s *Store, n int) {
	t.Helper()
	res, err := s.Read("g", "s", ReadQuery{Limit: n + 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Events) != n {
		t.Fatalf("read %d events, want %d", len(res.Events), n)
	}
	for i, e := range res.Events {
		if e.Seq != uint64(i) || e.Message != fmt.Sprintf("tiny-event-%d", i) {
			t.Fatalf("event %d = %+v", i, e)
		}
	}
}

func TestAppendErrors(t *testing.T) {
	t.Parallel()
	s := openStore(t, t.TempDir(), newClock(), 0)
	mustCreate(t, s, "g", "s")
	tests := []struct {
		name, group, stream string
		events              []InputEvent
		want                error
	}{
		{"missing group", "nope", "s", []InputEvent{{1, "x"}}, ErrNotFound},
		{"missing stream", "g", "nope", []InputEvent{{1, "x"}}, ErrNotFound},
	}
	for _, tc := range tests {
		if _, err := s.Append(tc.group, tc.stream, tc.events); !errors.Is(err, tc.want) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := s.Append("g", "s", nil); err == nil {
		t.Error("empty append should fail")
	}
	if _, err := s.Append("g", "s", []InputEvent{{1, strings.Repeat("x", MaxMessageBytes+1)}}); err == nil {
		t.Error("an oversized message should fail")
	}
	s.Close()
	if _, err := s.Append("g", "s", []InputEvent{{1, "x"}}); !errors.Is(err, ErrClosed) {
		t.Errorf("append after close: %v", err)
	}
}

// TestTimeIndexSkipsBlocks corrupts the payload of the oldest block: reads
// whose window excludes it must not touch it, reads that include it must
// report the damage.
func TestTimeIndexSkipsBlocks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clk := newClock()
	s := openStore(t, dir, clk, 0)
	mustCreate(t, s, "g", "s", "other")
	appendN(t, s, "g", "s", "first", 100, 100, 1000, 1)  // block 1: 1000..1099
	appendN(t, s, "g", "s", "second", 100, 100, 5000, 1) // block 2: 5000..5099
	appendN(t, s, "g", "other", "o", 10, 10, 6000, 1)
	s.Close()

	// Damage the block while the store is open (so the check on open does
	// not see it); only reads that decode the block can notice.
	s2 := openStore(t, dir, clk, 0)
	_, st, _ := s2.lookupStream("g", "s")
	sg := st.segs[0]
	f, err := os.OpenFile(sg.path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte{0xde, 0xad}, sg.blocks[0].offset+blockHeaderSize+2)
	f.Close()

	tests := []struct {
		name    string
		query   ReadQuery
		wantErr bool
	}{
		{"window after the damaged block", ReadQuery{StartTime: 5000}, false},
		{"backward within the newer block", ReadQuery{StartTime: 4000, EndTime: 6000, Backward: true, From: EndOfStream}, false},
		{"forward from a position past it", ReadQuery{From: 100}, false},
		{"window including it", ReadQuery{StartTime: 1050, EndTime: 1060}, true},
	}
	for _, tc := range tests {
		res, err := s2.Read("g", "s", tc.query)
		if (err != nil) != tc.wantErr {
			t.Errorf("%s: err = %v, wantErr %v", tc.name, err, tc.wantErr)
		}
		if !tc.wantErr && (len(res.Events) == 0 || res.Events[0].Message[:6] != "second") {
			t.Errorf("%s: events %v", tc.name, messages(res.Events))
		}
	}
	var n int
	err = s2.Scan(context.Background(), "g", ScanQuery{StartTime: 5050}, func(Event) bool { n++; return true })
	if err != nil || n != 60 {
		t.Errorf("scan after the damaged block: %d events, %v", n, err)
	}
}

// TestConcurrentAppendReadMaintain runs appends, reads, scans and Maintain
// at once (run with -race), then checks nothing was lost or duplicated.
func TestConcurrentAppendReadMaintain(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clk := newClock()
	s := openStore(t, dir, clk, 1024)
	mustCreate(t, s, "g", "s")
	const writers, perWriter = 4, 100
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				ts := int64(1000 + i)
				if _, err := s.Append("g", "s", []InputEvent{{Timestamp: ts, Message: fmt.Sprintf("w%d-%03d", w, i)}}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	var readers sync.WaitGroup
	readers.Add(1)
	go func() {
		defer readers.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			if err := s.Maintain(); err != nil {
				t.Error(err)
				return
			}
			if _, err := s.Read("g", "s", ReadQuery{From: EndOfStream, Backward: true, Limit: 50}); err != nil {
				t.Error(err)
				return
			}
			s.Scan(context.Background(), "g", ScanQuery{}, func(Event) bool { return true })
		}
	}()
	wg.Wait()
	close(done)
	readers.Wait()
	if err := s.Maintain(); err != nil {
		t.Fatal(err)
	}
	res, err := s.Read("g", "s", ReadQuery{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i, e := range res.Events {
		if e.Seq != uint64(i) || seen[e.Message] {
			t.Fatalf("event %d: seq %d, message %q (duplicate: %v)", i, e.Seq, e.Message, seen[e.Message])
		}
		seen[e.Message] = true
	}
	if len(seen) != writers*perWriter {
		t.Errorf("%d events, want %d", len(seen), writers*perWriter)
	}
}

// TestRetentionRewritesOnlyWorthwhileSegments checks that a segment with
// few expired blocks is left for reads to filter, and rewritten once a
// quarter of its blocks expired.
func TestRetentionRewritesOnlyWorthwhileSegments(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := openStore(t, t.TempDir(), clk, 0)
	mustCreate(t, s, "g", "s")
	day := int64(24 * time.Hour / time.Millisecond)
	now := clk.Now().UnixMilli()
	for i := range 8 { // one block per day, from 8 days ago to yesterday
		appendN(t, s, "g", "s", fmt.Sprintf("d%d-", i), 10, 10, now-int64(8-i)*day, 1)
	}
	s.UpdateGroup("g", func(gs *GroupSettings) error { gs.RetentionInDays = 7; return nil })
	stored := func() int64 { d, _ := s.Stream("g", "s"); return d.StoredBytes }
	visible := func() int { r, _ := s.Read("g", "s", ReadQuery{}); return len(r.Events) }

	before := stored()
	if err := s.Maintain(); err != nil {
		t.Fatal(err)
	}
	if stored() != before || visible() != 70 {
		t.Errorf("one expired block of eight: stored %d → %d, visible %d; want no rewrite and 70 visible", before, stored(), visible())
	}
	clk.Add(24 * time.Hour)
	if err := s.Maintain(); err != nil {
		t.Fatal(err)
	}
	if stored() >= before || visible() != 60 {
		t.Errorf("two expired blocks of eight: stored %d → %d, visible %d; want a rewrite and 60 visible", before, stored(), visible())
	}
	if d, _ := s.Stream("g", "s"); d.FirstEventTimestamp != now-6*day {
		t.Errorf("first event %d, want %d", d.FirstEventTimestamp, now-6*day)
	}
}

// TestLargeEventsSurviveReopen stores events at the size limit, which get
// blocks of their own, and reads them back after a reopen.
func TestLargeEventsSurviveReopen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clk := newClock()
	s := openStore(t, dir, clk, 0)
	mustCreate(t, s, "g", "s")
	big := strings.Repeat("a", MaxMessageBytes)
	evs := []InputEvent{{1, big}, {2, "small"}, {3, big}, {4, big}}
	if _, err := s.Append("g", "s", evs); err != nil {
		t.Fatal(err)
	}
	s.Close()
	res, err := openStore(t, dir, clk, 0).Read("g", "s", ReadQuery{})
	if err != nil || len(res.Events) != 4 || res.Events[3].Message != big || res.Events[1].Message != "small" {
		t.Fatalf("after reopen: %d events, %v", len(res.Events), err)
	}
}
