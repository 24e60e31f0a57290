package insights

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

var base = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// sample is a small log group: JSON and plain events in three streams.
var sample = []Event{
	ev(0, "web/1", `{"level":"INFO","latency":100,"path":"/a","user":{"id":1,"name":"ann"}}`),
	ev(30, "web/1", `{"level":"ERROR","latency":250,"path":"/b","user":{"id":2,"name":"bob"}}`),
	ev(65, "web/2", `127.0.0.1 GET /index.html 200 1534 Warning: slow`),
	ev(70, "web/2", `10.0.0.2 POST /api 500 20 error: boom`),
	ev(125, "db", `{"level":"WARN","latency":50,"path":"/a","tags":["x","y"]}`),
	ev(130, "db", `plain line without keywords`),
}

func ev(sec int, stream, msg string) Event {
	ts := base.Add(time.Duration(sec) * time.Second).UnixMilli()
	return Event{Timestamp: ts, IngestionTime: ts + 5, Message: msg, LogStream: stream,
		Log: "000000000000:/ecs/web", Ptr: fmt.Sprintf("ptr-%d", sec)}
}

// run executes query over events and renders each row as "f=v, f=v",
// leaving out @ptr.
func run(t *testing.T, query string, events []Event) ([]string, Result) {
	t.Helper()
	q, err := Parse(query)
	if err != nil {
		t.Fatalf("Parse(%q): %v", query, err)
	}
	x := q.NewExecution()
	for _, e := range events {
		x.Add(e)
	}
	res := x.Result()
	var rows []string
	for _, row := range res.Rows {
		var parts []string
		for _, f := range row {
			if f.Field != "@ptr" {
				parts = append(parts, f.Field+"="+f.Value)
			}
		}
		rows = append(rows, strings.Join(parts, ", "))
	}
	return rows, res
}

