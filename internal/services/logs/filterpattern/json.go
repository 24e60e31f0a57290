package filterpattern

import (
	"encoding/json"
	"strconv"
	"strings"
)

// jsonPattern is `{ <conditions> }`, tested against events whose message is
// a JSON object.
type jsonPattern struct {
	root *node
}

func (p *jsonPattern) match(message string) (Fields, bool) {
	doc, ok := parseJSONObject(message)
	if !ok {
		return Fields{}, false
	}
	matched := p.root.eval(func(l *leaf) []any { return l.path.lookup(doc) })
	if !matched {
		return Fields{}, false
	}
	return Fields{doc: doc}, true
}

// parseJSONObject decodes message as a JSON object, keeping numbers as
// written (json.Number).
func parseJSONObject(message string) (map[string]any, bool) {
	s := strings.TrimSpace(message)
	if len(s) < 2 || s[0] != '{' {
		return nil, false
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, false
	}
	return doc, true
}

func compileJSON(src string) (matcher, error) {
	open := strings.IndexByte(src, '{')
	end := strings.LastIndexByte(src, '}')
	if end < open || strings.TrimSpace(src[end+1:]) != "" {
		return nil, errorf(src, len(src), "Invalid filter pattern: a JSON pattern must end with '}'")
	}
	toks, err := lex(src, open+1, end)
	if err != nil {
		return nil, err
	}
	p := &parser{src: src, toks: toks, newLeaf: func(sel token) (*leaf, error) {
		path, err := parseSelector(sel.text, sel.pos, src)
		if err != nil {
			return nil, err
		}
		return &leaf{selector: sel.text, path: path}, nil
	}}
	root, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, p.unexpected(t, "'&&', '||' or '}'")
	}
	return &jsonPattern{root: root}, nil
}

// jsonPath is a selector such as $.a.b[0].c: a list of object keys and
// array indexes; index -1 stands for [*], any element.
type jsonPath []pathStep

type pathStep struct {
	key   string
	index int
	isKey bool
}

// parseSelector parses sel, found at pos in the pattern src.
func parseSelector(sel string, pos int, src string) (jsonPath, error) {
	bad := func(why string) error {
		return errorf(src, pos, "Invalid selector '%s': %s", sel, why)
	}
	if !strings.HasPrefix(sel, "$") || len(sel) < 2 {
		return nil, bad("a JSON selector starts with $. or $[")
	}
	var path jsonPath
	i := 1
	for i < len(sel) {
		switch sel[i] {
		case '.':
			j := i + 1
			for j < len(sel) && sel[j] != '.' && sel[j] != '[' {
				j++
			}
			if j == i+1 {
				return nil, bad("empty property name")
			}
			path = append(path, pathStep{key: sel[i+1 : j], isKey: true})
			i = j
		case '[':
			j := strings.IndexByte(sel[i:], ']')
			if j < 0 {
				return nil, bad("missing ']'")
			}
			inner := sel[i+1 : i+j]
			idx := -1
			if inner != "*" {
				n, err := strconv.Atoi(inner)
				if err != nil || n < 0 {
					return nil, bad("array index must be a number or *")
				}
				idx = n
			}
			path = append(path, pathStep{index: idx})
			i += j + 1
		default:
			return nil, bad("expected '.' or '['")
		}
	}
	return path, nil
}

// lookup returns every value the path designates in doc (several only
// through [*]).
func (p jsonPath) lookup(doc any) []any {
	cur := []any{doc}
	for _, step := range p {
		var next []any
		for _, v := range cur {
			next = step.apply(v, next)
		}
		if len(next) == 0 {
			return nil
		}
		cur = next
	}
	return cur
}

func (s pathStep) apply(v any, out []any) []any {
	if s.isKey {
		obj, ok := v.(map[string]any)
		if !ok {
			return out
		}
		if child, ok := obj[s.key]; ok {
			out = append(out, child)
		}
		return out
	}
	arr, ok := v.([]any)
	if !ok {
		return out
	}
	if s.index < 0 {
		return append(out, arr...)
	}
	if s.index < len(arr) {
		out = append(out, arr[s.index])
	}
	return out
}
