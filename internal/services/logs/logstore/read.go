package logstore

import (
	"container/heap"
	"context"
	"math"
	"os"
	"slices"
	"strings"
)

// EndOfStream is the position after every event: a backward read from it
// returns the newest events.
const EndOfStream uint64 = math.MaxUint64

// Event is a stored log event.
type Event struct {
	Stream        string
	Seq           uint64 // per stream, increasing in append order
	Timestamp     int64  // ms since the epoch
	IngestionTime int64  // ms since the epoch
	Message       string
}

// ReadQuery selects events of one stream. Positions are sequence numbers:
// a forward read returns events with Seq >= From, a backward read the
// events nearest below From.
type ReadQuery struct {
	StartTime int64 // inclusive, ms
	EndTime   int64 // exclusive, ms; 0 means no bound
	From      uint64
	Backward  bool
	Limit     int // at most this many events; <= 0 means 10,000
}

// ReadResult is a page of events in append order, and the positions to
// continue from: Forward for the next page, Backward for the previous one.
// A page with no events leaves the position where it was, as AWS returns
// the same token at the end of a stream.
type ReadResult struct {
	Events   []Event
	Forward  uint64
	Backward uint64
}

// segView is a reader's snapshot of one segment.
type segView struct {
	r      *os.File
	blocks []blockInfo
}

// snapshot captures the stream's segments and blocks; appends and
// Maintain may proceed while the caller reads it.
func (st *stream) snapshot() []segView {
	st.mu.RLock()
	defer st.mu.RUnlock()
	out := make([]segView, len(st.segs))
	for i, sg := range st.segs {
		out[i] = segView{r: sg.r, blocks: sg.blocks[:len(sg.blocks):len(sg.blocks)]}
	}
	return out
}

// window is a time range with the retention cutoff applied.
type window struct{ start, end int64 }

func (w window) holds(ts int64) bool { return ts >= w.start && (w.end <= 0 || ts < w.end) }

func (s *Store) window(g *group, start, end int64) window {
	return window{start: max(start, g.cutoff(s.nowMillis())), end: end}
}

// Read returns a page of one stream's events within [StartTime, EndTime).
func (s *Store) Read(groupName, streamName string, q ReadQuery) (ReadResult, error) {
	g, st, err := s.lookupStream(groupName, streamName)
	if err != nil {
		return ReadResult{}, err
	}
	if q.Limit <= 0 {
		q.Limit = 10000
	}
	w := s.window(g, q.StartTime, q.EndTime)
	var events []Event
	if q.Backward {
		events, err = readBackward(st, w, q)
	} else {
		events, err = readForward(st, w, q)
	}
	if err != nil {
		return ReadResult{}, err
	}
	res := ReadResult{Events: events, Forward: q.From, Backward: q.From}
	if len(events) > 0 {
		res.Backward = events[0].Seq
		res.Forward = events[len(events)-1].Seq + 1
	}
	return res, nil
}

func readForward(st *stream, w window, q ReadQuery) ([]Event, error) {
	var out []Event
	for _, sv := range st.snapshot() {
		for _, b := range sv.blocks {
			if b.lastSeq < q.From || !b.overlaps(w.start, w.end) {
				continue
			}
			evs, err := readBlock(sv.r, b)
			if err != nil {
				return nil, err
			}
			for _, e := range evs {
				if e.seq >= q.From && w.holds(e.timestamp) {
					out = append(out, st.event(e))
					if len(out) == q.Limit {
						return out, nil
					}
				}
			}
		}
	}
	return out, nil
}

func readBackward(st *stream, w window, q ReadQuery) ([]Event, error) {
	var out []Event
	segs := st.snapshot()
	for si := len(segs) - 1; si >= 0 && len(out) < q.Limit; si-- {
		sv := segs[si]
		for bi := len(sv.blocks) - 1; bi >= 0 && len(out) < q.Limit; bi-- {
			b := sv.blocks[bi]
			if b.firstSeq >= q.From || !b.overlaps(w.start, w.end) {
				continue
			}
			evs, err := readBlock(sv.r, b)
			if err != nil {
				return nil, err
			}
			for i := len(evs) - 1; i >= 0 && len(out) < q.Limit; i-- {
				if e := evs[i]; e.seq < q.From && w.holds(e.timestamp) {
					out = append(out, st.event(e))
				}
			}
		}
	}
	slices.Reverse(out)
	return out, nil
}

func (st *stream) event(e storedEvent) Event {
	return Event{Stream: st.name, Seq: e.seq, Timestamp: e.timestamp, IngestionTime: e.ingestion, Message: e.message}
}

// Cursor is a place in a Scan's order: (Timestamp, Stream, Seq).
type Cursor struct {
	Timestamp int64
	Stream    string
	Seq       uint64
}

