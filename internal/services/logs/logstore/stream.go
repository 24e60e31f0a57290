package logstore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// maxBlocksPerSegment rolls the active segment after this many blocks, so
// the small blocks of small appends wait at most one segment for Maintain
// to merge them.
const maxBlocksPerSegment = 1024

// stream is a log stream in memory: its segments and their time index.
//
// Locks, in the order they nest: qmu (the commit queue), wmu (whoever
// changes files: the commit leader, Maintain, close and remove), mu (the
// in-memory index, held briefly; readers take a snapshot under it). The
// group's lock is taken before these or not at all: describe reads the
// group's retention, so it must not run under the group's lock.
type stream struct {
	store   *Store
	group   *group
	id      uint64
	name    string
	created int64
	dir     string

	qmu     sync.Mutex
	queue   []*appendReq
	leading bool

	wmu     sync.Mutex
	active  *os.File // append handle of the last segment; nil until needed
	removed bool     // deleted: appends fail with ErrNotFound
	closed  bool     // store closed: appends fail with ErrClosed

	mu      sync.RWMutex
	segs    []*segment
	nextSeq uint64
}

func newStream(s *Store, g *group, rec streamRecord) *stream {
	return &stream{store: s, group: g, id: rec.ID, name: rec.Name, created: rec.CreationTime, dir: s.streamDir(rec.ID)}
}

// openStream loads a stream's segments from disk: headers of sealed
// segments, the last one fully verified (only it can have a torn tail).
// Segments wholly covered by an earlier one are leftovers of a merge that
// crashed before removing its inputs, and are deleted.
func openStream(s *Store, g *group, rec streamRecord) (*stream, error) {
	st := newStream(s, g, rec)
	segs, err := listSegments(st.dir)
	if err != nil {
		return nil, err
	}
	var kept []*segment
	for i, sg := range segs {
		if n := len(kept); n > 0 && len(kept[n-1].blocks) > 0 && kept[n-1].lastSeq() >= sg.firstSeq {
			if err := os.Remove(sg.path); err != nil {
				return nil, err
			}
			continue
		}
		if err := sg.load(i == len(segs)-1); err != nil {
			return nil, fmt.Errorf("log stream %q: %w", rec.Name, err)
		}
		if sg.r, err = os.Open(sg.path); err != nil {
			return nil, err
		}
		kept = append(kept, sg)
	}
	st.segs = kept
	for _, sg := range kept {
		st.nextSeq = max(st.nextSeq, sg.firstSeq)
		if len(sg.blocks) > 0 {
			st.nextSeq = max(st.nextSeq, sg.lastSeq()+1)
		}
	}
	return st, nil
}

// describe computes the stream's description from its index, leaving out
// blocks that have wholly expired.
func (st *stream) describe() Stream {
	cutoff := st.group.cutoff(st.store.nowMillis())
	st.mu.RLock()
	defer st.mu.RUnlock()
	out := Stream{Name: st.name, CreationTime: st.created, NextSeq: st.nextSeq}
	first := true
	for _, sg := range st.segs {
		out.StoredBytes += sg.size
		for _, b := range sg.blocks {
			if b.maxTs < cutoff {
				continue
			}
			if first || b.minTs < out.FirstEventTimestamp {
				out.FirstEventTimestamp = b.minTs
			}
			out.LastEventTimestamp = max(out.LastEventTimestamp, b.maxTs)
			out.LastIngestionTime = max(out.LastIngestionTime, b.maxIngest)
			first = false
		}
	}
	return out
}

// InputEvent is an event to append.
type InputEvent struct {
	Timestamp int64 // ms since the epoch
	Message   string
}

// AppendResult tells where an appended batch landed.
type AppendResult struct {
	// FirstSeq and LastSeq are the sequence numbers given to the batch's
	// first and last events; they increase by one per event.
	FirstSeq, LastSeq uint64
	IngestionTime     int64
}

// appendReq is one caller's batch waiting in a stream's commit queue.
type appendReq struct {
	events []InputEvent
	// wake is closed once the request is committed, or once it is made the
	// leader (lead set first) and must commit the queue itself.
	wake chan struct{}
	lead bool
	res  AppendResult
	err  error
}

// Append stores a batch of events at the end of a stream and returns once
// they are durable. Events keep the order given; the API layer enforces
// AWS's batch rules. Concurrent appends to one stream are group-committed:
// a leader writes everything queued in one write and one fsync, then hands
// leadership to the oldest waiting request, so no caller commits for others
// more than once.
func (s *Store) Append(groupName, streamName string, events []InputEvent) (AppendResult, error) {
	if len(events) == 0 {
		return AppendResult{}, errors.New("append: no events")
	}
	for i, e := range events {
		if len(e.Message) > MaxMessageBytes {
			return AppendResult{}, fmt.Errorf("append: event %d: message of %d bytes is over %d", i, len(e.Message), MaxMessageBytes)
		}
	}
	_, st, err := s.lookupStream(groupName, streamName)
	if err != nil {
		return AppendResult{}, err
	}
	req := &appendReq{events: events, wake: make(chan struct{})}
	st.qmu.Lock()
	st.queue = append(st.queue, req)
	if st.leading {
		st.qmu.Unlock()
		<-req.wake
		if !req.lead {
			return req.res, req.err
		}
		st.qmu.Lock()
	}
	st.leading = true
	batch := st.queue
	st.queue = nil
	st.qmu.Unlock()
	st.commit(batch, req)
	st.handOff()
	return req.res, req.err
}

