package logs

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/kumo-project/kumo/internal/services/logs/filterpattern"
	"github.com/kumo-project/kumo/internal/services/logs/logstore"
	"github.com/kumo-project/kumo/internal/wire/logswire"
)

// PutLogEvents limits, as AWS documents them.
const (
	maxBatchBytes   = 1 << 20 // messages in UTF-8 plus 26 bytes per event
	eventOverhead   = 26
	maxEventBytes   = 1 << 20
	maxBatchSpan    = 24 * time.Hour
	maxFuture       = 2 * time.Hour
	maxPast         = 14 * 24 * time.Hour
	maxEventsPage   = 10000
	maxResponseSize = 1 << 20 // FilterLogEvents answers at most about 1 MB
)

// PutLogEvents appends a batch to a stream, after AWS's batch rules.
// Events too new, too old or older than the group's retention are left
// out and reported in rejectedLogEventsInfo. The sequence token is ignored.
func (s *Service) PutLogEvents(ctx context.Context, in *logswire.PutLogEventsRequest) (*logswire.PutLogEventsResponse, error) {
	sc := scopeOf(ctx)
	g, err := s.events.Group(sc.group(in.LogGroupName))
	if err != nil {
		return nil, groupError(err)
	}
	if _, err := s.events.Stream(g.Name, in.LogStreamName); err != nil {
		return nil, streamError(err)
	}
	events := make([]logstore.InputEvent, len(in.LogEvents))
	for i, e := range in.LogEvents {
		events[i] = logstore.InputEvent{Timestamp: deref(e.Timestamp), Message: e.Message}
	}
	accepted, rejected, err := checkBatch(events, s.clock.Now(), g.RetentionInDays)
	if err != nil {
		return nil, err
	}
	out := &logswire.PutLogEventsResponse{RejectedLogEventsInfo: rejected}
	if len(accepted) > 0 {
		res, err := s.events.Append(g.Name, in.LogStreamName, accepted)
		if err != nil {
			return nil, streamError(err)
		}
		// Deprecated and ignored on input, but clients of the old
		// protocol (agents, Fluent Bit) still read it.
		out.NextSequenceToken = fmt.Sprintf("%056d", res.LastSeq+1)
		s.publishMetrics(ctx, sc, g.Name, accepted)
	}
	return out, nil
}

// checkBatch applies PutLogEvents's rules to a batch: size and order fail
// the call; events out of the accepted time window are rejected, the rest
// returned.
func checkBatch(events []logstore.InputEvent, now time.Time, retentionDays int32) ([]logstore.InputEvent, *logswire.RejectedLogEventsInfo, error) {
	size := 0
	for i, e := range events {
		size += len(e.Message) + eventOverhead
		if len(e.Message) > maxEventBytes {
			return nil, nil, invalidParameter("Log event too large: %d bytes exceeds limit of %d", len(e.Message), maxEventBytes)
		}
		if i > 0 && e.Timestamp < events[i-1].Timestamp {
			return nil, nil, invalidParameter("Log events in a single PutLogEvents request must be in chronological order.")
		}
	}
	if size > maxBatchBytes {
		return nil, nil, invalidParameter("Upload too large: %d bytes exceeds limit of %d", size, maxBatchBytes)
	}
	tooOld := now.Add(-maxPast).UnixMilli()
	expired := int64(-1 << 63)
	if retentionDays > 0 {
		expired = now.Add(-time.Duration(retentionDays) * 24 * time.Hour).UnixMilli()
	}
	tooNew := now.Add(maxFuture).UnixMilli()
	var info logswire.RejectedLogEventsInfo
	first, last := 0, len(events) // accepted: events[first:last]
	for i, e := range events {
		if e.Timestamp < expired {
			info.ExpiredLogEventEndIndex = ptr(int32(i))
			first = i + 1
		} else if e.Timestamp < tooOld {
			info.TooOldLogEventEndIndex = ptr(int32(i))
			first = i + 1
		}
		if e.Timestamp > tooNew && last == len(events) {
			info.TooNewLogEventStartIndex = ptr(int32(i))
			last = i
		}
	}
	last = max(last, first)
	accepted := events[first:last]
	if n := len(accepted); n > 0 && time.Duration(accepted[n-1].Timestamp-accepted[0].Timestamp)*time.Millisecond > maxBatchSpan {
		return nil, nil, invalidParameter("The batch of log events in a single PutLogEvents request cannot span more than 24 hours.")
	}
	if first == 0 && last == len(events) {
		return accepted, nil, nil
	}
	return accepted, &info, nil
}

