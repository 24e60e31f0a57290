package filterpattern

import (
	"errors"
	"strings"
	"testing"
)

// matchCase is one pattern tested against messages that must match and
// messages that must not.
type matchCase struct {
	name    string
	pattern string
	match   []string
	noMatch []string
}

func runMatchCases(t *testing.T, cases []matchCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := Compile(tc.pattern)
			if err != nil {
				t.Fatalf("Compile(%q): %v", tc.pattern, err)
			}
			for _, m := range tc.match {
				if !p.Match(m) {
					t.Errorf("%q should match %q", tc.pattern, m)
				}
			}
			for _, m := range tc.noMatch {
				if p.Match(m) {
					t.Errorf("%q should not match %q", tc.pattern, m)
				}
			}
		})
	}
}

func TestTerms(t *testing.T) {
	t.Parallel()
	runMatchCases(t, []matchCase{
		{name: "empty matches all", pattern: "", match: []string{"", "anything"}},
		{name: "blank matches all", pattern: "   ", match: []string{"x"}},
		{name: "empty quotes match all", pattern: `""`, match: []string{"x", ""}},
		{name: "quoted blank matches all", pattern: `" "`, match: []string{"x", ""}},
		{name: "single term substring", pattern: "ERROR",
			match:   []string{"[ERROR] A fatal exception has occurred", "Exiting with ERRORCODE: -1"},
			noMatch: []string{"error in lower case", "WARN only"}},
		{name: "terms are ANDed", pattern: "ERROR Exception",
			match:   []string{"[ERROR] Caught IllegalArgumentException", "[ERROR] Unhandled Exception"},
			noMatch: []string{"[ERROR] nothing else", "Exception alone"}},
		{name: "quoted phrase", pattern: `"Failed to process the request"`,
			match:   []string{"[WARN] Failed to process the request", "[ERROR] Unable to continue: Failed to process the request"},
			noMatch: []string{"Failed to process request"}},
		{name: "seeds digest OR terms", pattern: `?"WARNING:" ?"ERROR:" ?"CRITICAL:"`,
			match:   []string{"WARNING: disk 91% full", "app ERROR: boom", "CRITICAL: down"},
			noMatch: []string{"WARNING disk", "error: lower", "INFO: fine"}},
		{name: "seeds digest exclusion", pattern: `"ERROR:" -MethodNotAllowedHttpException`,
			match:   []string{"ERROR: NullPointerException"},
			noMatch: []string{"ERROR: MethodNotAllowedHttpException at /x", "INFO: ok"}},
		{name: "exclude only", pattern: "-DEBUG",
			match: []string{"INFO hello", ""}, noMatch: []string{"DEBUG hello"}},
		{name: "exclude quoted phrase", pattern: `ERROR -"health check"`,
			match: []string{"ERROR db"}, noMatch: []string{"ERROR health check failed"}},
		{name: "required and optional", pattern: "ERROR ?db ?cache",
			match: []string{"ERROR db down", "ERROR cache miss"}, noMatch: []string{"ERROR disk", "db down"}},
		{name: "case sensitive", pattern: "Error", match: []string{"Error x"}, noMatch: []string{"ERROR x", "error x"}},
		{name: "underscore and digits", pattern: "user_42", match: []string{"id=user_42 ok"}, noMatch: []string{"user_4"}},
		{name: "escaped quote in phrase", pattern: `"say \"hi\""`, match: []string{`they say "hi" twice`}, noMatch: []string{"say hi"}},
		{name: "regex", pattern: `%AUTHORIZED%`,
			match: []string{"[ERROR 401] UNAUTHORIZED REQUEST", "[SUCCESS 200] AUTHORIZED REQUEST"}, noMatch: []string{"authorized"}},
		{name: "regex ip", pattern: `%\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}%`,
			match: []string{"from 10.0.0.1 ok"}, noMatch: []string{"from host ok"}},
		{name: "regex alternation", pattern: `%[Ee]rror|[Ff]ail%`,
			match: []string{"an error", "Fail!"}, noMatch: []string{"ERROR"}},
		{name: "regex anchored", pattern: `%^[hc]at%`, match: []string{"hat on", "cat"}, noMatch: []string{"a cat"}},
		{name: "optional regex", pattern: `?%^WARN% ?%^ERR%`, match: []string{"WARN x", "ERR y"}, noMatch: []string{"x WARN"}},
	})
}

