package logs

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cwl "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
)

func TestLogStreams(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	ctx := context.Background()
	now := e.clock.Now()
	for i, name := range []string{"web/app/1", "web/app/2", "api/app/1"} {
		e.makeStream(t, "g", name)
		e.put(t, "g", name, now.Add(time.Duration(-i)*time.Minute), "hello")
	}
	e.makeStream(t, "g", "empty")
	_, err := e.client.CreateLogStream(ctx, &cwl.CreateLogStreamInput{LogGroupName: aws.String("g"), LogStreamName: aws.String("empty")})
	wantCode(t, err, "ResourceAlreadyExistsException")
	_, err = e.client.CreateLogStream(ctx, &cwl.CreateLogStreamInput{LogGroupName: aws.String("nope"), LogStreamName: aws.String("s")})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = e.client.CreateLogStream(ctx, &cwl.CreateLogStreamInput{LogGroupName: aws.String("g"), LogStreamName: aws.String("a:b")})
	wantCode(t, err, "InvalidParameterException")

	list := func(in *cwl.DescribeLogStreamsInput) []string {
		t.Helper()
		var got []string
		p := cwl.NewDescribeLogStreamsPaginator(e.client, in)
		for pages := 0; p.HasMorePages() && pages < 10; pages++ {
			out := must[*cwl.DescribeLogStreamsOutput](t)(p.NextPage(ctx))
			for _, s := range out.LogStreams {
				got = append(got, aws.ToString(s.LogStreamName))
			}
		}
		return got
	}
	tests := []struct {
		name string
		in   cwl.DescribeLogStreamsInput
		want []string
	}{
		{"by name", cwl.DescribeLogStreamsInput{}, []string{"api/app/1", "empty", "web/app/1", "web/app/2"}},
		{"by name, descending, pages of 1", cwl.DescribeLogStreamsInput{Descending: aws.Bool(true), Limit: aws.Int32(1)}, []string{"web/app/2", "web/app/1", "empty", "api/app/1"}},
		{"prefix", cwl.DescribeLogStreamsInput{LogStreamNamePrefix: aws.String("web/")}, []string{"web/app/1", "web/app/2"}},
		{"last event time, newest first, pages of 2", cwl.DescribeLogStreamsInput{OrderBy: types.OrderByLastEventTime, Descending: aws.Bool(true), Limit: aws.Int32(2)}, []string{"web/app/1", "web/app/2", "api/app/1", "empty"}},
		{"last event time", cwl.DescribeLogStreamsInput{OrderBy: types.OrderByLastEventTime}, []string{"empty", "api/app/1", "web/app/2", "web/app/1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			in.LogGroupName = aws.String("g")
			if got := list(&in); !slices.Equal(got, tc.want) {
				t.Fatalf("streams = %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("description", func(t *testing.T) {
		out := must[*cwl.DescribeLogStreamsOutput](t)(e.client.DescribeLogStreams(ctx, &cwl.DescribeLogStreamsInput{
			LogGroupIdentifier: aws.String("arn:aws:logs:us-east-1:000000000000:log-group:g"), LogStreamNamePrefix: aws.String("web/app/1")}))
		s := out.LogStreams[0]
		if aws.ToInt64(s.FirstEventTimestamp) != now.UnixMilli() || aws.ToInt64(s.LastEventTimestamp) != now.UnixMilli() || aws.ToInt64(s.LastIngestionTime) == 0 {
			t.Errorf("stream times = %v %v %v", aws.ToInt64(s.FirstEventTimestamp), aws.ToInt64(s.LastEventTimestamp), aws.ToInt64(s.LastIngestionTime))
		}
		if aws.ToString(s.Arn) != "arn:aws:logs:us-east-1:000000000000:log-group:g:log-stream:web/app/1" {
			t.Errorf("arn = %s", aws.ToString(s.Arn))
		}
	})
	_, err = e.client.DescribeLogStreams(ctx, &cwl.DescribeLogStreamsInput{LogGroupName: aws.String("g"), OrderBy: types.OrderByLastEventTime, LogStreamNamePrefix: aws.String("w")})
	wantCode(t, err, "InvalidParameterException")
	_, err = e.client.DescribeLogStreams(ctx, &cwl.DescribeLogStreamsInput{LogGroupName: aws.String("nope")})
	wantCode(t, err, "ResourceNotFoundException")

	must[*cwl.DeleteLogStreamOutput](t)(e.client.DeleteLogStream(ctx, &cwl.DeleteLogStreamInput{LogGroupName: aws.String("g"), LogStreamName: aws.String("empty")}))
	_, err = e.client.DeleteLogStream(ctx, &cwl.DeleteLogStreamInput{LogGroupName: aws.String("g"), LogStreamName: aws.String("empty")})
	wantCode(t, err, "ResourceNotFoundException")
}

func TestPutLogEventsRules(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	ctx := context.Background()
	e.makeStream(t, "g", "s")
	now := e.clock.Now().UnixMilli()
	hour := time.Hour.Milliseconds()
	ev := func(ts int64, msg string) types.InputLogEvent {
		return types.InputLogEvent{Timestamp: aws.Int64(ts), Message: aws.String(msg)}
	}
	put := func(events ...types.InputLogEvent) (*cwl.PutLogEventsOutput, error) {
		return e.client.PutLogEvents(ctx, &cwl.PutLogEventsInput{LogGroupName: aws.String("g"), LogStreamName: aws.String("s"), LogEvents: events})
	}
	failures := []struct {
		name   string
		events []types.InputLogEvent
		code   string
	}{
		{"out of order", []types.InputLogEvent{ev(now, "b"), ev(now-1, "a")}, "InvalidParameterException"},
		{"spans more than 24 hours", []types.InputLogEvent{ev(now-25*hour, "a"), ev(now, "b")}, "InvalidParameterException"},
		{"over 1 MiB with 26 bytes per event", []types.InputLogEvent{ev(now, strings.Repeat("x", 1<<19)), ev(now, strings.Repeat("x", 1<<19-25))}, "InvalidParameterException"},
	}
	for _, tc := range failures {
		t.Run(tc.name, func(t *testing.T) {
			_, err := put(tc.events...)
			wantCode(t, err, tc.code)
		})
	}
	_, err := e.client.PutLogEvents(ctx, &cwl.PutLogEventsInput{LogGroupName: aws.String("g"), LogStreamName: aws.String("nope"), LogEvents: []types.InputLogEvent{ev(now, "a")}})
	wantCode(t, err, "ResourceNotFoundException")

	t.Run("exactly 1 MiB is accepted", func(t *testing.T) {
		out := must[*cwl.PutLogEventsOutput](t)(put(ev(now, strings.Repeat("x", 1<<19)), ev(now, strings.Repeat("x", 1<<19-52))))
		if len(aws.ToString(out.NextSequenceToken)) != 56 {
			t.Errorf("nextSequenceToken %q", aws.ToString(out.NextSequenceToken))
		}
	})
	t.Run("too old and too new are rejected, the rest stored", func(t *testing.T) {
		out := must[*cwl.PutLogEventsOutput](t)(put(ev(now-15*24*hour, "too old"), ev(now+1, "kept 1"), ev(now+2, "kept 2"), ev(now+3*hour, "too new")))
		r := out.RejectedLogEventsInfo
		if r == nil || aws.ToInt32(r.TooOldLogEventEndIndex) != 0 || aws.ToInt32(r.TooNewLogEventStartIndex) != 3 || r.ExpiredLogEventEndIndex != nil {
			t.Fatalf("rejected = %+v", r)
		}
	})
	t.Run("older than retention is expired", func(t *testing.T) {
		must[*cwl.PutRetentionPolicyOutput](t)(e.client.PutRetentionPolicy(ctx, &cwl.PutRetentionPolicyInput{LogGroupName: aws.String("g"), RetentionInDays: aws.Int32(1)}))
		out := must[*cwl.PutLogEventsOutput](t)(put(ev(now-48*hour, "expired"), ev(now-47*hour, "expired too"), ev(now+5, "kept 3")))
		r := out.RejectedLogEventsInfo
		if r == nil || aws.ToInt32(r.ExpiredLogEventEndIndex) != 1 || r.TooOldLogEventEndIndex != nil {
			t.Fatalf("rejected = %+v", r)
		}
	})
	msgs := e.allMessages(t, "g", "s")
	if want := []string{"kept 1", "kept 2", "kept 3"}; !slices.Equal(msgs[2:], want) || len(msgs) != 5 {
		t.Fatalf("stored %d events, last %q", len(msgs), msgs[2:])
	}
}

// TestGetLogEventsTokens walks a stream forwards and backwards with the
// tokens, as the SDKs and `aws logs get-log-events` do: the end is reached
// when the same token comes back.
func TestGetLogEventsTokens(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	ctx := context.Background()
	e.makeStream(t, "g", "s")
	all := numbered("line", 25)
	start := e.clock.Now().Add(-time.Minute).UnixMilli()
	e.put(t, "g", "s", time.UnixMilli(start), all...)
	get := func(in cwl.GetLogEventsInput) *cwl.GetLogEventsOutput {
		t.Helper()
		in.LogGroupName, in.LogStreamName = aws.String("g"), aws.String("s")
		return must[*cwl.GetLogEventsOutput](t)(e.client.GetLogEvents(ctx, &in))
	}

	t.Run("without a token: the newest events", func(t *testing.T) {
		out := get(cwl.GetLogEventsInput{Limit: aws.Int32(10)})
		if got := messagesOf(out.Events, outputMessage); !slices.Equal(got, all[15:]) {
			t.Fatalf("events = %v", got)
		}
	})
	t.Run("forward from the head until the token repeats", func(t *testing.T) {
		var got []string
		out := get(cwl.GetLogEventsInput{Limit: aws.Int32(10), StartFromHead: aws.Bool(true)})
		token := ""
		for i := 0; aws.ToString(out.NextForwardToken) != token; i++ {
			if i > 5 {
				t.Fatal("token never repeated")
			}
			got = append(got, messagesOf(out.Events, outputMessage)...)
			token = aws.ToString(out.NextForwardToken)
			out = get(cwl.GetLogEventsInput{Limit: aws.Int32(10), NextToken: aws.String(token)})
		}
		if len(out.Events) != 0 || !slices.Equal(got, all) {
			t.Fatalf("walked %v", got)
		}
	})
	t.Run("backward from the tail until the token repeats", func(t *testing.T) {
		var pages [][]string
		out := get(cwl.GetLogEventsInput{Limit: aws.Int32(10)})
		token := ""
		for i := 0; aws.ToString(out.NextBackwardToken) != token; i++ {
			if i > 5 {
				t.Fatal("token never repeated")
			}
			pages = append([][]string{messagesOf(out.Events, outputMessage)}, pages...)
			token = aws.ToString(out.NextBackwardToken)
			out = get(cwl.GetLogEventsInput{Limit: aws.Int32(10), NextToken: aws.String(token)})
		}
		if got := slices.Concat(pages...); !slices.Equal(got, all) {
			t.Fatalf("walked %v", got)
		}
	})
	t.Run("forward after backward", func(t *testing.T) {
		back := get(cwl.GetLogEventsInput{Limit: aws.Int32(10)})
		prev := get(cwl.GetLogEventsInput{Limit: aws.Int32(10), NextToken: back.NextBackwardToken})
		next := get(cwl.GetLogEventsInput{Limit: aws.Int32(10), NextToken: prev.NextForwardToken})
		if got := messagesOf(next.Events, outputMessage); !slices.Equal(got, all[15:]) {
			t.Fatalf("events = %v", got)
		}
	})
	t.Run("time range", func(t *testing.T) {
		out := get(cwl.GetLogEventsInput{StartTime: aws.Int64(start + 5), EndTime: aws.Int64(start + 8), StartFromHead: aws.Bool(true)})
		if got := messagesOf(out.Events, outputMessage); !slices.Equal(got, all[5:8]) {
			t.Fatalf("events = %v", got)
		}
	})
	_, err := e.client.GetLogEvents(ctx, &cwl.GetLogEventsInput{LogGroupName: aws.String("g"), LogStreamName: aws.String("s"), NextToken: aws.String("garbage")})
	wantCode(t, err, "InvalidParameterException")
	_, err = e.client.GetLogEvents(ctx, &cwl.GetLogEventsInput{LogGroupName: aws.String("g"), LogStreamName: aws.String("nope")})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = e.client.GetLogEvents(ctx, &cwl.GetLogEventsInput{LogGroupName: aws.String("nope"), LogStreamName: aws.String("s")})
	wantCode(t, err, "ResourceNotFoundException")
}

func TestFilterLogEvents(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	ctx := context.Background()
	start := e.clock.Now().Add(-time.Hour)
	e.makeStream(t, "/ecs/web", "web/app/1")
	e.makeStream(t, "/ecs/web", "web/app/2")
	e.makeStream(t, "/ecs/web", "api/app/1")
	e.put(t, "/ecs/web", "web/app/1", start, "INFO: ok", "ERROR: disk full", "WARNING: slow", "CRITICAL: down")
	e.put(t, "/ecs/web", "web/app/2", start.Add(time.Millisecond), "ERROR: MethodNotAllowedHttpException", "debug")
	e.put(t, "/ecs/web", "api/app/1", start.Add(10*time.Millisecond), `{"level":"ERROR","latency":150}`, `{"level":"INFO","latency":20}`)

	filter := func(in cwl.FilterLogEventsInput) []string {
		t.Helper()
		in.LogGroupName = aws.String("/ecs/web")
		var got []string
		p := cwl.NewFilterLogEventsPaginator(e.client, &in)
		for pages := 0; p.HasMorePages() && pages < 20; pages++ {
			out := must[*cwl.FilterLogEventsOutput](t)(p.NextPage(ctx))
			for _, ev := range out.Events {
				got = append(got, aws.ToString(ev.LogStreamName)+": "+aws.ToString(ev.Message))
			}
		}
		return got
	}
	tests := []struct {
		name string
		in   cwl.FilterLogEventsInput
		want []string
	}{
		{"OR terms, interleaved by time", cwl.FilterLogEventsInput{FilterPattern: aws.String(`?"ERROR:" ?"WARNING:"`)},
			[]string{"web/app/1: ERROR: disk full", "web/app/2: ERROR: MethodNotAllowedHttpException", "web/app/1: WARNING: slow"}},
		{"exclusion", cwl.FilterLogEventsInput{FilterPattern: aws.String(`"ERROR:" -MethodNotAllowedHttpException`)},
			[]string{"web/app/1: ERROR: disk full"}},
		{"JSON pattern", cwl.FilterLogEventsInput{FilterPattern: aws.String(`{ $.level = "ERROR" && $.latency > 100 }`)},
			[]string{`api/app/1: {"level":"ERROR","latency":150}`}},
		{"stream names, pages of 1", cwl.FilterLogEventsInput{LogStreamNames: []string{"web/app/2"}, Limit: aws.Int32(1)},
			[]string{"web/app/2: ERROR: MethodNotAllowedHttpException", "web/app/2: debug"}},
		{"stream prefix and time range (end inclusive)", cwl.FilterLogEventsInput{LogStreamNamePrefix: aws.String("web/app/"),
			StartTime: aws.Int64(start.UnixMilli() + 2), EndTime: aws.Int64(start.UnixMilli() + 3)},
			[]string{"web/app/1: WARNING: slow", "web/app/2: debug", "web/app/1: CRITICAL: down"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := filter(tc.in); !slices.Equal(got, tc.want) {
				t.Fatalf("events =\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
	t.Run("every event once across pages of 3", func(t *testing.T) {
		if got := filter(cwl.FilterLogEventsInput{Limit: aws.Int32(3)}); len(got) != 8 {
			t.Fatalf("%d events: %q", len(got), got)
		}
	})
	t.Run("event IDs are unique", func(t *testing.T) {
		out := must[*cwl.FilterLogEventsOutput](t)(e.client.FilterLogEvents(ctx, &cwl.FilterLogEventsInput{LogGroupName: aws.String("/ecs/web")}))
		seen := map[string]bool{}
		for _, ev := range out.Events {
			id := aws.ToString(ev.EventId)
			if len(id) != 56 || seen[id] {
				t.Fatalf("event ID %q (len %d) repeated or misshapen", id, len(id))
			}
			seen[id] = true
		}
	})
	errs := []struct {
		name string
		in   cwl.FilterLogEventsInput
		code string
	}{
		{"bad pattern", cwl.FilterLogEventsInput{LogGroupName: aws.String("/ecs/web"), FilterPattern: aws.String(`{ $.a = }`)}, "InvalidParameterException"},
		{"names and prefix", cwl.FilterLogEventsInput{LogGroupName: aws.String("/ecs/web"), LogStreamNames: []string{"a"}, LogStreamNamePrefix: aws.String("a")}, "InvalidParameterException"},
		{"bad token", cwl.FilterLogEventsInput{LogGroupName: aws.String("/ecs/web"), NextToken: aws.String("!!")}, "InvalidParameterException"},
		{"unknown group", cwl.FilterLogEventsInput{LogGroupName: aws.String("nope")}, "ResourceNotFoundException"},
	}
	for _, tc := range errs {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.client.FilterLogEvents(ctx, &tc.in)
			wantCode(t, err, tc.code)
		})
	}
}

// TestGetLogEventsResponseSize pages a stream of big events: each page
// stays within AWS's 1 MB, and the tokens still walk every event once.
func TestGetLogEventsResponseSize(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	ctx := context.Background()
	e.makeStream(t, "g", "s")
	var all []string
	for i := range 12 {
		msg := fmt.Sprintf("%02d %s", i, strings.Repeat("x", 200<<10))
		all = append(all, msg)
		e.put(t, "g", "s", e.clock.Now().Add(time.Duration(i-20)*time.Millisecond), msg)
	}
	for _, head := range []bool{true, false} {
		var got []string
		out := must[*cwl.GetLogEventsOutput](t)(e.client.GetLogEvents(ctx, &cwl.GetLogEventsInput{LogGroupName: aws.String("g"), LogStreamName: aws.String("s"), StartFromHead: aws.Bool(head)}))
		for pages := 0; len(out.Events) > 0 && pages < 10; pages++ {
			size := 0
			for _, ev := range out.Events {
				size += len(aws.ToString(ev.Message)) + 26
			}
			if size > 1<<20 {
				t.Fatalf("page of %d bytes", size)
			}
			token := out.NextForwardToken
			if head {
				got = append(got, messagesOf(out.Events, outputMessage)...)
			} else {
				got = append(messagesOf(out.Events, outputMessage), got...)
				token = out.NextBackwardToken
			}
			out = must[*cwl.GetLogEventsOutput](t)(e.client.GetLogEvents(ctx, &cwl.GetLogEventsInput{LogGroupName: aws.String("g"), LogStreamName: aws.String("s"), NextToken: token}))
		}
		if !slices.Equal(got, all) {
			t.Fatalf("startFromHead=%v: walked %d events", head, len(got))
		}
	}
}