// handOff makes the oldest waiting request the next leader, or ends
// leadership when none waits.
func (st *stream) handOff() {
	st.qmu.Lock()
	defer st.qmu.Unlock()
	if len(st.queue) == 0 {
		st.leading = false
		return
	}
	next := st.queue[0]
	next.lead = true
	close(next.wake)
}

// commit writes the batch's events as blocks at the end of the active
// segment, syncs, indexes them, and answers every request but the
// leader's own.
func (st *stream) commit(batch []*appendReq, leader *appendReq) {
	st.wmu.Lock()
	blocks, sg, err := st.write(batch)
	if err == nil {
		st.mu.Lock()
		sg.blocks = append(sg.blocks, blocks...)
		sg.size += sumSizes(blocks)
		st.mu.Unlock()
	}
	st.wmu.Unlock()
	for _, r := range batch {
		if err != nil {
			r.err = err
		}
		if r != leader {
			close(r.wake)
		}
	}
}

// write assigns sequence numbers, encodes and writes the batch, and syncs.
// The caller holds wmu.
func (st *stream) write(batch []*appendReq) ([]blockInfo, *segment, error) {
	if st.removed {
		return nil, nil, fmt.Errorf("log stream %q: %w", st.name, ErrNotFound)
	}
	if st.closed {
		return nil, nil, ErrClosed
	}
	sg, err := st.activeSegment()
	if err != nil {
		return nil, nil, err
	}
	now := st.store.nowMillis()
	st.mu.RLock()
	seq := st.nextSeq
	st.mu.RUnlock()
	var events []storedEvent
	for _, r := range batch {
		r.res = AppendResult{FirstSeq: seq, IngestionTime: now}
		for _, e := range r.events {
			events = append(events, storedEvent{seq: seq, timestamp: e.Timestamp, ingestion: now, message: e.Message})
			seq++
		}
		r.res.LastSeq = seq - 1
	}
	var (
		buf    []byte
		blocks []blockInfo
	)
	for _, run := range splitForBlocks(events, maxBlockRaw) {
		start := len(buf)
		var info blockInfo
		buf, info = encodeBlock(buf, run)
		info.offset = sg.size + int64(start)
		blocks = append(blocks, info)
	}
	if err := st.appendSynced(buf, sg.size); err != nil {
		return nil, nil, fmt.Errorf("append to log stream %q: %w", st.name, err)
	}
	st.mu.Lock()
	st.nextSeq = seq
	st.mu.Unlock()
	return blocks, sg, nil
}

// appendSynced writes buf at the end of the active file and fsyncs; on
// failure it cuts the file back to size so no partial block stays behind.
func (st *stream) appendSynced(buf []byte, size int64) error {
	_, err := st.active.Write(buf)
	if err == nil {
		err = st.active.Sync()
	}
	if err != nil {
		st.active.Truncate(size)
	}
	return err
}

// activeSegment returns the segment appends go to, starting a new one when
// there is none or the last one is full. The caller holds wmu.
func (st *stream) activeSegment() (*segment, error) {
	st.mu.RLock()
	var last *segment
	if n := len(st.segs); n > 0 {
		last = st.segs[n-1]
	}
	next := st.nextSeq
	st.mu.RUnlock()
	full := last != nil && (last.size >= st.store.cfg.SegmentBytes || len(last.blocks) >= maxBlocksPerSegment)
	if last != nil && !full {
		if st.active != nil {
			return last, nil
		}
		f, err := os.OpenFile(last.path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return nil, err
		}
		st.active = f
		return last, nil
	}
	return st.startSegment(next)
}

// startSegment creates a new, empty last segment. The caller holds wmu.
func (st *stream) startSegment(firstSeq uint64) (*segment, error) {
	if err := os.MkdirAll(st.dir, 0o700); err != nil {
		return nil, err
	}
	if err := syncDir(filepath.Dir(st.dir)); err != nil {
		return nil, err
	}
	sg := &segment{path: filepath.Join(st.dir, segmentName(firstSeq)), firstSeq: firstSeq}
	w, err := os.OpenFile(sg.path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syncDir(st.dir); err != nil {
		w.Close()
		return nil, err
	}
	if sg.r, err = os.Open(sg.path); err != nil {
		w.Close()
		return nil, err
	}
	if st.active != nil {
		st.active.Close()
	}
	st.active = w
	st.mu.Lock()
	st.segs = append(st.segs, sg)
	st.mu.Unlock()
	return sg, nil
}

// close releases the stream's files.
func (st *stream) close() {
	st.wmu.Lock()
	defer st.wmu.Unlock()
	st.closed = true
	st.closeFiles()
}

func (st *stream) closeFiles() {
	if st.active != nil {
		st.active.Close()
		st.active = nil
	}
	st.mu.Lock()
	for _, sg := range st.segs {
		sg.r.Close()
	}
	st.mu.Unlock()
}

// remove deletes the stream's files after its metadata is gone.
func (st *stream) remove() error {
	st.wmu.Lock()
	defer st.wmu.Unlock()
	st.removed = true
	st.closeFiles()
	if err := os.RemoveAll(st.dir); err != nil {
		return err
	}
	return syncDir(filepath.Dir(st.dir))
}

func sumSizes(blocks []blockInfo) int64 {
	var n int64
	for _, b := range blocks {
		n += b.size
	}
	return n
}