func TestJSON(t *testing.T) {
	t.Parallel()
	const cloudTrail = `{"eventType":"UpdateTrail","sourceIPAddress":"123.123.1.2","arrayKey":["value","another"],
		"objectList":[{"name":"a","id":1},{"name":"b","id":2}],"SomeObject":null,"ThisFlag":true,"OtherFlag":false,
		"bandwidth":80,"latency":20,"refreshRate":60,"responseCode":200,"errorCode":400,"number":[1e+3],
		"user":{"id":1,"email":"John.Stiles@example.com"},"coordinates":[[6,7],[0,1]],"level":"ERROR","code":"404"}`
	runMatchCases(t, []matchCase{
		{name: "string equal", pattern: `{ $.eventType = "UpdateTrail" }`, match: []string{cloudTrail}, noMatch: []string{`{"eventType":"Other"}`, "not json UpdateTrail"}},
		{name: "bare string equal", pattern: `{ $.eventType = UpdateTrail }`, match: []string{cloudTrail}},
		{name: "string not equal", pattern: `{ $.eventType != "CreateTrail" }`, match: []string{cloudTrail}, noMatch: []string{`{"eventType":"CreateTrail"}`, `{"other":1}`}},
		{name: "wildcard unquoted", pattern: `{ $.sourceIPAddress = 123.123.* }`, match: []string{cloudTrail}, noMatch: []string{`{"sourceIPAddress":"10.0.0.1"}`}},
		{name: "wildcard not equal", pattern: `{ $.sourceIPAddress != 123.123.* }`, match: []string{`{"sourceIPAddress":"10.0.0.1"}`}, noMatch: []string{cloudTrail}},
		{name: "wildcard quoted middle", pattern: `{ $.eventType = "Update*l" }`, match: []string{cloudTrail}, noMatch: []string{`{"eventType":"Updates"}`}},
		{name: "array index", pattern: `{ $.arrayKey[0] = "value" }`, match: []string{cloudTrail}, noMatch: []string{`{"arrayKey":["other","value"]}`}},
		{name: "array any element", pattern: `{ $.arrayKey[*] = "another" }`, match: []string{cloudTrail}, noMatch: []string{`{"arrayKey":["value"]}`}},
		{name: "object in array", pattern: `{ $.objectList[1].id = 2 }`, match: []string{cloudTrail}, noMatch: []string{`{"objectList":[{"id":2}]}`}},
		{name: "nested array", pattern: `{ $.coordinates[0][1] = 7 }`, match: []string{cloudTrail}},
		{name: "is null", pattern: `{ $.SomeObject IS NULL }`, match: []string{cloudTrail}, noMatch: []string{`{"SomeObject":1}`, `{}`}},
		{name: "not exists", pattern: `{ $.SomeOtherObject NOT EXISTS }`, match: []string{cloudTrail, `{}`}, noMatch: []string{`{"SomeOtherObject":null}`}},
		{name: "is true", pattern: `{ $.ThisFlag IS TRUE }`, match: []string{cloudTrail}, noMatch: []string{`{"ThisFlag":false}`, `{"ThisFlag":"true"}`}},
		{name: "is false", pattern: `{ $.OtherFlag IS FALSE }`, match: []string{cloudTrail}, noMatch: []string{`{"OtherFlag":true}`}},
		{name: "greater", pattern: `{ $.bandwidth > 75 }`, match: []string{cloudTrail}, noMatch: []string{`{"bandwidth":75}`, `{"bandwidth":"x"}`}},
		{name: "less", pattern: `{ $.latency < 50 }`, match: []string{cloudTrail}, noMatch: []string{`{"latency":50}`}},
		{name: "less or equal", pattern: `{ $.refreshRate <= 60 }`, match: []string{cloudTrail}, noMatch: []string{`{"refreshRate":61}`}},
		{name: "greater or equal", pattern: `{ $.responseCode >= 200 }`, match: []string{cloudTrail}, noMatch: []string{`{"responseCode":199}`}},
		{name: "number equal", pattern: `{ $.errorCode = 400 }`, match: []string{cloudTrail, `{"errorCode":400.0}`}, noMatch: []string{`{"errorCode":500}`}},
		{name: "number not equal", pattern: `{ $.errorCode != 500 }`, match: []string{cloudTrail}, noMatch: []string{`{"errorCode":500}`}},
		{name: "scientific notation", pattern: `{ $.number[0] = 1e+3 }`, match: []string{cloudTrail, `{"number":[1000]}`}},
		{name: "numeric string", pattern: `{ $.code = 404 }`, match: []string{cloudTrail}},
		{name: "regex value", pattern: `{ $.eventType = %Update[A-Z]% }`, match: []string{cloudTrail}, noMatch: []string{`{"eventType":"Updatetrail"}`}},
		{name: "regex not equal", pattern: `{ $.eventType != %^Create% }`, match: []string{cloudTrail}, noMatch: []string{`{"eventType":"CreateTrail"}`}},
		{name: "issue example and", pattern: `{ $.level = "ERROR" && $.latency > 100 }`,
			match: []string{`{"level":"ERROR","latency":150}`}, noMatch: []string{`{"level":"ERROR","latency":50}`, `{"level":"INFO","latency":150}`}},
		{name: "parenthesised and", pattern: `{ ($.user.id = 1) && ($.user.email = "John.Stiles@example.com") }`, match: []string{cloudTrail}},
		{name: "or with and precedence", pattern: `{ $.user.email = "nobody" || $.coordinates[0][1] = nonmatch && $.actions[2] = nomatch }`, noMatch: []string{cloudTrail}},
		{name: "or", pattern: `{ $.level = "WARN" || $.level = "ERROR" }`, match: []string{cloudTrail}, noMatch: []string{`{"level":"INFO"}`}},
		{name: "grouping overrides precedence", pattern: `{ ($.level = "WARN" || $.level = "ERROR") && $.latency > 100 }`,
			match: []string{`{"level":"WARN","latency":101}`}, noMatch: []string{cloudTrail}},
		{name: "missing field never equals", pattern: `{ $.nothing != "x" }`, noMatch: []string{cloudTrail}},
		{name: "non-object message", pattern: `{ $.a = 1 }`, noMatch: []string{`[1]`, `{"a":1`, ``}},
	})
}

