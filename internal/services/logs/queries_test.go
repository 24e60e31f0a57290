package logs

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cwl "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
)

// waitQuery polls GetQueryResults until the query is no longer running.
func (e *apiEnv) waitQuery(t *testing.T, id *string) *cwl.GetQueryResultsOutput {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out := must[*cwl.GetQueryResultsOutput](t)(e.client.GetQueryResults(context.Background(), &cwl.GetQueryResultsInput{QueryId: id}))
		if out.Status != types.QueryStatusScheduled && out.Status != types.QueryStatusRunning {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("query still %s", out.Status)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func field(row []types.ResultField, name string) string {
	for _, f := range row {
		if aws.ToString(f.Field) == name {
			return aws.ToString(f.Value)
		}
	}
	return ""
}

func TestInsightsQueries(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	ctx := context.Background()
	start := e.clock.Now().Add(-10 * time.Minute).Truncate(time.Minute)
	e.makeStream(t, "/ecs/web", "web/app/1")
	e.makeStream(t, "/ecs/api", "api/app/1")
	e.put(t, "/ecs/web", "web/app/1", start, "INFO started", "Warning: slow disk", "ERROR: failed", "debug")
	e.put(t, "/ecs/api", "api/app/1", start.Add(time.Minute), "error in api", `{"level":"INFO","latency":20}`)
	startSec, endSec := start.Add(-time.Minute).Unix(), e.clock.Now().Unix()

	run := func(query string, groups ...string) *cwl.GetQueryResultsOutput {
		t.Helper()
		out := must[*cwl.StartQueryOutput](t)(e.client.StartQuery(ctx, &cwl.StartQueryInput{
			LogGroupNames: groups, StartTime: aws.Int64(startSec), EndTime: aws.Int64(endSec), QueryString: aws.String(query)}))
		return e.waitQuery(t, out.QueryId)
	}
	t.Run("the seeds digest example over two groups", func(t *testing.T) {
		res := run("fields @timestamp, @message, @logStream | filter @message like /(?i)(Warning|Error)/ | sort @timestamp desc | limit 100", "/ecs/web", "/ecs/api")
		if res.Status != types.QueryStatusComplete {
			t.Fatalf("status %s", res.Status)
		}
		var got []string
		for _, row := range res.Results {
			got = append(got, field(row, "@logStream")+": "+field(row, "@message"))
		}
		want := []string{"api/app/1: error in api", "web/app/1: ERROR: failed", "web/app/1: Warning: slow disk"}
		if !slices.Equal(got, want) {
			t.Fatalf("rows = %q, want %q", got, want)
		}
		if s := res.Statistics; s.RecordsScanned != 6 || s.RecordsMatched != 3 || s.BytesScanned == 0 {
			t.Fatalf("statistics = %+v", s)
		}
	})
	t.Run("stats by bin", func(t *testing.T) {
		res := run("stats count(*) as n by bin(1m) | sort n desc", "/ecs/web", "/ecs/api")
		if len(res.Results) != 2 || field(res.Results[0], "n") != "4" || field(res.Results[1], "n") != "2" {
			t.Fatalf("rows = %+v", res.Results)
		}
	})
	t.Run("StartQuery's limit", func(t *testing.T) {
		out := must[*cwl.StartQueryOutput](t)(e.client.StartQuery(ctx, &cwl.StartQueryInput{LogGroupName: aws.String("/ecs/web"),
			StartTime: aws.Int64(startSec), EndTime: aws.Int64(endSec), QueryString: aws.String("fields @message | sort @timestamp asc"), Limit: aws.Int32(2)}))
		res := e.waitQuery(t, out.QueryId)
		if len(res.Results) != 2 || field(res.Results[1], "@message") != "Warning: slow disk" {
			t.Fatalf("rows = %+v", res.Results)
		}
	})
	t.Run("JSON fields", func(t *testing.T) {
		res := run("filter level = 'INFO' | fields latency", "/ecs/api")
		if len(res.Results) != 1 || field(res.Results[0], "latency") != "20" {
			t.Fatalf("rows = %+v", res.Results)
		}
	})

	t.Run("describe and stop", func(t *testing.T) {
		out := must[*cwl.DescribeQueriesOutput](t)(e.client.DescribeQueries(ctx, &cwl.DescribeQueriesInput{LogGroupName: aws.String("/ecs/api")}))
		if len(out.Queries) != 3 || out.Queries[0].Status != types.QueryStatusComplete { // the limit query was on /ecs/web only
			t.Fatalf("queries = %+v", out.Queries)
		}
		if aws.ToString(out.Queries[0].QueryString) != "filter level = 'INFO' | fields latency" {
			t.Fatalf("newest query first: got %q", aws.ToString(out.Queries[0].QueryString))
		}
		paged := must[*cwl.DescribeQueriesOutput](t)(e.client.DescribeQueries(ctx, &cwl.DescribeQueriesInput{MaxResults: aws.Int32(2)}))
		rest := must[*cwl.DescribeQueriesOutput](t)(e.client.DescribeQueries(ctx, &cwl.DescribeQueriesInput{MaxResults: aws.Int32(2), NextToken: paged.NextToken}))
		if len(paged.Queries) != 2 || len(rest.Queries) != 2 || rest.NextToken != nil {
			t.Fatalf("pages of %d and %d", len(paged.Queries), len(rest.Queries))
		}
		_, err := e.client.StopQuery(ctx, &cwl.StopQueryInput{QueryId: out.Queries[0].QueryId})
		wantCode(t, err, "InvalidParameterException")
		_, err = e.client.StopQuery(ctx, &cwl.StopQueryInput{QueryId: aws.String("00000000-0000-0000-0000-000000000000")})
		wantCode(t, err, "ResourceNotFoundException")
	})

	errs := []struct {
		name string
		in   cwl.StartQueryInput
		code string
	}{
		{"malformed", cwl.StartQueryInput{LogGroupName: aws.String("/ecs/web"), QueryString: aws.String("fields @message | sort")}, "MalformedQueryException"},
		{"unknown group", cwl.StartQueryInput{LogGroupName: aws.String("nope"), QueryString: aws.String("fields @message")}, "ResourceNotFoundException"},
		{"no group", cwl.StartQueryInput{QueryString: aws.String("fields @message")}, "InvalidParameterException"},
		{"name and names", cwl.StartQueryInput{LogGroupName: aws.String("/ecs/web"), LogGroupNames: []string{"/ecs/api"}, QueryString: aws.String("fields @message")}, "InvalidParameterException"},
	}
	for _, tc := range errs {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			in.StartTime, in.EndTime = aws.Int64(startSec), aws.Int64(endSec)
			_, err := e.client.StartQuery(ctx, &in)
			wantCode(t, err, tc.code)
		})
	}
	_, err := e.client.GetQueryResults(ctx, &cwl.GetQueryResultsInput{QueryId: aws.String("nope")})
	wantCode(t, err, "ResourceNotFoundException")

	t.Run("the compile error's location", func(t *testing.T) {
		_, err := e.client.StartQuery(ctx, &cwl.StartQueryInput{LogGroupName: aws.String("/ecs/web"), StartTime: aws.Int64(startSec), EndTime: aws.Int64(endSec),
			QueryString: aws.String("fields @message | frobnicate x")})
		var mq *types.MalformedQueryException
		if !errors.As(err, &mq) || mq.QueryCompileError == nil || mq.QueryCompileError.Location == nil {
			t.Fatalf("error = %#v", err)
		}
		if start := aws.ToInt32(mq.QueryCompileError.Location.StartCharOffset); start != 18 {
			t.Fatalf("compile error at %d, want 18: %s", start, aws.ToString(mq.QueryCompileError.Message))
		}
	})
}

