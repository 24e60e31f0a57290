package logs

import (
	"context"
	"errors"
	"sync"

	"github.com/kumo-project/kumo/internal/agent/awslogs"
	"github.com/kumo-project/kumo/internal/services/logs/logstore"
	"github.com/kumo-project/kumo/internal/store"
)

var _ awslogs.Sink = (*Service)(nil)

// The Service is the awslogs shipper's sink in process. Delivery is
// exactly once per (stream, source): each Put first records the batch as
// pending with the stream's NextSeq, appends, and the next Put (or
// Delivered) confirms it if the stream grew past that NextSeq. So after a
// crash at any point, the source offset the mark gives is exactly how far
// the stream holds the source's output, and a resent batch is skipped.
// This holds while the shipper is the stream's only writer, as awslogs
// streams are (one per container).

// EnsureGroup creates the log group unless it exists.
func (s *Service) EnsureGroup(ctx context.Context, dest awslogs.Destination) error {
	if err := checkName("logGroupName", dest.Group, groupNamePattern); err != nil {
		return err
	}
	_, err := s.events.CreateGroup(destGroup(dest), logstore.GroupSettings{LogGroupClass: "STANDARD"})
	if err != nil && !errors.Is(err, logstore.ErrAlreadyExists) {
		return err
	}
	return nil
}

// EnsureStream creates the log stream unless it exists.
func (s *Service) EnsureStream(ctx context.Context, dest awslogs.Destination) error {
	if err := checkName("logStreamName", dest.Stream, streamNamePattern); err != nil {
		return err
	}
	_, err := s.events.CreateStream(destGroup(dest), dest.Stream)
	if err != nil && !errors.Is(err, logstore.ErrAlreadyExists) {
		return err
	}
	return nil
}

// Delivered returns the source offset up to which the stream holds the
// source's output.
func (s *Service) Delivered(ctx context.Context, dest awslogs.Destination, source string) (int64, error) {
	unlock := s.lockStream(dest)
	defer unlock()
	_, mark, err := s.currentMark(dest, source)
	return mark.Offset, err
}

// Put appends a batch read from source up to offset, unless the stream
// already holds it.
func (s *Service) Put(ctx context.Context, dest awslogs.Destination, source string, offset int64, events []awslogs.Event) error {
	unlock := s.lockStream(dest)
	defer unlock()
	st, mark, err := s.currentMark(dest, source)
	if err != nil || offset <= mark.Offset {
		return err
	}
	group := destGroup(dest)
	g, err := s.events.Group(group)
	if err != nil {
		return err
	}
	batch := make([]logstore.InputEvent, len(events))
	for i, e := range events {
		batch[i] = logstore.InputEvent{Timestamp: e.Timestamp, Message: e.Message}
	}
	accepted, _, err := checkBatch(batch, s.clock.Now(), g.RetentionInDays)
	if err != nil {
		return err
	}
	if len(accepted) == 0 {
		// Nothing to append (all too old): the mark must still move on.
		return s.saveMark(dest, source, markRecord{Offset: offset, NextSeq: st.NextSeq})
	}
	mark.Pending, mark.PendingSeq = offset, st.NextSeq
	if err := s.saveMark(dest, source, mark); err != nil {
		return err
	}
	if _, err = s.events.Append(group, dest.Stream, accepted); err != nil {
		return err
	}
	s.publishMetrics(ctx, destScope(dest), group, accepted)
	return nil
}

// currentMark reads the stream and the source's mark, settling a pending
// batch: stored if the stream grew past the sequence noted with it.
func (s *Service) currentMark(dest awslogs.Destination, source string) (logstore.Stream, markRecord, error) {
	group := destGroup(dest)
	st, err := s.events.Stream(group, dest.Stream)
	if err != nil {
		return st, markRecord{}, err
	}
	var mark markRecord
	err = s.db.View(func(tx *store.Tx) error {
		_, err := tx.Get(tableMarks, markKey(group, dest.Stream, source), &mark)
		return err
	})
	if err != nil {
		return st, mark, err
	}
	if st.NextSeq < mark.NextSeq {
		mark = markRecord{} // the stream was deleted and created again
	}
	if mark.Pending > 0 {
		if st.NextSeq > mark.PendingSeq {
			mark.Offset = mark.Pending
		}
		mark.Pending, mark.PendingSeq = 0, 0
	}
	mark.NextSeq = st.NextSeq
	return st, mark, nil
}

func (s *Service) saveMark(dest awslogs.Destination, source string, mark markRecord) error {
	group := destGroup(dest)
	return s.db.Update(func(tx *store.Tx) error {
		return tx.Put(tableMarks, markKey(group, dest.Stream, source), mark)
	})
}

// lockStream serializes the sink's calls for one stream.
func (s *Service) lockStream(dest awslogs.Destination) (unlock func()) {
	key := markKey(destGroup(dest), dest.Stream, "")
	s.streamLocksMu.Lock()
	mu, ok := s.streamLocks[key]
	if !ok {
		mu = &sync.Mutex{}
		s.streamLocks[key] = mu
	}
	s.streamLocksMu.Unlock()
	mu.Lock()
	return mu.Unlock
}

func destScope(dest awslogs.Destination) scope {
	return scope{account: dest.Account, region: dest.Region}
}

// destGroup is the engine's name of a destination's log group.
func destGroup(dest awslogs.Destination) string { return destScope(dest).group(dest.Group) }
