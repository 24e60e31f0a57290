package logstore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Maintain enforces retention (events older than a group's retention are
// deleted from disk) and merges the small blocks and segments that small
// appends leave behind. The logs service calls it periodically; reads
// already hide expired events in between.
func (s *Store) Maintain() error {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return ErrClosed
	}
	groups := make([]*group, 0, len(s.groups))
	for _, g := range s.groups {
		groups = append(groups, g)
	}
	s.mu.RUnlock()
	var errs []error
	now := s.nowMillis()
	for _, g := range groups {
		cutoff := g.cutoff(now)
		for _, st := range g.allStreams() {
			if err := st.maintain(cutoff); err != nil {
				errs = append(errs, fmt.Errorf("log stream %q in %q: %w", st.name, g.name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// maintain rewrites runs of segments that hold expired events or are
// fragmented into fewer, larger blocks.
func (st *stream) maintain(cutoff int64) error {
	st.wmu.Lock()
	defer st.wmu.Unlock()
	if st.removed || st.closed {
		return nil
	}
	st.mu.RLock()
	segs := append([]*segment(nil), st.segs...)
	next := st.nextSeq
	st.mu.RUnlock()
	for _, run := range planRewrites(segs, cutoff, st.store.cfg.SegmentBytes) {
		if err := st.rewrite(run, cutoff); err != nil {
			return err
		}
	}
	st.mu.RLock()
	empty := len(st.segs) == 0
	st.mu.RUnlock()
	if empty && next > 0 {
		// An empty segment named after the next sequence number keeps
		// numbering monotonic across restarts once every event expired.
		_, err := st.startSegment(next)
		return err
	}
	return nil
}

// planRewrites groups consecutive segments worth rewriting into runs no
// larger than segmentBytes. A segment is worth it when it holds expired
// events, or when it is sealed (not the last) and small or made of small
// blocks.
func planRewrites(segs []*segment, cutoff, segmentBytes int64) [][]*segment {
	var (
		runs [][]*segment
		cur  []*segment
		size int64
	)
	flush := func() {
		if len(cur) > 1 || len(cur) == 1 && (hasExpired(cur[0], cutoff) || fragmented(cur[0])) {
			runs = append(runs, cur)
		}
		cur, size = nil, 0
	}
	for i, sg := range segs {
		sealed := i < len(segs)-1
		expired := hasExpired(sg, cutoff)
		mergeable := sealed && (fragmented(sg) || sg.size < segmentBytes/4)
		if !expired && !mergeable {
			flush()
			continue
		}
		if size+sg.size > segmentBytes && len(cur) > 0 {
			flush()
		}
		cur = append(cur, sg)
		size += sg.size
	}
	flush()
	return runs
}

// hasExpired reports whether rewriting the segment would reclaim enough
// expired space: it is wholly expired (it is then simply deleted), or at
// least a quarter of its blocks are. Expired events in other blocks stay
// until more of the segment expires; reads hide them meanwhile.
func hasExpired(sg *segment, cutoff int64) bool {
	if cutoff <= 0 || len(sg.blocks) == 0 {
		return false
	}
	expired := 0
	for _, b := range sg.blocks {
		if b.maxTs < cutoff {
			expired++
		}
	}
	return expired > 0 && expired*4 >= len(sg.blocks)
}

// fragmented reports whether merging the segment's blocks would leave
// fewer of them.
func fragmented(sg *segment) bool {
	var raw int64
	for _, b := range sg.blocks {
		raw += int64(b.rawLen)
	}
	return len(sg.blocks) > 1 && int64(len(sg.blocks)) > raw/mergedBlockRaw+1
}

// rewrite replaces a run of consecutive segments with one segment holding
// their unexpired events in merged blocks (or with nothing). The new file
// takes the first segment's name by an atomic rename; if a crash comes
// before the other inputs are removed, openStream finds them covered by the
// new file and removes them then.
func (st *stream) rewrite(run []*segment, cutoff int64) error {
	var events []storedEvent
	for _, sg := range run {
		for _, b := range sg.blocks {
			if cutoff > 0 && b.maxTs < cutoff {
				continue
			}
			evs, err := readBlock(sg.r, b)
			if err != nil {
				return err
			}
			for _, e := range evs {
				if cutoff <= 0 || e.timestamp >= cutoff {
					events = append(events, e)
				}
			}
		}
	}
	var replacement *segment
	if len(events) > 0 {
		var err error
		if replacement, err = writeReplacement(run[0], events); err != nil {
			return err
		}
	}
	st.swap(run, replacement)
	return removeReplaced(run, replacement)
}

func writeReplacement(first *segment, events []storedEvent) (*segment, error) {
	blocks, size, err := writeSegmentFile(first.path, splitForBlocks(events, mergedBlockRaw))
	if err != nil {
		return nil, err
	}
	r, err := os.Open(first.path)
	if err != nil {
		return nil, err
	}
	return &segment{path: first.path, firstSeq: first.firstSeq, blocks: blocks, size: size, r: r}, nil
}

// swap puts replacement (or nothing) in the place of run in the index. If
// the run included the last segment, the append handle is dropped so the
// next append opens the new file.
func (st *stream) swap(run []*segment, replacement *segment) {
	st.mu.Lock()
	defer st.mu.Unlock()
	var segs []*segment
	for _, sg := range st.segs {
		switch {
		case sg == run[0] && replacement != nil:
			segs = append(segs, replacement)
		case !containsSegment(run, sg):
			segs = append(segs, sg)
		}
	}
	if len(st.segs) > 0 && containsSegment(run, st.segs[len(st.segs)-1]) && st.active != nil {
		st.active.Close()
		st.active = nil
	}
	st.segs = segs
}

// removeReplaced deletes the run's files other than the one the
// replacement now occupies.
func removeReplaced(run []*segment, replacement *segment) error {
	for _, sg := range run {
		if replacement != nil && sg.path == replacement.path {
			continue
		}
		if err := os.Remove(sg.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if len(run) > 0 {
		return syncDir(filepath.Dir(run[0].path))
	}
	return nil
}

func containsSegment(run []*segment, sg *segment) bool {
	for _, r := range run {
		if r == sg {
			return true
		}
	}
	return false
}