func TestMetricFilters(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	ctx := context.Background()
	e.makeStream(t, "/ecs/web", "s")
	put := func(name, pattern, value string) error {
		_, err := e.client.PutMetricFilter(ctx, &cwl.PutMetricFilterInput{
			LogGroupName: aws.String("/ecs/web"), FilterName: aws.String(name), FilterPattern: aws.String(pattern),
			MetricTransformations: []types.MetricTransformation{{MetricName: aws.String(name + "Count"), MetricNamespace: aws.String("App"), MetricValue: aws.String(value)}},
		})
		return err
	}
	for _, name := range []string{"errors", "warnings", "latency"} {
		if err := put(name, `?"ERROR:" ?"WARNING:"`, "1"); err != nil {
			t.Fatal(err)
		}
	}
	if err := put("latency", `{ $.latency > 100 }`, "$.latency"); err != nil { // replaces
		t.Fatal(err)
	}
	wantCode(t, put("bad", `{ $.a = `, "1"), "InvalidParameterException")
	wantCode(t, put("bad", "ERROR", "ten"), "InvalidParameterException")
	_, err := e.client.PutMetricFilter(ctx, &cwl.PutMetricFilterInput{LogGroupName: aws.String("nope"), FilterName: aws.String("f"), FilterPattern: aws.String("x"),
		MetricTransformations: []types.MetricTransformation{{MetricName: aws.String("m"), MetricNamespace: aws.String("n"), MetricValue: aws.String("1")}}})
	wantCode(t, err, "ResourceNotFoundException")

	names := func(in *cwl.DescribeMetricFiltersInput) []string {
		t.Helper()
		var got []string
		p := cwl.NewDescribeMetricFiltersPaginator(e.client, in)
		for pages := 0; p.HasMorePages() && pages < 10; pages++ {
			out := must[*cwl.DescribeMetricFiltersOutput](t)(p.NextPage(ctx))
			for _, f := range out.MetricFilters {
				got = append(got, aws.ToString(f.FilterName))
			}
		}
		return got
	}
	tests := []struct {
		name string
		in   cwl.DescribeMetricFiltersInput
		want []string
	}{
		{"all, pages of 1", cwl.DescribeMetricFiltersInput{Limit: aws.Int32(1)}, []string{"errors", "latency", "warnings"}},
		{"prefix", cwl.DescribeMetricFiltersInput{LogGroupName: aws.String("/ecs/web"), FilterNamePrefix: aws.String("w")}, []string{"warnings"}},
		{"metric", cwl.DescribeMetricFiltersInput{MetricName: aws.String("latencyCount"), MetricNamespace: aws.String("App")}, []string{"latency"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := names(&tc.in); !slices.Equal(got, tc.want) {
				t.Fatalf("filters = %v, want %v", got, tc.want)
			}
		})
	}
	groups := must[*cwl.DescribeLogGroupsOutput](t)(e.client.DescribeLogGroups(ctx, &cwl.DescribeLogGroupsInput{}))
	if n := aws.ToInt32(groups.LogGroups[0].MetricFilterCount); n != 3 {
		t.Fatalf("metricFilterCount = %d", n)
	}
	must[*cwl.DeleteMetricFilterOutput](t)(e.client.DeleteMetricFilter(ctx, &cwl.DeleteMetricFilterInput{LogGroupName: aws.String("/ecs/web"), FilterName: aws.String("errors")}))
	_, err = e.client.DeleteMetricFilter(ctx, &cwl.DeleteMetricFilterInput{LogGroupName: aws.String("/ecs/web"), FilterName: aws.String("errors")})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = e.client.DescribeMetricFilters(ctx, &cwl.DescribeMetricFiltersInput{FilterNamePrefix: aws.String("w")})
	wantCode(t, err, "InvalidParameterException")

	t.Run("deleting the group deletes its filters", func(t *testing.T) {
		must[*cwl.DeleteLogGroupOutput](t)(e.client.DeleteLogGroup(ctx, &cwl.DeleteLogGroupInput{LogGroupName: aws.String("/ecs/web")}))
		e.makeStream(t, "/ecs/web", "s")
		if got := names(&cwl.DescribeMetricFiltersInput{}); len(got) != 0 {
			t.Fatalf("filters left: %v", got)
		}
	})
}

