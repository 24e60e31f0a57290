// Package filterpattern implements the CloudWatch Logs filter pattern
// language used by FilterLogEvents, metric filters and subscription filters.
//
// A pattern takes one of three forms, chosen by its first character:
//
//	ERROR ?WARN -"health check"        unstructured terms (terms.go)
//	{ $.level = "ERROR" && $.ms > 100 } JSON conditions (json.go)
//	[ip, user, ..., status = 5*, bytes] space-delimited fields (delimited.go)
//
// Matching is case-sensitive, as in AWS. Compile once, then call Match
// (safe for concurrent use) for each event.
package filterpattern

import (
	"fmt"
	"strings"
)

// Pattern is a compiled filter pattern.
type Pattern struct {
	source string
	m      matcher
}

// matcher is one of the three pattern forms.
type matcher interface {
	match(message string) (Fields, bool)
}

// SyntaxError reports a pattern AWS would reject with an
// InvalidParameterException. Message is the text AWS would return.
type SyntaxError struct {
	Pattern string
	// Pos is the byte offset in Pattern where the problem was found.
	Pos     int
	Message string
}

func (e *SyntaxError) Error() string { return e.Message }

// errorf builds a SyntaxError at pos.
func errorf(src string, pos int, format string, args ...any) *SyntaxError {
	return &SyntaxError{Pattern: src, Pos: pos, Message: fmt.Sprintf(format, args...)}
}

// Compile parses a filter pattern. The empty pattern (and one made only of
// blanks or an empty quoted string) matches every event.
func Compile(pattern string) (*Pattern, error) {
	trimmed := strings.TrimSpace(pattern)
	var (
		m   matcher
		err error
	)
	switch {
	case trimmed == "" || trimmed == `""`:
		m = matchAll{}
	case trimmed[0] == '{':
		m, err = compileJSON(pattern)
	case trimmed[0] == '[':
		m, err = compileDelimited(pattern)
	default:
		m, err = compileTerms(pattern)
	}
	if err != nil {
		return nil, err
	}
	return &Pattern{source: pattern, m: m}, nil
}

// MustCompile is Compile for patterns known to be valid; it panics otherwise.
func MustCompile(pattern string) *Pattern {
	p, err := Compile(pattern)
	if err != nil {
		panic(err)
	}
	return p
}

// String returns the pattern's source text.
func (p *Pattern) String() string { return p.source }

// Match reports whether message matches the pattern.
func (p *Pattern) Match(message string) bool {
	_, ok := p.m.match(message)
	return ok
}

// MatchFields reports whether message matches and, if it does, the values
// the pattern can extract from it (for a metric filter's value and
// dimensions: "$.latency" for JSON patterns, "$bytes" for space-delimited).
func (p *Pattern) MatchFields(message string) (Fields, bool) {
	return p.m.match(message)
}

// ExtractedValues reports whether message matches and, if so, the values
// TestMetricFilter shows for it: every named field of a space-delimited
// pattern ("$status_code"), or each selector a JSON pattern tests
// ("$.latency") that resolves to a scalar.
func (p *Pattern) ExtractedValues(message string) (map[string]string, bool) {
	f, ok := p.m.match(message)
	if !ok {
		return nil, false
	}
	out := map[string]string{}
	for name, v := range f.named {
		out["$"+name] = v
	}
	if jp, isJSON := p.m.(*jsonPattern); isJSON {
		for _, sel := range jp.root.selectors(nil) {
			if v, ok := f.Value(sel); ok {
				out[sel] = v
			}
		}
	}
	return out, true
}

// Fields holds what a matching event offers to metric filters.
type Fields struct {
	doc   any               // the parsed JSON document, for JSON patterns
	named map[string]string // field name → text, for space-delimited patterns
}

// Value returns the text of a selector: "$.a.b[0]" for a JSON pattern or
// "$name" for a space-delimited one. Numbers come back as written in the
// event; ok is false when the selector does not resolve to a scalar.
func (f Fields) Value(selector string) (string, bool) {
	if strings.HasPrefix(selector, "$.") || strings.HasPrefix(selector, "$[") {
		if f.doc == nil {
			return "", false
		}
		path, err := parseSelector(selector, 0, selector)
		if err != nil {
			return "", false
		}
		vals := path.lookup(f.doc)
		if len(vals) != 1 {
			return "", false
		}
		return scalarText(vals[0])
	}
	if name, ok := strings.CutPrefix(selector, "$"); ok && f.named != nil {
		v, ok := f.named[name]
		return v, ok
	}
	return "", false
}

// matchAll is the empty pattern.
type matchAll struct{}

func (matchAll) match(string) (Fields, bool) { return Fields{}, true }