func TestDelimited(t *testing.T) {
	t.Parallel()
	const apache = `127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 200 1534`
	const apache404 = `127.0.0.1 - frank [10/Oct/2000:13:35:22 -0700] "GET /contact.html HTTP/1.0" 404 310`
	const apache5xx = `10.0.0.7 - - [10/Oct/2000:13:50:35 -0700] "POST /x HTTP/1.0" 503 2310`
	runMatchCases(t, []matchCase{
		{name: "names only, exact count", pattern: `[ip, user, username, timestamp, request, status_code, bytes]`,
			match: []string{apache, apache404}, noMatch: []string{"too few fields", apache + " extra"}},
		{name: "wildcard value", pattern: `[ip, user, username, timestamp, request, status_code = 4*, bytes]`,
			match: []string{apache404}, noMatch: []string{apache}},
		{name: "wildcard in request", pattern: `[ip, user, username, timestamp, request = *.html*, status_code = 4*, bytes]`,
			match: []string{apache404}, noMatch: []string{apache}},
		{name: "issue example", pattern: `[ip, user, ..., status_code = 5*, bytes > 1000]`,
			match: []string{apache5xx}, noMatch: []string{apache, apache404}},
		{name: "ellipsis front", pattern: `[..., status_code, bytes]`, match: []string{apache, "200 1", ""[0:0] + "a b"}, noMatch: []string{"one"}},
		{name: "ellipsis back", pattern: `[ip, user, ...]`, match: []string{apache, "a b"}, noMatch: []string{"a"}},
		{name: "numeric comparison", pattern: `[..., status_code >= 400, bytes]`, match: []string{apache404, apache5xx}, noMatch: []string{apache}},
		{name: "or within field", pattern: `[..., status_code = 404 || status_code = 410, bytes]`,
			match: []string{apache404, "x 410 1"}, noMatch: []string{apache, apache5xx}},
		{name: "and within field", pattern: `[..., status_code >= 400 && status_code < 500, bytes]`,
			match: []string{apache404}, noMatch: []string{apache, apache5xx}},
		{name: "not equal", pattern: `[ip, ..., status_code != 200, bytes]`, match: []string{apache404}, noMatch: []string{apache}},
		{name: "quoted string value", pattern: `[ip, user, username, timestamp, request = "GET /apache_pb.gif HTTP/1.0", status_code, bytes]`,
			match: []string{apache}, noMatch: []string{apache404}},
		{name: "bracketed field value", pattern: `[ip, user, username, timestamp = "10/Oct/2000:13:25:15 -0700", ...]`,
			match: []string{apache}, noMatch: []string{apache404}},
		{name: "regex value", pattern: `[ip = %^127\.%, ...]`, match: []string{apache}, noMatch: []string{apache5xx}},
		{name: "non-numeric never compares", pattern: `[a, b > 3]`, match: []string{"x 4"}, noMatch: []string{"x -", "x four"}},
	})
}

func TestMatchFieldsValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, pattern, message, selector string
		want                             string
		wantOK                           bool
	}{
		{"json number", `{ $.latency > 0 }`, `{"latency": 123.5, "x": {"y": ["a"]}}`, "$.latency", "123.5", true},
		{"json other field", `{ $.latency > 0 }`, `{"latency": 1, "x": {"y": ["a"]}}`, "$.x.y[0]", "a", true},
		{"json object is not scalar", `{ $.latency > 0 }`, `{"latency": 1, "x": {}}`, "$.x", "", false},
		{"json missing", `{ $.latency > 0 }`, `{"latency": 1}`, "$.nope", "", false},
		{"delimited field", `[ip, ..., bytes]`, `1.2.3.4 - - 200 1534`, "$bytes", "1534", true},
		{"delimited unknown", `[ip, ..., bytes]`, `1.2.3.4 200 1534`, "$status", "", false},
		{"terms have no fields", `ERROR`, `ERROR 1`, "$.x", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, ok := MustCompile(tc.pattern).MatchFields(tc.message)
			if !ok {
				t.Fatalf("%q should match %q", tc.pattern, tc.message)
			}
			got, gotOK := f.Value(tc.selector)
			if got != tc.want || gotOK != tc.wantOK {
				t.Errorf("Value(%q) = %q, %v; want %q, %v", tc.selector, got, gotOK, tc.want, tc.wantOK)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, pattern, wantMsg string
	}{
		{"colon needs quotes", "?Status: timeout", "Invalid character(s) in term ':'"},
		{"dot needs quotes", "-foo.bar", "Invalid character(s) in term '.'"},
		{"parenthesis needs quotes", "open(", "Invalid character(s) in term '('"},
		{"backslash needs quotes", `level\":\"error`, `Invalid character(s) in term '\'`},
		{"lone question mark", "? ERROR", "Invalid character(s) in term '?'"},
		{"unterminated quote", `"ERROR`, "unterminated quoted string"},
		{"regex parentheses", `%(a|b)%`, "Invalid regex"},
		{"unterminated regex", `%abc`, "unterminated regex"},
		{"json without brace", `{ $.a = 1`, "must end with '}'"},
		{"json bad selector", `{ a = 1 }`, "Invalid selector 'a'"},
		{"json missing value", `{ $.a = }`, "expected a value"},
		{"json ordered string", `{ $.a > "x" }`, "needs a numeric value"},
		{"json dangling and", `{ $.a = 1 && }`, "expected a selector"},
		{"json unbalanced paren", `{ ($.a = 1 }`, "expected ')'"},
		{"json bad keyword", `{ $.a IS MAYBE }`, "expected NULL, TRUE, FALSE or EXISTS"},
		{"json lone bang", `{ $.a ! 1 }`, "Invalid character(s) in term '!'"},
		{"json bad index", `{ $.a[x] = 1 }`, "array index"},
		{"delimited unterminated", `[a, b`, "must end with ']'"},
		{"delimited other field", `[a, b = 1 || c = 2]`, "field 'c' compared inside field 'b'"},
		{"delimited bad name", `[a-b]`, "Invalid character(s) in term '-'"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Compile(tc.pattern)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Compile(%q) = %v, want a *SyntaxError", tc.pattern, err)
			}
			if !strings.Contains(se.Message, tc.wantMsg) {
				t.Errorf("Compile(%q) message %q, want it to contain %q", tc.pattern, se.Message, tc.wantMsg)
			}
		})
	}
}

func TestSplitFields(t *testing.T) {
	t.Parallel()
	got := splitFields(`a  "b c" [d e] f"g [h`)
	want := []string{"a", "b c", "d e", `f"g`, "[h"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("splitFields = %q, want %q", got, want)
	}
}

func TestGlobMatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, text string
		want          bool
	}{
		{"4*", "404", true}, {"4*", "504", false}, {"*", "", true}, {"*.html*", "/a.html?x", true},
		{"a*b*c", "abc", true}, {"a*b*c", "acb", false}, {"ab*ab", "ab", false}, {"exact", "exact", true},
	}
	for _, tc := range tests {
		if got := globMatch(tc.pattern, tc.text); got != tc.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tc.pattern, tc.text, got, tc.want)
		}
	}
}

func TestExtractedValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, pattern, message string
		want                   map[string]string
	}{
		{"delimited names every field", `[ip, user, ..., status_code = 4*, bytes]`,
			`127.0.0.1 - frank "GET /x" 404 310`, map[string]string{"$ip": "127.0.0.1", "$user": "-", "$status_code": "404", "$bytes": "310"}},
		{"json shows tested selectors", `{ $.level = "ERROR" && ($.latency > 100 || $.missing IS NULL) }`,
			`{"level":"ERROR","latency":150,"other":1}`, map[string]string{"$.level": "ERROR", "$.latency": "150"}},
		{"terms extract nothing", `ERROR`, `ERROR x`, map[string]string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := MustCompile(tc.pattern).ExtractedValues(tc.message)
			if !ok {
				t.Fatal("no match")
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q (all: %v)", k, got[k], v, got)
				}
			}
		})
	}
	if _, ok := MustCompile("ERROR").ExtractedValues("fine"); ok {
		t.Error("a non-matching message must report no match")
	}
}
