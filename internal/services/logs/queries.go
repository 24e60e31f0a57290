package logs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/kumo-project/kumo/internal/arn"
	"github.com/kumo-project/kumo/internal/protocol"
	"github.com/kumo-project/kumo/internal/services/logs/insights"
	"github.com/kumo-project/kumo/internal/services/logs/logstore"
	"github.com/kumo-project/kumo/internal/wire/logswire"
)

// Query statuses.
const (
	queryScheduled = "Scheduled"
	queryRunning   = "Running"
	queryComplete  = "Complete"
	queryFailed    = "Failed"
	queryCancelled = "Cancelled"
)

// Insights limits.
const (
	maxConcurrentQueries = 30
	maxQueryGroups       = 50
	maxKeptQueries       = 1000 // finished queries kept for GetQueryResults
	queryLanguage        = "CWLI"
)

// query is one StartQuery: its definition, status and, once complete,
// result. Queries live in memory: a restart forgets them, as AWS forgets
// them after a while.
type query struct {
	id      string
	seq     uint64 // start order
	scope   scope
	groups  []string // user-visible names
	text    string
	created int64 // ms
	limit   int   // StartQuery's limit on rows; 0: none beyond the query's
	cancel  context.CancelFunc

	mu       sync.Mutex
	status   string
	duration int64 // ms, once ended
	result   insights.Result
}

func (q *query) setStatus(status string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.status != queryCancelled {
		q.status = status
	}
}

func (q *query) snapshot() (string, insights.Result, int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.status, q.result, q.duration
}

// queries are the service's queries and the goroutines running them.
type queries struct {
	mu    sync.Mutex
	byID  map[string]*query
	order []*query // oldest first
	seq   uint64
	wg    sync.WaitGroup
	ended bool
}

func newQueries() *queries { return &queries{byID: map[string]*query{}} }

// add registers q unless too many queries run already.
func (qs *queries) add(q *query) error {
	qs.mu.Lock()
	defer qs.mu.Unlock()
	if qs.ended {
		return errors.New("the service is shutting down")
	}
	running := 0
	for _, o := range qs.order {
		if st, _, _ := o.snapshot(); st == queryScheduled || st == queryRunning {
			running++
		}
	}
	if running >= maxConcurrentQueries {
		return limitExceeded("Account maximum query concurrency limit of [%d] reached.", maxConcurrentQueries)
	}
	qs.seq++
	q.seq = qs.seq
	qs.byID[q.id] = q
	qs.order = append(qs.order, q)
	if len(qs.order) > maxKeptQueries {
		old := qs.order[0]
		qs.order = qs.order[1:]
		delete(qs.byID, old.id)
	}
	qs.wg.Add(1)
	return nil
}

func (qs *queries) get(sc scope, id string) (*query, bool) {
	qs.mu.Lock()
	defer qs.mu.Unlock()
	q, ok := qs.byID[id]
	return q, ok && q.scope == sc
}

// list returns the queries of a scope, newest first.
func (qs *queries) list(sc scope) []*query {
	qs.mu.Lock()
	defer qs.mu.Unlock()
	var out []*query
	for i := len(qs.order) - 1; i >= 0; i-- {
		if qs.order[i].scope == sc {
			out = append(out, qs.order[i])
		}
	}
	return out
}

// cancelAll cancels every query and refuses new ones (shutdown).
func (qs *queries) cancelAll() {
	qs.mu.Lock()
	defer qs.mu.Unlock()
	qs.ended = true
	for _, q := range qs.order {
		q.cancel()
	}
}

func (qs *queries) wait() { qs.wg.Wait() }