func TestQueries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		query string
		want  []string
	}{
		{"seeds digest example",
			`fields @timestamp, @message, @logStream | filter @message like /(?i)(Warning|Error)/ | sort @timestamp desc | limit 100`,
			[]string{
				"@timestamp=2026-11-01 12:01:10.000, @message=10.0.0.2 POST /api 500 20 error: boom, @logStream=web/2",
				"@timestamp=2026-11-01 12:01:05.000, @message=127.0.0.1 GET /index.html 200 1534 Warning: slow, @logStream=web/2",
				`@timestamp=2026-11-01 12:00:30.000, @message={"level":"ERROR","latency":250,"path":"/b","user":{"id":2,"name":"bob"}}, @logStream=web/1`,
			}},
		{"stats count by bin 1m", `stats count(*) by bin(1m)`, []string{
			"bin(1m)=2026-11-01 12:00:00.000, count(*)=2",
			"bin(1m)=2026-11-01 12:01:00.000, count(*)=2",
			"bin(1m)=2026-11-01 12:02:00.000, count(*)=2",
		}},
		{"bin with a period in ms", `stats count(*) as n by bin(60000) as t | limit 1`, []string{"t=2026-11-01 12:00:00.000, n=2"}},
		{"count with no argument", `stats count() by bin(1d)`, []string{"bin(1d)=2026-11-01 00:00:00.000, count()=6"}},
		{"stats count by bin 5m", `stats count(*) as n by bin(5m) as t`, []string{"t=2026-11-01 12:00:00.000, n=6"}},
		{"numeric comparison, default newest first", `filter latency > 90 | fields path, latency`,
			[]string{"path=/b, latency=250", "path=/a, latency=100"}},
		{"greater or equal and less or equal", `filter latency >= 100 and latency <= 250 | stats count(*) as n`, []string{"n=2"}},
		{"not equal", `filter level != "INFO" | fields level`, []string{"level=WARN", "level=ERROR"}},
		{"like string is substring", `filter @message like "GET" | fields @message`,
			[]string{"@message=127.0.0.1 GET /index.html 200 1534 Warning: slow"}},
		{"like is case sensitive", `filter @message like "warning" | fields @message`, nil},
		{"stats over nothing has no rows", `filter @message like "warning" | stats count(*) as n`, nil},
		{"not like regex", `filter @message not like /[{]/ and @message not like /GET|POST/ | fields @message`,
			[]string{"@message=plain line without keywords"}},
		{"regex match operator", `filter @message =~ /^\d+\.\d+/ | stats count(*) as n`, []string{"n=2"}},
		{"in list", `filter level in ["ERROR", "WARN"] | fields level`, []string{"level=WARN", "level=ERROR"}},
		{"not in list", `filter ispresent(level) and level not in ["ERROR", "WARN"] | fields level`, []string{"level=INFO"}},
		{"numbers in list", `filter latency in [50, 100] | fields latency`, []string{"latency=50", "latency=100"}},
		{"and or not with parentheses", `filter (level = "INFO" or level = "WARN") and not latency > 60 | fields level`, []string{"level=WARN"}},
		{"string functions",
			`fields strlen(path) as n, tolower(level) as l, toupper(path) as u, concat(level, "-", path) as c | filter ispresent(level) | sort @timestamp asc | limit 1`,
			[]string{"n=2, l=info, u=/A, c=INFO-/a"}},
		{"more string functions",
			`fields substr(@message, 0, 5) as s, replace(@message, " ", "_") as r, strcontains(@message, "line") as has, trim("  x ") as t | filter @logStream = "db" and not ispresent(level)`,
			[]string{"s=plain, r=plain_line_without_keywords, has=true, t=x"}},
		{"number functions", `fields abs(0 - latency) as a, floor(latency / 3) as f, ceil(latency / 3) as c, greatest(latency, 70) as g, least(latency, 70) as m | filter level = "WARN"`,
			[]string{"a=50, f=16, c=17, g=70, m=50"}},
		{"arithmetic precedence", `fields latency * 2 + 1 as x, (latency + 1) % 7 as y | filter level = "INFO"`, []string{"x=201, y=3"}},
		{"isempty", `filter isempty(level) | stats count(*) as n`, []string{"n=3"}},
		{"isblank", `fields isblank(level) as b | filter @logStream = "db" | sort @timestamp asc`, []string{"b=false", "b=true"}},
		{"coalesce", `fields coalesce(level, "none") as l | filter @logStream = "web/2" | limit 1`, []string{"l=none"}},
		{"date functions", `fields datefloor(@timestamp, 1h) as h, dateceil(@timestamp, 1m) as c, fromMillis(0) as z, toMillis(@timestamp) as ms | limit 1`,
			[]string{fmt.Sprintf("h=2026-11-01 12:00:00.000, c=2026-11-01 12:03:00.000, z=1970-01-01 00:00:00.000, ms=%d", base.Add(130*time.Second).UnixMilli())}},
		{"parse glob", `parse @message "* * * * *" as ip, method, url, status, rest | filter ispresent(status) | fields ip, status, rest | sort @timestamp asc`,
			[]string{"ip=127.0.0.1, status=200, rest=1534 Warning: slow", "ip=10.0.0.2, status=500, rest=20 error: boom"}},
		{"parse regex named groups", `parse @message /(?<method>GET|POST) (?<url>\S+)/ | filter ispresent(method) | display method, url | sort url`,
			[]string{"method=POST, url=/api", "method=GET, url=/index.html"}},
		{"parsed numbers compare numerically", `parse @message "* * * * *" as ip, method, url, status, rest | filter status >= 500 | fields url`, []string{"url=/api"}},
		{"stats by field, absent group last", `stats count(*) as n by level`,
			[]string{"level=ERROR, n=1", "level=INFO, n=1", "level=WARN, n=1", "n=3"}},
		{"stats then sort on several keys", `stats count(*) as n by @logStream | sort n desc, @logStream asc`,
			[]string{"@logStream=db, n=2", "@logStream=web/1, n=2", "@logStream=web/2, n=2"}},
		{"stats of stats", `stats count(*) as n by @logStream | stats sum(n) as total, max(n) as most`, []string{"total=6, most=2"}},
		{"aggregations",
			`stats count(*) as n, count(latency) as c, count_distinct(path) as d, sum(latency) as s, avg(latency) as a, min(latency) as mn, max(latency) as mx, pct(latency, 50) as p50, earliest(level) as e, latest(level) as l`,
			[]string{"n=6, c=3, d=2, s=400, a=133.33333333333334, mn=50, mx=250, p50=100, e=INFO, l=WARN"}},
		{"aggregation default names", `stats avg(latency), pct(latency, 90) by path`,
			[]string{"path=/a, avg(latency)=75, pct(latency, 90)=100", "path=/b, avg(latency)=250, pct(latency, 90)=250", ""}},
		{"dedup keeps the newest by default", `fields path | filter ispresent(path) | dedup path`, []string{"path=/a", "path=/b"}},
		{"dedup after sort keeps the first in that order", `fields path, latency | filter ispresent(path) | sort latency desc | dedup path`,
			[]string{"path=/b, latency=250", "path=/a, latency=100"}},
		{"dedup keeps nulls and takes a limit", `fields level | dedup level | limit 5`, []string{"", "level=WARN", "", "", "level=ERROR"}},
		{"display picks columns", `fields level, latency | filter ispresent(latency) | display latency`,
			[]string{"latency=50", "latency=250", "latency=100"}},
		{"nested json field", `filter user.name = "bob" | fields user.id`, []string{"user.id=2"}},
		{"json array element", `filter tags.1 = "y" | fields tags.0`, []string{"tags.0=x"}},
		{"backticked field", "filter `user.name` = \"ann\" | fields `user.id`", []string{"user.id=1"}},
		{"log and ingestion time", `fields @log, @ingestionTime | limit 1`,
			[]string{"@log=000000000000:/ecs/web, @ingestionTime=2026-11-01 12:02:10.005"}},
		{"no fields command shows all fields", `filter level = "WARN"`, []string{
			`@timestamp=2026-11-01 12:02:05.000, @message={"level":"WARN","latency":50,"path":"/a","tags":["x","y"]}, @logStream=db, @log=000000000000:/ecs/web, latency=50, level=WARN, path=/a, tags.0=x, tags.1=y`}},
		{"limit keeps the newest", `fields @message | limit 2`,
			[]string{"@message=plain line without keywords", `@message={"level":"WARN","latency":50,"path":"/a","tags":["x","y"]}`}},
		{"sort ascending with limit", `fields @timestamp | sort @timestamp asc | limit 1`, []string{"@timestamp=2026-11-01 12:00:00.000"}},
		{"case-insensitive commands and keywords", `FIELDS level | FILTER level = "INFO" OR level = "ERROR" | SORT level ASC`, []string{"level=ERROR", "level=INFO"}},
		{"timestamp comparison with millis", fmt.Sprintf(`filter @timestamp >= %d | stats count(*) as n`, base.Add(2*time.Minute).UnixMilli()), []string{"n=2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, _ := run(t, tc.query, sample)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("query %s\n got: %q\nwant: %q", tc.query, got, tc.want)
			}
		})
	}
}

