package filterpattern

import "testing"

// FuzzCompile checks that no pattern or message makes the compiler or the
// matcher panic. Plain `go test` runs the seeds; `go test -fuzz=FuzzCompile`
// explores further.
func FuzzCompile(f *testing.F) {
	seeds := []string{
		"", "ERROR", `?"WARNING:" ?"ERROR:" ?"CRITICAL:"`, `"ERROR:" -MethodNotAllowedHttpException`,
		`{ $.level = "ERROR" && $.latency > 100 }`, `{ ($.a[0].b = x*) || $.c IS NULL }`, `{ $.d NOT EXISTS }`,
		`[ip, user, ..., status_code = 5*, bytes > 1000]`, `[a, b = %^x% || b = 4*, ...]`, `%[Ee]rror%`,
		`{ $.a[*] = 1 }`, `[`, `{`, `"`, `%`, `{ $.a = "\" }`, `[..., ...]`,
	}
	for _, s := range seeds {
		f.Add(s, `{"level":"ERROR","latency":150,"a":[{"b":"xy"}],"c":null} ERROR: WARNING:`)
		f.Add(s, `127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET / HTTP/1.0" 503 1534`)
	}
	f.Fuzz(func(t *testing.T, pattern, message string) {
		p, err := Compile(pattern)
		if err != nil {
			if _, ok := err.(*SyntaxError); !ok {
				t.Fatalf("Compile(%q) returned %T, want *SyntaxError", pattern, err)
			}
			return
		}
		if fields, ok := p.MatchFields(message); ok {
			fields.Value("$.latency")
			fields.Value("$bytes")
		}
	})
}