// GetLogEvents reads a page of one stream, as AWS pages: without a token,
// the newest events (or the oldest with startFromHead); the forward and
// backward tokens continue either way, and at either end the token given
// comes back with no events.
func (s *Service) GetLogEvents(ctx context.Context, in *logswire.GetLogEventsRequest) (*logswire.GetLogEventsResponse, error) {
	sc := scopeOf(ctx)
	name, err := groupOf(sc, in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	q := logstore.ReadQuery{StartTime: deref(in.StartTime), EndTime: deref(in.EndTime), Limit: limitOr(in.Limit, maxEventsPage)}
	switch {
	case in.NextToken != "":
		if q.Backward, q.From, err = logstore.ParseStreamToken(in.NextToken); err != nil {
			return nil, invalidParameter("The specified nextToken is invalid.")
		}
	case in.StartFromHead != nil && *in.StartFromHead:
		q.From = 0
	default:
		q.From, q.Backward = logstore.EndOfStream, true
	}
	if _, err := s.events.Group(sc.group(name)); err != nil {
		return nil, groupError(err)
	}
	res, err := s.events.Read(sc.group(name), in.LogStreamName, q)
	if err != nil {
		return nil, streamError(err)
	}
	res = trimToResponseSize(res, q.Backward)
	out := &logswire.GetLogEventsResponse{
		Events:            make([]logswire.OutputLogEvent, len(res.Events)),
		NextForwardToken:  logstore.StreamToken(false, res.Forward),
		NextBackwardToken: logstore.StreamToken(true, res.Backward),
	}
	for i, e := range res.Events {
		out.Events[i] = logswire.OutputLogEvent{Timestamp: ptr(e.Timestamp), Message: e.Message, IngestionTime: ptr(e.IngestionTime)}
	}
	return out, nil
}

// FilterLogEvents searches a group's streams (by names or a name prefix)
// in a time range with a filter pattern, in time order across streams.
func (s *Service) FilterLogEvents(ctx context.Context, in *logswire.FilterLogEventsRequest) (*logswire.FilterLogEventsResponse, error) {
	sc := scopeOf(ctx)
	name, err := groupOf(sc, in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	if len(in.LogStreamNames) > 0 && in.LogStreamNamePrefix != "" {
		return nil, invalidParameter("logStreamNames and logStreamNamePrefix are mutually exclusive parameters.")
	}
	pattern, err := filterpattern.Compile(in.FilterPattern)
	if err != nil {
		return nil, patternError(err)
	}
	q := logstore.ScanQuery{
		Streams: in.LogStreamNames, StreamPrefix: in.LogStreamNamePrefix,
		StartTime: deref(in.StartTime), Match: pattern.Match,
	}
	if in.EndTime != nil {
		q.EndTime = *in.EndTime + 1 // AWS's end time is inclusive
	}
	if in.NextToken != "" {
		after, err := logstore.ParseCursorToken(in.NextToken)
		if err != nil {
			return nil, invalidParameter("The specified nextToken is invalid.")
		}
		q.After = &after
	}
	limit := limitOr(in.Limit, maxEventsPage)
	out := &logswire.FilterLogEventsResponse{Events: []logswire.FilteredLogEvent{}}
	var last logstore.Event
	size, more := 0, false
	err = s.events.Scan(ctx, sc.group(name), q, func(e logstore.Event) bool {
		if len(out.Events) == limit || size >= maxResponseSize {
			more = true
			return false
		}
		out.Events = append(out.Events, toFilteredEvent(e))
		size += len(e.Message) + eventOverhead
		last = e
		return true
	})
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return nil, err
		}
		return nil, groupError(err)
	}
	if more {
		out.NextToken = logstore.CursorToken(last.Cursor())
	}
	return out, nil
}

// trimToResponseSize keeps a page within AWS's 1 MB response: the events
// nearest the position the read started from, with tokens that continue
// right after (or before) them.
func trimToResponseSize(res logstore.ReadResult, backward bool) logstore.ReadResult {
	size, n := 0, 0
	for n < len(res.Events) {
		i := n
		if backward {
			i = len(res.Events) - 1 - n
		}
		size += len(res.Events[i].Message) + eventOverhead
		if size > maxResponseSize && n > 0 {
			break
		}
		n++
	}
	if n == len(res.Events) {
		return res
	}
	if backward {
		res.Events = res.Events[len(res.Events)-n:]
		res.Backward = res.Events[0].Seq
	} else {
		res.Events = res.Events[:n]
		res.Forward = res.Events[n-1].Seq + 1
	}
	return res
}

func toFilteredEvent(e logstore.Event) logswire.FilteredLogEvent {
	return logswire.FilteredLogEvent{
		LogStreamName: e.Stream,
		Timestamp:     ptr(e.Timestamp),
		Message:       e.Message,
		IngestionTime: ptr(e.IngestionTime),
		EventId:       eventID(e),
	}
}

// eventID is a 56-digit ID, AWS's shape, unique per event: its timestamp,
// a hash of its stream name and its sequence number in the stream.
func eventID(e logstore.Event) string {
	h := fnv.New64a()
	h.Write([]byte(e.Stream))
	return fmt.Sprintf("%019d%020d%017d", e.Timestamp, h.Sum64(), e.Seq%1e17)
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func ptr[T any](v T) *T { return &v }
