package filterpattern

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
)

// This file holds what JSON and space-delimited patterns share: the lexer,
// the && / || / parentheses grammar, and the value tests.

type tokenKind int

const (
	tokEOF tokenKind = iota
	tokLParen
	tokRParen
	tokAnd
	tokOr
	tokOp     // = != < <= > >=
	tokString // "quoted"
	tokRegex  // %regex%
	tokWord   // selectors, bare values, keywords
)

type token struct {
	kind tokenKind
	text string // unquoted text for strings, operator for ops
	re   *regexp.Regexp
	pos  int
}

// lex splits src[from:to] into tokens; positions are offsets in src.
func lex(src string, from, to int) ([]token, error) {
	var toks []token
	i := from
	for i < to {
		c := src[i]
		switch {
		case isSpace(c):
			i++
		case c == '(' || c == ')':
			kind := tokLParen
			if c == ')' {
				kind = tokRParen
			}
			toks = append(toks, token{kind: kind, text: string(c), pos: i})
			i++
		case strings.HasPrefix(src[i:to], "&&"):
			toks = append(toks, token{kind: tokAnd, text: "&&", pos: i})
			i += 2
		case strings.HasPrefix(src[i:to], "||"):
			toks = append(toks, token{kind: tokOr, text: "||", pos: i})
			i += 2
		case c == '=' || c == '!' || c == '<' || c == '>':
			op := string(c)
			if i+1 < to && src[i+1] == '=' {
				op += "="
			}
			if op == "!" {
				return nil, errorf(src, i, "Invalid character(s) in term '!'")
			}
			toks = append(toks, token{kind: tokOp, text: op, pos: i})
			i += len(op)
		case c == '"':
			text, next, err := readQuoted(src[:to], i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tokString, text: text, pos: i})
			i = next
		case c == '%':
			re, next, err := readRegex(src[:to], i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tokRegex, re: re, text: re.String(), pos: i})
			i = next
		default:
			start := i
			for i < to && !isSpace(src[i]) && !strings.ContainsRune("()=!<>&|\"%", rune(src[i])) {
				i++
			}
			if i == start {
				return nil, errorf(src, i, "Invalid character(s) in term '%c'", c)
			}
			toks = append(toks, token{kind: tokWord, text: src[start:i], pos: start})
		}
	}
	return append(toks, token{kind: tokEOF, pos: to}), nil
}

// node is a boolean expression: an && / || of two nodes, or a leaf test on
// one selector.
type node struct {
	op   tokenKind // tokAnd, tokOr, or tokEOF for a leaf
	l, r *node
	leaf *leaf
}

// leaf tests the value(s) a selector resolves to.
type leaf struct {
	selector string
	path     jsonPath // JSON patterns only
	test     test
}

// resolver returns the values a leaf's selector designates in one event;
// an empty result means the selector does not exist there.
type resolver func(l *leaf) []any

func (n *node) eval(resolve resolver) bool {
	switch n.op {
	case tokAnd:
		return n.l.eval(resolve) && n.r.eval(resolve)
	case tokOr:
		return n.l.eval(resolve) || n.r.eval(resolve)
	}
	vals := resolve(n.leaf)
	if n.leaf.test.op == "notexists" {
		return len(vals) == 0
	}
	for _, v := range vals {
		if n.leaf.test.on(v) {
			return true
		}
	}
	return false
}

