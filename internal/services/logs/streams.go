package logs

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/kumo-project/kumo/internal/protocol"
	"github.com/kumo-project/kumo/internal/services/logs/logstore"
	"github.com/kumo-project/kumo/internal/wire/logswire"
)

// CreateLogStream creates a log stream in a group.
func (s *Service) CreateLogStream(ctx context.Context, in *logswire.CreateLogStreamRequest) (*logswire.CreateLogStreamOutput, error) {
	sc := scopeOf(ctx)
	if err := checkName("logStreamName", in.LogStreamName, streamNamePattern); err != nil {
		return nil, err
	}
	if _, err := s.events.Group(sc.group(in.LogGroupName)); err != nil {
		return nil, groupError(err)
	}
	if _, err := s.events.CreateStream(sc.group(in.LogGroupName), in.LogStreamName); err != nil {
		return nil, streamError(err)
	}
	return &logswire.CreateLogStreamOutput{}, nil
}

// DeleteLogStream deletes a log stream and its events.
func (s *Service) DeleteLogStream(ctx context.Context, in *logswire.DeleteLogStreamRequest) (*logswire.DeleteLogStreamOutput, error) {
	sc := scopeOf(ctx)
	if _, err := s.events.Group(sc.group(in.LogGroupName)); err != nil {
		return nil, groupError(err)
	}
	if err := s.events.DeleteStream(sc.group(in.LogGroupName), in.LogStreamName); err != nil {
		return nil, streamError(err)
	}
	return &logswire.DeleteLogStreamOutput{}, nil
}

// DescribeLogStreams lists a group's streams by name or by last event
// time, either way up or down.
func (s *Service) DescribeLogStreams(ctx context.Context, in *logswire.DescribeLogStreamsRequest) (*logswire.DescribeLogStreamsResponse, error) {
	sc := scopeOf(ctx)
	name, err := groupOf(sc, in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	byTime := in.OrderBy == "LastEventTime"
	if byTime && in.LogStreamNamePrefix != "" {
		return nil, invalidParameter("Cannot order by LastEventTime with a logStreamNamePrefix.")
	}
	all, err := s.events.Streams(sc.group(name))
	if err != nil {
		return nil, groupError(err)
	}
	var streams []logstore.Stream
	for _, st := range all {
		if strings.HasPrefix(st.Name, in.LogStreamNamePrefix) {
			streams = append(streams, st)
		}
	}
	key := func(st logstore.Stream) string { return st.Name }
	if byTime {
		// Streams without events have no last event time: they come first.
		key = func(st logstore.Stream) string {
			return fmt.Sprintf("%020d/%s", st.LastEventTimestamp, st.Name)
		}
	}
	page, next, err := pageInOrder(streams, in.NextToken, limitOr(in.Limit, defaultDescribeLimit), key, in.Descending != nil && *in.Descending)
	if err != nil {
		return nil, err
	}
	out := &logswire.DescribeLogStreamsResponse{NextToken: next, LogStreams: []logswire.LogStream{}}
	for _, st := range page {
		out.LogStreams = append(out.LogStreams, toLogStream(sc, name, st))
	}
	return out, nil
}

func toLogStream(sc scope, group string, st logstore.Stream) logswire.LogStream {
	ls := logswire.LogStream{
		LogStreamName: st.Name,
		CreationTime:  &st.CreationTime,
		Arn:           sc.streamARN(group, st.Name),
		StoredBytes:   &st.StoredBytes,
	}
	if st.LastIngestionTime > 0 {
		ls.FirstEventTimestamp = &st.FirstEventTimestamp
		ls.LastEventTimestamp = &st.LastEventTimestamp
		ls.LastIngestionTime = &st.LastIngestionTime
	}
	return ls
}

// pageInOrder is protocol.Page over items ordered by key, up or down.
func pageInOrder[T any](items []T, token string, max int, key func(T) string, descending bool) ([]T, string, error) {
	sort.SliceStable(items, func(i, j int) bool { return key(items[i]) < key(items[j]) })
	if !descending {
		return protocol.Page(items, token, max, key, "InvalidParameterException")
	}
	// Going down, keys are inverted so that Page still sees them rising.
	for i, j := 0, len(items)-1; i < j; i, j = i+1, j-1 {
		items[i], items[j] = items[j], items[i]
	}
	return protocol.Page(items, token, max, func(t T) string { return invert(key(t)) }, "InvalidParameterException")
}

// invert maps strings to strings that sort the other way round (for the
// printable keys used here).
func invert(s string) string {
	b := make([]byte, len(s)+1)
	for i := 0; i < len(s); i++ {
		b[i] = 0xff - s[i]
	}
	b[len(s)] = 0xff // a key before its extensions, as in descending order
	return string(b)
}