func TestParseGlobLiterals(t *testing.T) {
	t.Parallel()
	events := []Event{ev(1, "s", "[ERROR] disk full (sda)"), ev(2, "s", "no brackets here")}
	got, _ := run(t, `parse "[*] * (*)" as lvl, msg, dev | fields lvl, msg, dev, @message`, events)
	want := []string{"@message=no brackets here", "lvl=ERROR, msg=disk full, dev=sda, @message=[ERROR] disk full (sda)"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestStddev(t *testing.T) {
	t.Parallel()
	got, _ := run(t, `stats stddev(latency) as sd`, sample)
	mean := 400.0 / 3
	want := math.Sqrt((math.Pow(100-mean, 2) + math.Pow(250-mean, 2) + math.Pow(50-mean, 2)) / 2)
	if got[0] != "sd="+formatNumber(want) {
		t.Errorf("stddev row %q, want %v", got[0], want)
	}
}

func TestStatisticsAndPtr(t *testing.T) {
	t.Parallel()
	_, res := run(t, `fields @message | filter @message like /(?i)(Warning|Error)/ | limit 1`, sample)
	var bytes float64
	for _, e := range sample {
		bytes += float64(len(e.Message))
	}
	want := Statistics{RecordsMatched: 3, RecordsScanned: 6, BytesScanned: bytes}
	if res.Statistics != want {
		t.Errorf("Statistics = %+v, want %+v", res.Statistics, want)
	}
	row := res.Rows[0]
	if last := row[len(row)-1]; last.Field != "@ptr" || last.Value != "ptr-70" {
		t.Errorf("row ends with %+v, want @ptr ptr-70", last)
	}
	_, res = run(t, `stats count(*)`, sample)
	for _, f := range res.Rows[0] {
		if f.Field == "@ptr" {
			t.Error("stats rows must not carry @ptr")
		}
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, query, want string
	}{
		{"empty", ``, "unexpected end of query at line 1 and position 1"},
		{"fields without a field", `fields`, "unexpected end of query"},
		{"unknown command", `frobnicate x`, "unexpected symbol found frobnicate, expected a command at line 1 and position 1"},
		{"missing pipe", `fields a filter b`, "unexpected symbol found filter at line 1 and position 10"},
		{"dangling comparison", `filter x =`, "unexpected end of query"},
		{"stats without aggregation", `stats x by y`, "expected an aggregation function"},
		{"stats by nothing", `stats count(*) by`, "unexpected end of query"},
		{"limit zero", `limit 0`, "limit must be a whole number from 1 to 10000"},
		{"limit too big", `limit 20000`, "limit must be a whole number"},
		{"unterminated regex", `filter @message like /abc`, "unterminated regular expression"},
		{"bad regex", `filter @message like /(/`, "invalid regular expression"},
		{"unterminated string", `filter a = "abc`, "unterminated string"},
		{"unknown function", `fields foo(1)`, "unknown function foo"},
		{"aggregation outside stats", `filter count(*) > 1`, "aggregation count is only allowed in stats"},
		{"wrong argument count", `fields strlen(a, b)`, "wrong number of arguments for strlen"},
		{"glob fields mismatch", `parse @message "* *" as a`, "the pattern has 2 wildcards but 1 fields are named"},
		{"bad period", `stats count(*) by bin(5x)`, "invalid time period 5x"},
		{"bad percentile", `stats pct(a, 150)`, "pct needs a percentile"},
		{"like needs pattern", `filter a like 3`, "unexpected symbol found 3"},
		{"second line position", "fields a\n| filter )", "unexpected symbol found ) at line 2 and position 10"},
		{"stray character", `fields a ; b`, "unexpected symbol found ;"},
		{"command after dedup", `dedup a | sort b`, "only limit may follow dedup at line 1 and position 11"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(tc.query)
			var qe *Error
			if !errors.As(err, &qe) {
				t.Fatalf("Parse(%q) = %v, want *Error", tc.query, err)
			}
			if !strings.Contains(qe.Message, tc.want) {
				t.Errorf("Parse(%q) = %q, want it to contain %q", tc.query, qe.Message, tc.want)
			}
		})
	}
}

func TestNaturalSortOrder(t *testing.T) {
	t.Parallel()
	// The ascending order from AWS's description of sort.
	want := []string{"!:", "#", "*%04", "0#", "5A", "111A", "2345_", "@", "@_", "A", "A9876fghj", "a12345hfh", "0", "7", "12"}
	var events []Event
	for i := len(want) - 1; i >= 0; i-- {
		events = append(events, ev(i, "s", want[i]))
	}
	got, _ := run(t, `fields @message | sort @message asc`, events)
	for i, w := range want {
		if got[i] != "@message="+w {
			t.Fatalf("sorted: %q\nwant order %q", got, want)
		}
	}
	got, _ = run(t, `fields @message | sort @message desc | limit 2`, events)
	if got[0] != "@message=12" || got[1] != "@message=7" {
		t.Errorf("descending: %q", got)
	}
}

func TestCommentsAndPeriods(t *testing.T) {
	t.Parallel()
	day := func(y int, m time.Month, d int) Event {
		ts := time.Date(y, m, d, 13, 0, 0, 0, time.UTC).UnixMilli()
		return Event{Timestamp: ts, Message: "x", LogStream: "s"}
	}
	events := []Event{day(2026, 1, 5), day(2026, 2, 20), day(2026, 4, 1), day(2025, 12, 31)}
	tests := []struct {
		name, query string
		want        []string
	}{
		{"comments", "# count them\nstats count(*) as n # all of them\n# done", []string{"n=4"}},
		{"month", `stats count(*) as n by bin(1mo) as m`, []string{
			"m=2025-12-01 00:00:00.000, n=1", "m=2026-01-01 00:00:00.000, n=1", "m=2026-02-01 00:00:00.000, n=1", "m=2026-04-01 00:00:00.000, n=1"}},
		{"quarter", `stats count(*) as n by bin(1q) as q`, []string{
			"q=2025-10-01 00:00:00.000, n=1", "q=2026-01-01 00:00:00.000, n=2", "q=2026-04-01 00:00:00.000, n=1"}},
		{"year", `stats count(*) as n by bin(1y) as y`, []string{"y=2025-01-01 00:00:00.000, n=1", "y=2026-01-01 00:00:00.000, n=3"}},
		{"plural hours", `stats count(*) as n by bin(12hrs) as h | limit 1`, []string{"h=2025-12-31 12:00:00.000, n=1"}},
		{"weeks", `fields datefloor(@timestamp, 1w) as w | sort @timestamp asc | limit 1`, []string{"w=2025-12-25 00:00:00.000"}},
		{"dateceil month", `fields dateceil(@timestamp, 1month) as c | sort @timestamp asc | limit 1`, []string{"c=2026-01-01 00:00:00.000"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, _ := run(t, tc.query, events)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("query %s\n got: %q\nwant: %q", tc.query, got, tc.want)
			}
		})
	}
}

func TestDefaultLimit(t *testing.T) {
	t.Parallel()
	q, _ := Parse(`fields @message`)
	x := q.NewExecution()
	for i := range MaxLimit + 5 {
		x.Add(ev(i, "s", "m"))
	}
	if n := len(x.Result().Rows); n != MaxLimit {
		t.Errorf("%d rows without limit, want %d", n, MaxLimit)
	}
}