// Cursor returns the event's place in a Scan's order.
func (e Event) Cursor() Cursor { return Cursor{Timestamp: e.Timestamp, Stream: e.Stream, Seq: e.Seq} }

// less orders cursors by timestamp, then stream name, then sequence.
func (c Cursor) less(o Cursor) bool {
	if c.Timestamp != o.Timestamp {
		return c.Timestamp < o.Timestamp
	}
	if c.Stream != o.Stream {
		return c.Stream < o.Stream
	}
	return c.Seq < o.Seq
}

// ScanQuery selects events of several streams of a group.
type ScanQuery struct {
	// Streams limits the scan to these stream names (unknown names are
	// skipped); StreamPrefix to names with this prefix. Both empty: all.
	Streams      []string
	StreamPrefix string
	StartTime    int64 // inclusive, ms
	EndTime      int64 // exclusive, ms; 0 means no bound
	// After resumes a scan strictly after this place (a pagination token).
	After *Cursor
	// Match, if set, keeps only events whose message it accepts. Filtering
	// inside each stream's iterator spares the merge the events it drops.
	Match func(message string) bool
}

// Scan calls fn with the group's matching events in (timestamp, stream,
// seq) order, merging the streams, until fn returns false. The merge
// assumes each stream's events are in timestamp order, which holds when
// producers append chronologically (as PutLogEvents batches must be).
func (s *Store) Scan(ctx context.Context, groupName string, q ScanQuery, fn func(Event) bool) error {
	g, err := s.lookupGroup(groupName)
	if err != nil {
		return err
	}
	w := s.window(g, q.StartTime, q.EndTime)
	if q.After != nil {
		w.start = max(w.start, q.After.Timestamp)
	}
	var h iterHeap
	for _, st := range selectStreams(g, q) {
		it := &streamIter{name: st.name, segs: st.snapshot(), w: w, after: q.After, match: q.Match, ctx: ctx}
		ok, err := it.next()
		if err != nil {
			return err
		}
		if ok {
			h = append(h, it)
		}
	}
	heap.Init(&h)
	for len(h) > 0 {
		it := h[0]
		if !fn(it.cur) {
			return nil
		}
		ok, err := it.next()
		if err != nil {
			return err
		}
		if ok {
			heap.Fix(&h, 0)
		} else {
			heap.Pop(&h)
		}
	}
	return nil
}

func selectStreams(g *group, q ScanQuery) []*stream {
	all := g.allStreams()
	if len(q.Streams) == 0 && q.StreamPrefix == "" {
		return all
	}
	var out []*stream
	for _, st := range all {
		if strings.HasPrefix(st.name, q.StreamPrefix) && (len(q.Streams) == 0 || slices.Contains(q.Streams, st.name)) {
			out = append(out, st)
		}
	}
	return out
}

// streamIter walks one stream's snapshot forward, skipping blocks outside
// the time window.
type streamIter struct {
	name   string
	segs   []segView
	si, bi int
	buf    []storedEvent
	ei     int
	w      window
	after  *Cursor
	match  func(string) bool
	ctx    context.Context
	cur    Event
}

// next moves to the next event in the window (and after the cursor).
func (it *streamIter) next() (bool, error) {
	for {
		for it.ei < len(it.buf) {
			e := it.buf[it.ei]
			it.ei++
			if !it.w.holds(e.timestamp) || it.match != nil && !it.match(e.message) {
				continue
			}
			ev := Event{Stream: it.name, Seq: e.seq, Timestamp: e.timestamp, IngestionTime: e.ingestion, Message: e.message}
			if it.after != nil && !it.after.less(ev.Cursor()) {
				continue
			}
			it.cur = ev
			return true, nil
		}
		ok, err := it.loadBlock()
		if !ok || err != nil {
			return false, err
		}
	}
}

// loadBlock decodes the next block that overlaps the window.
func (it *streamIter) loadBlock() (bool, error) {
	for it.si < len(it.segs) {
		sv := it.segs[it.si]
		for it.bi < len(sv.blocks) {
			b := sv.blocks[it.bi]
			it.bi++
			if !b.overlaps(it.w.start, it.w.end) {
				continue
			}
			if err := it.ctx.Err(); err != nil {
				return false, err
			}
			evs, err := readBlock(sv.r, b)
			if err != nil {
				return false, err
			}
			it.buf, it.ei = evs, 0
			return true, nil
		}
		it.si, it.bi = it.si+1, 0
	}
	return false, nil
}

// iterHeap orders stream iterators by their current event.
type iterHeap []*streamIter

func (h iterHeap) Len() int           { return len(h) }
func (h iterHeap) Less(i, j int) bool { return h[i].cur.Cursor().less(h[j].cur.Cursor()) }
func (h iterHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *iterHeap) Push(x any)        { *h = append(*h, x.(*streamIter)) }
func (h *iterHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}
