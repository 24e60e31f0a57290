package filterpattern

import (
	"strings"
)

// delimitedPattern is `[f1, f2 = value, ..., fn > 10]`: the event is split
// into space-separated fields ("quoted" and [bracketed] runs count as one
// field) and each pattern field names, and optionally tests, one of them.
// "..." stands for any number of fields. Without "...", the counts must be
// equal.
type delimitedPattern struct {
	fields []patternField
}

// patternField is a named field with an optional condition, or an ellipsis.
type patternField struct {
	ellipsis bool
	name     string
	cond     *node // nil: any value
}

func (p *delimitedPattern) match(message string) (Fields, bool) {
	values := splitFields(message)
	named := make(map[string]string, len(p.fields))
	failed := map[[2]int]bool{}
	if !p.align(0, 0, values, named, failed) {
		return Fields{}, false
	}
	return Fields{named: named}, true
}

// align matches pattern fields from pi against values from vi, recording
// named values; failed memoizes positions already proven not to match.
func (p *delimitedPattern) align(pi, vi int, values []string, named map[string]string, failed map[[2]int]bool) bool {
	if pi == len(p.fields) {
		return vi == len(values)
	}
	key := [2]int{pi, vi}
	if failed[key] {
		return false
	}
	f := p.fields[pi]
	ok := false
	if f.ellipsis {
		for skip := 0; vi+skip <= len(values) && !ok; skip++ {
			ok = p.align(pi+1, vi+skip, values, named, failed)
		}
	} else if vi < len(values) && f.accepts(values[vi]) {
		named[f.name] = values[vi]
		ok = p.align(pi+1, vi+1, values, named, failed)
	}
	if !ok {
		failed[key] = true
	}
	return ok
}

func (f patternField) accepts(value string) bool {
	if f.cond == nil {
		return true
	}
	return f.cond.eval(func(*leaf) []any { return []any{value} })
}

// splitFields splits a message on blanks, keeping "quoted" and [bracketed]
// runs whole (without their delimiters).
func splitFields(message string) []string {
	var out []string
	i := 0
	for i < len(message) {
		if isSpace(message[i]) {
			i++
			continue
		}
		closer := byte(0)
		switch message[i] {
		case '"':
			closer = '"'
		case '[':
			closer = ']'
		}
		if closer != 0 {
			if end := strings.IndexByte(message[i+1:], closer); end >= 0 {
				out = append(out, message[i+1:i+1+end])
				i += end + 2
				continue
			}
		}
		start := i
		for i < len(message) && !isSpace(message[i]) {
			i++
		}
		out = append(out, message[start:i])
	}
	return out
}

func compileDelimited(src string) (matcher, error) {
	open := strings.IndexByte(src, '[')
	end := strings.LastIndexByte(src, ']')
	if end < open || strings.TrimSpace(src[end+1:]) != "" {
		return nil, errorf(src, len(src), "Invalid filter pattern: a space-delimited pattern must end with ']'")
	}
	var fields []patternField
	for _, span := range splitTopLevel(src, open+1, end) {
		f, err := compileField(src, span[0], span[1])
		if err != nil {
			return nil, err
		}
		fields = append(fields, f)
	}
	return &delimitedPattern{fields: fields}, nil
}

// splitTopLevel returns the [from, to) spans of src between commas that are
// not inside quotes or %regex%.
func splitTopLevel(src string, from, to int) [][2]int {
	var spans [][2]int
	start := from
	var inside byte
	for i := from; i < to; i++ {
		c := src[i]
		switch {
		case inside != 0:
			if c == '\\' && inside == '"' {
				i++
			} else if c == inside {
				inside = 0
			}
		case c == '"' || c == '%':
			inside = c
		case c == ',':
			spans = append(spans, [2]int{start, i})
			start = i + 1
		}
	}
	return append(spans, [2]int{start, to})
}

func compileField(src string, from, to int) (patternField, error) {
	text := strings.TrimSpace(src[from:to])
	if text == "..." {
		return patternField{ellipsis: true}, nil
	}
	toks, err := lex(src, from, to)
	if err != nil {
		return patternField{}, err
	}
	first := toks[0]
	if first.kind != tokWord || !isFieldName(first.text) {
		bad := invalidRun(first.text)
		if bad == "" {
			bad = text
		}
		return patternField{}, errorf(src, first.pos, "Invalid character(s) in term '%s'", bad)
	}
	if len(toks) == 2 { // the name and EOF
		return patternField{name: first.text}, nil
	}
	p := &parser{src: src, toks: toks, newLeaf: func(sel token) (*leaf, error) {
		if sel.text != first.text {
			return nil, errorf(src, sel.pos, "Invalid filter pattern: field '%s' compared inside field '%s'", sel.text, first.text)
		}
		return &leaf{selector: sel.text}, nil
	}}
	cond, err := p.parseOr()
	if err != nil {
		return patternField{}, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return patternField{}, p.unexpected(t, "',' or ']'")
	}
	return patternField{name: first.text, cond: cond}, nil
}

func isFieldName(s string) bool {
	for _, r := range s {
		if !isWordRune(r) {
			return false
		}
	}
	return s != ""
}