func TestTestMetricFilter(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	ctx := context.Background()
	tests := []struct {
		name     string
		pattern  string
		messages []string
		want     []int64
		values   map[string]string // of the first match
	}{
		{"OR terms", `?"WARNING:" ?"ERROR:" ?"CRITICAL:"`, []string{"INFO: a", "ERROR: b", "CRITICAL: c", "error: d"}, []int64{2, 3}, map[string]string{}},
		{"space-delimited", `[ip, user, ..., status_code = 5*, bytes > 1000]`,
			[]string{`127.0.0.1 frank GET 200 2000`, `10.0.0.1 bob GET /x 503 1500`}, []int64{2},
			map[string]string{"$ip": "10.0.0.1", "$user": "bob", "$status_code": "503", "$bytes": "1500"}},
		{"JSON", `{ $.level = "ERROR" && $.latency > 100 }`, []string{`{"level":"ERROR","latency":150}`, `{"level":"ERROR","latency":50}`}, []int64{1},
			map[string]string{"$.level": "ERROR", "$.latency": "150"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := must[*cwl.TestMetricFilterOutput](t)(e.client.TestMetricFilter(ctx, &cwl.TestMetricFilterInput{FilterPattern: aws.String(tc.pattern), LogEventMessages: tc.messages}))
			var got []int64
			for _, m := range out.Matches {
				got = append(got, m.EventNumber)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("matches = %v, want %v", got, tc.want)
			}
			for k, v := range tc.values {
				if out.Matches[0].ExtractedValues[k] != v {
					t.Errorf("extracted %s = %q, want %q (all: %v)", k, out.Matches[0].ExtractedValues[k], v, out.Matches[0].ExtractedValues)
				}
			}
		})
	}
	_, err := e.client.TestMetricFilter(ctx, &cwl.TestMetricFilterInput{FilterPattern: aws.String(`[a,`), LogEventMessages: []string{"x"}})
	wantCode(t, err, "InvalidParameterException")
}

