package logs

import (
	"context"
	"slices"
	"testing"

	"github.com/kumo-project/kumo/internal/agent/awslogs"
	"github.com/kumo-project/kumo/internal/services/logs/logstore"
)

func sinkEvents(ts int64, msgs ...string) []awslogs.Event {
	out := make([]awslogs.Event, len(msgs))
	for i, m := range msgs {
		out[i] = awslogs.Event{Timestamp: ts + int64(i), Message: m}
	}
	return out
}

// streamMessages reads a whole stream through the engine.
func streamMessages(t *testing.T, s *Service, dest awslogs.Destination) []string {
	t.Helper()
	sc := scope{account: dest.Account, region: dest.Region}
	res, err := s.events.Read(sc.group(dest.Group), dest.Stream, logstore.ReadQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range res.Events {
		out = append(out, e.Message)
	}
	return out
}

// TestSinkExactlyOnce covers every point where a crash can stop a Put:
// before the pending mark, between the mark and the append, and after the
// append before any confirmation. In each case Delivered must say exactly
// how far the stream holds the source, and a resent batch must be stored
// once.
func TestSinkExactlyOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name string
		// crash leaves the second batch (offset 20) half done.
		crash         func(s *Service, dest awslogs.Destination)
		wantDelivered int64
	}{
		{"no crash", func(s *Service, dest awslogs.Destination) {
			if err := s.Put(ctx, dest, "src", 20, sinkEvents(now(s), "c", "d")); err != nil {
				panic(err)
			}
		}, 20},
		{"crash before the mark", func(*Service, awslogs.Destination) {}, 10},
		{"crash after the pending mark, before the append", func(s *Service, dest awslogs.Destination) {
			_, mark, _ := s.currentMark(dest, "src")
			st, _ := s.events.Stream(scope{dest.Account, dest.Region}.group(dest.Group), dest.Stream)
			mark.Pending, mark.PendingSeq = 20, st.NextSeq
			s.saveMark(dest, "src", mark)
		}, 10},
		{"crash after the append, before confirmation", func(s *Service, dest awslogs.Destination) {
			_, mark, _ := s.currentMark(dest, "src")
			group := scope{dest.Account, dest.Region}.group(dest.Group)
			st, _ := s.events.Stream(group, dest.Stream)
			mark.Pending, mark.PendingSeq = 20, st.NextSeq
			s.saveMark(dest, "src", mark)
			s.events.Append(group, dest.Stream, []logstore.InputEvent{{Timestamp: now(s), Message: "c"}, {Timestamp: now(s) + 1, Message: "d"}})
		}, 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newAPIEnv(t)
			s := e.svc
			dest := awslogs.Destination{Account: "000000000000", Region: "us-east-1", Group: "/ecs/web", Stream: "web/app/1"}
			if err := s.EnsureGroup(ctx, dest); err != nil {
				t.Fatal(err)
			}
			for range 2 { // idempotent
				if err := s.EnsureStream(ctx, dest); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Put(ctx, dest, "src", 10, sinkEvents(now(s), "a", "b")); err != nil {
				t.Fatal(err)
			}
			tc.crash(s, dest)
			got, err := s.Delivered(ctx, dest, "src")
			if err != nil || got != tc.wantDelivered {
				t.Fatalf("Delivered = %d, %v; want %d", got, err, tc.wantDelivered)
			}
			// The shipper resends from where Delivered says, including
			// batches the sink may already hold.
			for _, b := range []struct {
				offset int64
				msgs   []string
			}{{10, []string{"a", "b"}}, {20, []string{"c", "d"}}, {30, []string{"e"}}} {
				if b.offset > got-10 {
					if err := s.Put(ctx, dest, "src", b.offset, sinkEvents(now(s), b.msgs...)); err != nil {
						t.Fatal(err)
					}
				}
			}
			if msgs := streamMessages(t, s, dest); !slices.Equal(msgs, []string{"a", "b", "c", "d", "e"}) {
				t.Fatalf("stream holds %q", msgs)
			}
			if got, _ := s.Delivered(ctx, dest, "src"); got != 30 {
				t.Fatalf("Delivered at the end = %d", got)
			}
		})
	}
}

func TestSinkStreamRecreated(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	s, ctx := e.svc, context.Background()
	dest := awslogs.Destination{Account: "000000000000", Region: "us-east-1", Group: "g", Stream: "s"}
	s.EnsureGroup(ctx, dest)
	s.EnsureStream(ctx, dest)
	if err := s.Put(ctx, dest, "src", 50, sinkEvents(now(s), "a", "b", "c")); err != nil {
		t.Fatal(err)
	}
	sc := scope{dest.Account, dest.Region}
	if err := s.events.DeleteStream(sc.group("g"), "s"); err != nil {
		t.Fatal(err)
	}
	s.EnsureStream(ctx, dest)
	if got, _ := s.Delivered(ctx, dest, "src"); got != 0 {
		t.Fatalf("Delivered in a new stream = %d", got)
	}
	if err := s.EnsureGroup(ctx, awslogs.Destination{Group: "bad:name"}); err == nil {
		t.Fatal("a group name with ':' was accepted")
	}
}

func now(s *Service) int64 { return s.clock.Now().UnixMilli() }
