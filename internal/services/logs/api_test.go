package logs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	cwl "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/smithy-go"

	"github.com/kumo-project/kumo/internal/clock"
	"github.com/kumo-project/kumo/internal/gateway"
)

// testClock is the wall clock moved forward by Advance, so retention and
// the age rules of PutLogEvents can be tested without waiting.
type testClock struct {
	clock.Real
	mu     sync.Mutex
	offset time.Duration
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().UTC().Add(c.offset)
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// apiEnv is the Logs service behind the real gateway, driven by the real
// SDK client.
type apiEnv struct {
	svc    *Service
	clock  *testClock
	client *cwl.Client
	url    string
}

// newAPIEnv starts the service; options adjust its Config.
func newAPIEnv(t *testing.T, options ...func(*Config)) *apiEnv {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	clk := &testClock{}
	cfg := Config{Dir: t.TempDir(), Clock: clk, Log: log, MaintainInterval: 50 * time.Millisecond}
	for _, o := range options {
		o(&cfg)
	}
	svc, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); svc.Wait() })
	gw := gateway.New(gateway.AnyCredentials{AccountID: "000000000000", DefaultRegion: "us-east-1"}, log)
	gw.Register(svc.Gateway())
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	return &apiEnv{svc: svc, clock: clk, client: clientFor(srv.URL, "us-east-1"), url: srv.URL}
}

func clientFor(url, region string) *cwl.Client {
	return cwl.NewFromConfig(aws.Config{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(url),
	})
}

func errorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := errorCode(err); got != code {
		t.Fatalf("error = %v, want %s", err, code)
	}
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// makeStream creates a group (if needed) and a stream.
func (e *apiEnv) makeStream(t *testing.T, group, stream string) {
	t.Helper()
	ctx := context.Background()
	_, err := e.client.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: aws.String(group)})
	if err != nil && errorCode(err) != "ResourceAlreadyExistsException" {
		t.Fatal(err)
	}
	if _, err := e.client.CreateLogStream(ctx, &cwl.CreateLogStreamInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream)}); err != nil {
		t.Fatal(err)
	}
}

// put appends messages to a stream, one ms apart, starting at start.
func (e *apiEnv) put(t *testing.T, group, stream string, start time.Time, messages ...string) {
	t.Helper()
	events := make([]types.InputLogEvent, len(messages))
	for i, m := range messages {
		events[i] = types.InputLogEvent{Timestamp: aws.Int64(start.UnixMilli() + int64(i)), Message: aws.String(m)}
	}
	out, err := e.client.PutLogEvents(context.Background(), &cwl.PutLogEventsInput{
		LogGroupName: aws.String(group), LogStreamName: aws.String(stream), LogEvents: events})
	if err != nil {
		t.Fatal(err)
	}
	if out.RejectedLogEventsInfo != nil {
		t.Fatalf("events rejected: %+v", out.RejectedLogEventsInfo)
	}
}

// allMessages reads a whole stream, page after page, from the head.
func (e *apiEnv) allMessages(t *testing.T, group, stream string) []string {
	t.Helper()
	var out []string
	in := &cwl.GetLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream), StartFromHead: aws.Bool(true)}
	for pages := 0; pages < 100; pages++ {
		res := must[*cwl.GetLogEventsOutput](t)(e.client.GetLogEvents(context.Background(), in))
		out = append(out, messagesOf(res.Events, outputMessage)...)
		if aws.ToString(res.NextForwardToken) == aws.ToString(in.NextToken) {
			return out
		}
		in.NextToken = res.NextForwardToken
	}
	t.Fatal("GetLogEvents never reached the end")
	return nil
}

func numbered(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s %d", prefix, i)
	}
	return out
}

func messagesOf[E any](events []E, msg func(E) *string) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = aws.ToString(msg(e))
	}
	return out
}

func outputMessage(e types.OutputLogEvent) *string     { return e.Message }
func filteredMessage(e types.FilteredLogEvent) *string { return e.Message }
