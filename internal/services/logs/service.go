// Package logs is kumo's Amazon CloudWatch Logs: log groups and streams,
// PutLogEvents, GetLogEvents and FilterLogEvents, retention, metric
// filters, Logs Insights queries and tags on the JSON 1.1 API
// (Logs_20140328), over the engine in logstore/, filterpattern/ and
// insights/.
//
//	handlers (this package's exported methods, wire shapes in and out)
//	   │ AWS's rules and errors; names scoped by account and region
//	   ▼
//	logstore ◄── retention loop (Maintain on a schedule)
//	   ▲
//	Sink (sink.go) ◄── the agent's awslogs shipper, exactly once by source offset
//
// Log events and groups live in the engine under <Dir>; metric filters and
// the delivery marks of the awslogs sink in <Dir>/logs.db.
package logs

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/kumo-project/kumo/internal/clock"
	"github.com/kumo-project/kumo/internal/gateway"
	"github.com/kumo-project/kumo/internal/protocol"
	"github.com/kumo-project/kumo/internal/services/logs/logstore"
	"github.com/kumo-project/kumo/internal/store"
	"github.com/kumo-project/kumo/internal/wire/logswire"
)

// Config configures the Logs service.
type Config struct {
	// Dir holds the service's files (required), e.g. <DataDir>/logs.
	Dir   string
	Clock clock.Clock // required
	Log   *slog.Logger
	// MaintainInterval is how often retention runs; default 5 minutes.
	MaintainInterval time.Duration
	// Metrics receives the data points of metric filters (optional: kumo
	// has no CloudWatch metrics service yet, so filters emit nothing).
	Metrics MetricPublisher
}

// Service implements the CloudWatch Logs API.
type Service struct {
	events  *logstore.Store
	db      *store.Store // metric filters, delivery marks
	clock   clock.Clock
	log     *slog.Logger
	every   time.Duration
	metrics MetricPublisher

	queries       *queries
	streamLocksMu sync.Mutex
	streamLocks   map[string]*sync.Mutex // per stream: one sink call at a time

	wg sync.WaitGroup
}

// New opens the service's stores; Start runs its loops.
func New(cfg Config) (*Service, error) {
	if cfg.Dir == "" || cfg.Clock == nil {
		return nil, fmt.Errorf("logs: Dir and Clock are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.MaintainInterval <= 0 {
		cfg.MaintainInterval = 5 * time.Minute
	}
	events, err := logstore.Open(logstore.Config{Dir: cfg.Dir, Clock: cfg.Clock})
	if err != nil {
		return nil, err
	}
	db, err := store.Open(filepath.Join(cfg.Dir, "logs.db"))
	if err != nil {
		events.Close()
		return nil, err
	}
	return &Service{
		events: events, db: db, clock: cfg.Clock, log: cfg.Log, every: cfg.MaintainInterval, metrics: cfg.Metrics,
		queries: newQueries(), streamLocks: map[string]*sync.Mutex{},
	}, nil
}

// Gateway returns the service's entry for the API gateway.
func (s *Service) Gateway() *gateway.Service {
	h := &logswire.Handlers{
		CreateLogGroup:        s.CreateLogGroup,
		DeleteLogGroup:        s.DeleteLogGroup,
		DescribeLogGroups:     s.DescribeLogGroups,
		ListLogGroups:         s.ListLogGroups,
		CreateLogStream:       s.CreateLogStream,
		DeleteLogStream:       s.DeleteLogStream,
		DescribeLogStreams:    s.DescribeLogStreams,
		PutLogEvents:          s.PutLogEvents,
		GetLogEvents:          s.GetLogEvents,
		FilterLogEvents:       s.FilterLogEvents,
		PutRetentionPolicy:    s.PutRetentionPolicy,
		DeleteRetentionPolicy: s.DeleteRetentionPolicy,
		PutMetricFilter:       s.PutMetricFilter,
		DescribeMetricFilters: s.DescribeMetricFilters,
		DeleteMetricFilter:    s.DeleteMetricFilter,
		TestMetricFilter:      s.TestMetricFilter,
		StartQuery:            s.StartQuery,
		GetQueryResults:       s.GetQueryResults,
		StopQuery:             s.StopQuery,
		DescribeQueries:       s.DescribeQueries,
		TagResource:           s.TagResource,
		UntagResource:         s.UntagResource,
		ListTagsForResource:   s.ListTagsForResource,
		TagLogGroup:           s.TagLogGroup,
		UntagLogGroup:         s.UntagLogGroup,
		ListTagsLogGroup:      s.ListTagsLogGroup,
	}
	return &gateway.Service{
		SigningName:         logswire.SigningName,
		Protocol:            gateway.ProtocolJSON,
		TargetPrefix:        logswire.TargetPrefix,
		JSONVersion:         logswire.JSONVersion,
		APIVersion:          logswire.APIVersion,
		Operations:          h.Operations(),
		ValidationErrorCode: "InvalidParameterException",
	}
}

// Start runs the retention loop until ctx ends. When ctx ends, running
// queries are cancelled and, once Wait returns, the stores are closed.
func (s *Service) Start(ctx context.Context) error {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.retentionLoop(ctx)
		s.queries.cancelAll()
	}()
	return nil
}

// Wait blocks until the loops and queries have ended, then closes the
// stores.
func (s *Service) Wait() {
	s.wg.Wait()
	s.queries.wait()
	s.events.Close()
	s.db.Close()
}

// scope is the account and region a request acts in.
type scope struct {
	account string
	region  string
}

func scopeOf(ctx context.Context) scope {
	c := protocol.RequestFrom(ctx).Caller
	return scope{account: c.AccountID, region: c.Region}
}

// group is the engine's name of a log group: names cannot hold ':', so
// "<account>:<region>:<name>" keeps accounts and regions apart.
func (sc scope) group(name string) string { return sc.account + ":" + sc.region + ":" + name }

// prefix is the start of every engine group name of the scope.
func (sc scope) prefix() string { return sc.account + ":" + sc.region + ":" }

// userName is the name a client sees for an engine group name.
func (sc scope) userName(internal string) string { return strings.TrimPrefix(internal, sc.prefix()) }

// groupARN is a log group's ARN as DescribeLogGroups shows it in arn
// (with ":*") and logGroupArn (without).
func (sc scope) groupARN(name string) string {
	return "arn:aws:logs:" + sc.region + ":" + sc.account + ":log-group:" + name
}

func (sc scope) streamARN(group, stream string) string {
	return sc.groupARN(group) + ":log-stream:" + stream
}