// selectors appends the selectors the expression tests, in order.
func (n *node) selectors(out []string) []string {
	if n.leaf != nil {
		if !contains(out, n.leaf.selector) {
			out = append(out, n.leaf.selector)
		}
		return out
	}
	return n.r.selectors(n.l.selectors(out))
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// parser is a recursive-descent parser over tokens:
//
//	or   := and { "||" and }
//	and  := unit { "&&" unit }
//	unit := "(" or ")" | selector comparison
type parser struct {
	src     string
	toks    []token
	i       int
	newLeaf func(sel token) (*leaf, error)
}

func (p *parser) peek() token { return p.toks[p.i] }

// next consumes a token; at the end it keeps returning tokEOF.
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

func (p *parser) parseOr() (*node, error) {
	l, err := p.parseAnd()
	for err == nil && p.peek().kind == tokOr {
		p.next()
		var r *node
		if r, err = p.parseAnd(); err == nil {
			l = &node{op: tokOr, l: l, r: r}
		}
	}
	return l, err
}

func (p *parser) parseAnd() (*node, error) {
	l, err := p.parseUnit()
	for err == nil && p.peek().kind == tokAnd {
		p.next()
		var r *node
		if r, err = p.parseUnit(); err == nil {
			l = &node{op: tokAnd, l: l, r: r}
		}
	}
	return l, err
}

func (p *parser) parseUnit() (*node, error) {
	t := p.next()
	switch t.kind {
	case tokLParen:
		n, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if closing := p.next(); closing.kind != tokRParen {
			return nil, p.unexpected(closing, "')'")
		}
		return n, nil
	case tokWord:
		lf, err := p.newLeaf(t)
		if err != nil {
			return nil, err
		}
		if lf.test, err = p.parseTest(); err != nil {
			return nil, err
		}
		return &node{leaf: lf}, nil
	}
	return nil, p.unexpected(t, "a selector")
}

// parseTest reads what follows a selector: an operator and a value, or
// IS NULL / IS TRUE / IS FALSE / NOT EXISTS.
func (p *parser) parseTest() (test, error) {
	t := p.next()
	if t.kind == tokWord {
		kw := strings.ToUpper(t.text)
		arg := p.next()
		argKW := strings.ToUpper(arg.text)
		switch {
		case kw == "IS" && arg.kind == tokWord && (argKW == "NULL" || argKW == "TRUE" || argKW == "FALSE"):
			return test{op: strings.ToLower(argKW)}, nil
		case kw == "NOT" && arg.kind == tokWord && argKW == "EXISTS":
			return test{op: "notexists"}, nil
		}
		return test{}, p.unexpected(arg, "NULL, TRUE, FALSE or EXISTS")
	}
	if t.kind != tokOp {
		return test{}, p.unexpected(t, "a comparison operator")
	}
	return p.parseValue(t.text)
}

func (p *parser) parseValue(op string) (test, error) {
	v := p.next()
	tst := test{op: op}
	switch v.kind {
	case tokRegex:
		tst.re = v.re
	case tokString:
		tst.str, tst.glob = v.text, strings.Contains(v.text, "*")
	case tokWord:
		if n, ok := parseNumber(v.text); ok {
			tst.num, tst.isNum = n, true
		} else {
			tst.str, tst.glob = v.text, strings.Contains(v.text, "*")
		}
	default:
		return test{}, p.unexpected(v, "a value")
	}
	ordered := op != "=" && op != "!="
	if ordered && !tst.isNum {
		return test{}, errorf(p.src, v.pos, "Invalid filter pattern: operator %s needs a numeric value, got '%s'", op, v.text)
	}
	return tst, nil
}

func (p *parser) unexpected(t token, want string) error {
	if t.kind == tokEOF {
		return errorf(p.src, t.pos, "Invalid filter pattern: expected %s at end of pattern", want)
	}
	return errorf(p.src, t.pos, "Invalid character(s) in term '%s': expected %s", t.text, want)
}

// test is one comparison of a value found in the event.
type test struct {
	op    string // = != < <= > >= null true false notexists
	str   string
	glob  bool
	num   float64
	isNum bool
	re    *regexp.Regexp
}

func (t test) on(v any) bool {
	switch t.op {
	case "null":
		return v == nil
	case "true", "false":
		b, ok := v.(bool)
		return ok && b == (t.op == "true")
	}
	if t.re != nil {
		text, ok := scalarText(v)
		return ok && t.re.MatchString(text) == (t.op == "=")
	}
	if t.isNum {
		n, ok := numberOf(v)
		return ok && compare(n, t.op, t.num)
	}
	text, ok := scalarText(v)
	if !ok {
		return false
	}
	eq := text == t.str
	if t.glob {
		eq = globMatch(t.str, text)
	}
	return eq == (t.op == "=")
}

func compare(a float64, op string, b float64) bool {
	switch op {
	case "=":
		return a == b
	case "!=":
		return a != b
	case "<":
		return a < b
	case "<=":
		return a <= b
	case ">":
		return a > b
	case ">=":
		return a >= b
	}
	return false
}

// parseNumber accepts decimal numbers, including 1e+3, but not words such
// as "Inf" or "NaN" that strconv would take.
func parseNumber(s string) (float64, bool) {
	if s == "" || !strings.ContainsAny(s[:1], "0123456789+-.") {
		return 0, false
	}
	n, err := strconv.ParseFloat(s, 64)
	return n, err == nil
}

// numberOf reads a JSON number or a numeric string as a float.
func numberOf(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		n, err := x.Float64()
		return n, err == nil
	case string:
		return parseNumber(x)
	}
	return 0, false
}

// scalarText renders a string, number or boolean as text.
func scalarText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

// globMatch matches text against a pattern where * stands for any run of
// characters (including none).
func globMatch(pattern, text string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == text
	}
	if !strings.HasPrefix(text, parts[0]) {
		return false
	}
	text = text[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, part := range parts[1 : len(parts)-1] {
		idx := strings.Index(text, part)
		if idx < 0 {
			return false
		}
		text = text[idx+len(part):]
	}
	return len(text) >= len(last) && strings.HasSuffix(text, last)
}