// TestStopQuery stops a query over 100,000 events right after starting
// it. Whichever wins the race, the outcome must be consistent: a stopped
// query ends Cancelled with no rows, one that finished first cannot be
// stopped.
func TestStopQuery(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	ctx := context.Background()
	e.makeStream(t, "g", "s")
	start := e.clock.Now().Add(-time.Hour)
	for i := 0; i < 10; i++ {
		e.put(t, "g", "s", start.Add(time.Duration(i)*time.Minute), numbered("event", 10000)...)
	}
	q := must[*cwl.StartQueryOutput](t)(e.client.StartQuery(ctx, &cwl.StartQueryInput{LogGroupName: aws.String("g"),
		StartTime: aws.Int64(start.Unix() - 60), EndTime: aws.Int64(e.clock.Now().Unix()), QueryString: aws.String("stats count(*) by bin(1m)")}))
	_, stopErr := e.client.StopQuery(ctx, &cwl.StopQueryInput{QueryId: q.QueryId})
	res := e.waitQuery(t, q.QueryId)
	switch {
	case stopErr == nil:
		if res.Status != types.QueryStatusCancelled || len(res.Results) != 0 {
			t.Fatalf("stopped query ended %s with %d rows", res.Status, len(res.Results))
		}
		t.Log("stopped while running")
	case errorCode(stopErr) == "InvalidParameterException":
		if res.Status != types.QueryStatusComplete || len(res.Results) != 10 {
			t.Fatalf("query that could not be stopped ended %s with %d rows", res.Status, len(res.Results))
		}
		t.Log("finished before StopQuery")
	default:
		t.Fatal(stopErr)
	}
	out := must[*cwl.DescribeQueriesOutput](t)(e.client.DescribeQueries(ctx, &cwl.DescribeQueriesInput{Status: res.Status}))
	if len(out.Queries) != 1 {
		t.Fatalf("DescribeQueries by status %s: %d queries", res.Status, len(out.Queries))
	}
}
