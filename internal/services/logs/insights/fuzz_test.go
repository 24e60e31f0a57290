package insights

import (
	"errors"
	"testing"
)

// FuzzParse checks that no query makes the parser or an execution over
// sample events panic. Plain `go test` runs the seeds; `go test
// -fuzz=FuzzParse` explores further.
func FuzzParse(f *testing.F) {
	seeds := []string{
		`fields @timestamp, @message, @logStream | filter @message like /(?i)(Warning|Error)/ | sort @timestamp desc | limit 100`,
		`stats count(*) by bin(1m)`,
		`parse @message "* [*] *" as a, b, c | stats count_distinct(a), pct(b, 99) by c`,
		`parse @message /(?<user>\w+) (?<n>\d+)/ | filter n > 3 and user not in ["x"] | dedup user | display user`,
		`fields concat(tolower(level), "-", strlen(@message)) as k | sort k asc, @timestamp desc | limit 5`,
		`filter not ispresent(a) or (b =~ /x/ and c != 1.5e3) | fields abs(-x) % 0, datefloor(@timestamp, 1h)`,
		"fields `a-b`, @`x:y` | stats earliest(a), latest(b), stddev(c), min(d), max(e), sum(f), avg(g)",
		`filter a like "x`, `fields (((`, `stats count(*) by bin(0m)`, `| |`, `limit 99999999999999999999`,
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, query string) {
		q, err := Parse(query)
		if err != nil {
			var qe *Error
			if !errors.As(err, &qe) {
				t.Fatalf("Parse(%q) returned %T, want *Error", query, err)
			}
			return
		}
		x := q.NewExecution()
		for _, e := range sample {
			x.Add(e)
		}
		x.Result()
	})
}