// StartQuery parses a Logs Insights query and runs it in the background
// over the log groups' events in [startTime, endTime] (seconds, both
// inclusive).
func (s *Service) StartQuery(ctx context.Context, in *logswire.StartQueryRequest) (*logswire.StartQueryResponse, error) {
	sc := scopeOf(ctx)
	if in.QueryLanguage != "" && in.QueryLanguage != queryLanguage {
		return nil, invalidParameter("kumo runs Logs Insights QL (CWLI) queries only, not %s.", in.QueryLanguage)
	}
	groups, err := s.queryGroups(sc, in)
	if err != nil {
		return nil, err
	}
	start, end := deref(in.StartTime), deref(in.EndTime)
	if end < start {
		return nil, invalidParameter("End time should not be before start time.")
	}
	parsed, err := insights.Parse(in.QueryString)
	if err != nil {
		return nil, queryError(err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	q := &query{id: arn.NewUUID(), scope: sc, groups: groups, text: in.QueryString,
		created: s.clock.Now().UnixMilli(), limit: int(deref(in.Limit)), cancel: cancel, status: queryScheduled}
	if err := s.queries.add(q); err != nil {
		cancel()
		return nil, err
	}
	go func() {
		defer s.queries.wg.Done()
		defer cancel()
		s.runQuery(runCtx, q, parsed, start*1000, (end+1)*1000)
	}()
	return &logswire.StartQueryResponse{QueryId: q.id}, nil
}

// queryGroups checks the log groups a query names (exactly one of the
// three ways) and returns their names.
func (s *Service) queryGroups(sc scope, in *logswire.StartQueryRequest) ([]string, error) {
	ways := 0
	var ids []string
	if in.LogGroupName != "" {
		ways++
		ids = append(ids, in.LogGroupName)
	}
	if len(in.LogGroupNames) > 0 {
		ways++
		ids = append(ids, in.LogGroupNames...)
	}
	if len(in.LogGroupIdentifiers) > 0 {
		ways++
		ids = append(ids, in.LogGroupIdentifiers...)
	}
	if ways != 1 {
		return nil, invalidParameter("Exactly one of logGroupName, logGroupNames or logGroupIdentifiers must be specified.")
	}
	if len(ids) > maxQueryGroups {
		return nil, invalidParameter("A query can search at most %d log groups.", maxQueryGroups)
	}
	names := make([]string, len(ids))
	for i, id := range ids {
		name, err := groupNameOf(sc, id)
		if err != nil {
			return nil, err
		}
		if _, err := s.events.Group(sc.group(name)); err != nil {
			return nil, resourceNotFound("Log group '%s' does not exist for account ID '%s' (Service: AWSLogs; Status Code: 400; Error Code: ResourceNotFoundException)", name, sc.account)
		}
		names[i] = name
	}
	return names, nil
}

// runQuery feeds every event of the query's groups in [startMs, endMs) to
// the execution, then keeps the result.
func (s *Service) runQuery(ctx context.Context, q *query, parsed *insights.Query, startMs, endMs int64) {
	began := s.clock.Now()
	q.setStatus(queryRunning)
	x := parsed.NewExecution()
	var err error
	for _, name := range q.groups {
		logName := q.scope.account + ":" + name
		err = s.events.Scan(ctx, q.scope.group(name), logstore.ScanQuery{StartTime: startMs, EndTime: endMs}, func(e logstore.Event) bool {
			x.Add(insights.Event{
				Timestamp: e.Timestamp, IngestionTime: e.IngestionTime, Message: e.Message,
				LogStream: e.Stream, Log: logName, Ptr: logstore.CursorToken(e.Cursor()),
			})
			return ctx.Err() == nil
		})
		if err == nil {
			err = ctx.Err()
		}
		if err != nil {
			break
		}
	}
	status := queryComplete
	var result insights.Result
	switch {
	case ctx.Err() != nil:
		status = queryCancelled
	case err != nil:
		status = queryFailed
		s.log.Warn("logs: query failed", "query", q.id, "err", err)
	default:
		result = x.Result()
		if q.limit > 0 && len(result.Rows) > q.limit {
			result.Rows = result.Rows[:q.limit]
		}
	}
	q.mu.Lock()
	if q.status != queryCancelled {
		q.status = status
	}
	q.result = result
	q.duration = s.clock.Now().Sub(began).Milliseconds()
	q.mu.Unlock()
}

// GetQueryResults returns a query's status and, once complete, its rows
// and statistics.
func (s *Service) GetQueryResults(ctx context.Context, in *logswire.GetQueryResultsRequest) (*logswire.GetQueryResultsResponse, error) {
	q, ok := s.queries.get(scopeOf(ctx), in.QueryId)
	if !ok {
		return nil, resourceNotFound("Query does not exist.")
	}
	status, result, _ := q.snapshot()
	out := &logswire.GetQueryResultsResponse{
		QueryLanguage: queryLanguage,
		Status:        status,
		Results:       [][]logswire.ResultField{},
		Statistics: &logswire.QueryStatistics{
			RecordsMatched: result.Statistics.RecordsMatched, RecordsScanned: result.Statistics.RecordsScanned,
			BytesScanned: result.Statistics.BytesScanned, LogGroupsScanned: float64(len(q.groups)),
		},
	}
	rows, next, err := pageRows(result.Rows, in.NextToken, limitOr(in.MaxItems, insights.MaxLimit))
	if err != nil {
		return nil, err
	}
	out.NextToken = next
	for _, row := range rows {
		fields := make([]logswire.ResultField, len(row))
		for i, f := range row {
			fields[i] = logswire.ResultField{Field: f.Field, Value: f.Value}
		}
		out.Results = append(out.Results, fields)
	}
	return out, nil
}

// pageRows pages result rows by position.
func pageRows(rows [][]insights.ResultField, token string, max int) ([][]insights.ResultField, string, error) {
	type indexed struct {
		i   int
		row []insights.ResultField
	}
	items := make([]indexed, len(rows))
	for i, r := range rows {
		items[i] = indexed{i, r}
	}
	page, next, err := protocol.Page(items, token, max, func(r indexed) string { return fmt.Sprintf("%09d", r.i) }, "InvalidParameterException")
	out := make([][]insights.ResultField, len(page))
	for i, p := range page {
		out[i] = p.row
	}
	return out, next, err
}

// StopQuery cancels a query that has not finished.
func (s *Service) StopQuery(ctx context.Context, in *logswire.StopQueryRequest) (*logswire.StopQueryResponse, error) {
	q, ok := s.queries.get(scopeOf(ctx), in.QueryId)
	if !ok {
		return nil, resourceNotFound("Query does not exist.")
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.status != queryScheduled && q.status != queryRunning {
		return nil, invalidParameter("Query is not running: it is %s.", q.status)
	}
	q.status = queryCancelled
	q.cancel()
	return &logswire.StopQueryResponse{Success: true}, nil
}

// DescribeQueries lists the scope's recent queries, newest first,
// optionally of one log group or status.
func (s *Service) DescribeQueries(ctx context.Context, in *logswire.DescribeQueriesRequest) (*logswire.DescribeQueriesResponse, error) {
	sc := scopeOf(ctx)
	var matching []*query // newest first
	for _, q := range s.queries.list(sc) {
		status, _, _ := q.snapshot()
		if (in.Status == "" || status == in.Status) && (in.LogGroupName == "" || slices.Contains(q.groups, in.LogGroupName)) {
			matching = append(matching, q)
		}
	}
	// The token names the last query of a page by its start order.
	key := func(q *query) string { return invert(fmt.Sprintf("%020d", q.seq)) }
	page, next, err := protocol.Page(matching, in.NextToken, limitOr(in.MaxResults, 1000), key, "InvalidParameterException")
	if err != nil {
		return nil, err
	}
	infos := []logswire.QueryInfo{}
	for _, q := range page {
		status, result, duration := q.snapshot()
		info := logswire.QueryInfo{
			QueryLanguage: queryLanguage, QueryId: q.id, QueryString: q.text, Status: status,
			CreateTime: ptr(q.created), LogGroupName: q.groups[0],
		}
		if status == queryComplete {
			info.QueryDuration = ptr(duration)
			info.BytesScanned = ptr(result.Statistics.BytesScanned)
		}
		infos = append(infos, info)
	}
	return &logswire.DescribeQueriesResponse{Queries: infos, NextToken: next}, nil
}
