package insights

import (
	"fmt"
	"strings"
	"unicode"
)

type tokKind uint8

const (
	tEOF tokKind = iota
	tIdent
	tNumber
	tDuration // 5m, 1h, 30s
	tString
	tRegex
	tSymbol // | , ( ) [ ] = == != < <= > >= =~ + - * / %
)

type token struct {
	kind tokKind
	text string // identifier, symbol, unquoted string, regex body, number text
	pos  int    // byte offset in the query
	end  int
}

// Error is a query AWS would reject with MalformedQueryException. Start
// and End are byte offsets of the offending text; Line and Column (1-based)
// locate Start.
type Error struct {
	Message      string
	Start, End   int
	Line, Column int
}

func (e *Error) Error() string { return e.Message }

func newError(query string, start, end int, format string, args ...any) *Error {
	line, col := 1, 1
	for _, r := range query[:min(start, len(query))] {
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	msg := fmt.Sprintf(format, args...)
	return &Error{Message: fmt.Sprintf("%s at line %d and position %d", msg, line, col), Start: start, End: end, Line: line, Column: col}
}

// lexer turns a query into tokens. Whether "/" starts a regex or divides
// depends on the token before it.
type lexer struct {
	src         string
	i           int
	prev, prev2 token
}

func lexQuery(src string) ([]token, error) {
	lx := &lexer{src: src}
	var toks []token
	for {
		t, err := lx.next()
		if err != nil {
			return nil, err
		}
		toks = append(toks, t)
		if t.kind == tEOF {
			return toks, nil
		}
		lx.prev2, lx.prev = lx.prev, t
	}
}

func (lx *lexer) next() (token, error) {
	lx.skipBlanksAndComments()
	start := lx.i
	if start >= len(lx.src) {
		return token{kind: tEOF, pos: start, end: start}, nil
	}
	c := lx.src[start]
	switch {
	case c == '"' || c == '\'':
		return lx.quoted(c)
	case c == '`':
		return lx.backticked()
	case c == '/' && lx.regexAllowed():
		return lx.regex()
	case c >= '0' && c <= '9' || c == '.' && start+1 < len(lx.src) && isDigit(lx.src[start+1]):
		return lx.number(), nil
	case isIdentStart(rune(c)):
		return lx.ident(), nil
	}
	for _, sym := range []string{"==", "!=", "<=", ">=", "=~", "|", ",", "(", ")", "[", "]", "=", "<", ">", "+", "-", "*", "/", "%"} {
		if strings.HasPrefix(lx.src[start:], sym) {
			lx.i += len(sym)
			return token{kind: tSymbol, text: sym, pos: start, end: lx.i}, nil
		}
	}
	return token{}, newError(lx.src, start, start+1, "unexpected symbol found %c", c)
}

// skipBlanksAndComments skips white space and # comments (to the end of
// the line).
func (lx *lexer) skipBlanksAndComments() {
	for lx.i < len(lx.src) {
		switch c := lx.src[lx.i]; {
		case unicode.IsSpace(rune(c)):
			lx.i++
		case c == '#':
			for lx.i < len(lx.src) && lx.src[lx.i] != '\n' {
				lx.i++
			}
		default:
			return
		}
	}
}

// regexAllowed reports whether a "/" here opens a regex: after an operator,
// a comma, "(", a keyword or "parse [field]", not after a value.
func (lx *lexer) regexAllowed() bool {
	isParse := func(t token) bool { return t.kind == tIdent && strings.EqualFold(t.text, "parse") }
	if isParse(lx.prev) || isParse(lx.prev2) && lx.prev.kind == tIdent {
		return true
	}
	switch lx.prev.kind {
	case tNumber, tDuration, tString, tRegex:
		return false
	case tSymbol:
		return lx.prev.text != ")" && lx.prev.text != "]"
	case tIdent:
		kw := strings.ToLower(lx.prev.text)
		return kw == "like" || kw == "in" || kw == "and" || kw == "or" || kw == "not"
	}
	return true
}

func (lx *lexer) quoted(q byte) (token, error) {
	start := lx.i
	var b strings.Builder
	for j := start + 1; j < len(lx.src); j++ {
		c := lx.src[j]
		if c == '\\' && j+1 < len(lx.src) {
			j++
			switch e := lx.src[j]; e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			default:
				if e != q && e != '\\' {
					b.WriteByte('\\')
				}
				b.WriteByte(e)
			}
			continue
		}
		if c == q {
			lx.i = j + 1
			return token{kind: tString, text: b.String(), pos: start, end: lx.i}, nil
		}
		b.WriteByte(c)
	}
	return token{}, newError(lx.src, start, len(lx.src), "unterminated string")
}

func (lx *lexer) backticked() (token, error) {
	start := lx.i
	end := strings.IndexByte(lx.src[start+1:], '`')
	if end < 0 {
		return token{}, newError(lx.src, start, len(lx.src), "unterminated backtick")
	}
	lx.i = start + end + 2
	return token{kind: tIdent, text: lx.src[start+1 : start+1+end], pos: start, end: lx.i}, nil
}

func (lx *lexer) regex() (token, error) {
	start := lx.i
	for j := start + 1; j < len(lx.src); j++ {
		switch lx.src[j] {
		case '\\':
			j++
		case '/':
			lx.i = j + 1
			body := strings.ReplaceAll(lx.src[start+1:j], `\/`, "/")
			return token{kind: tRegex, text: body, pos: start, end: lx.i}, nil
		}
	}
	return token{}, newError(lx.src, start, len(lx.src), "unterminated regular expression")
}

func (lx *lexer) number() token {
	start := lx.i
	for lx.i < len(lx.src) && (isDigit(lx.src[lx.i]) || lx.src[lx.i] == '.') {
		lx.i++
	}
	if lx.i < len(lx.src) && (lx.src[lx.i] == 'e' || lx.src[lx.i] == 'E') && lx.i+1 < len(lx.src) &&
		(isDigit(lx.src[lx.i+1]) || (lx.src[lx.i+1] == '-' || lx.src[lx.i+1] == '+') && lx.i+2 < len(lx.src) && isDigit(lx.src[lx.i+2])) {
		lx.i += 2
		for lx.i < len(lx.src) && isDigit(lx.src[lx.i]) {
			lx.i++
		}
	}
	unitStart := lx.i
	for lx.i < len(lx.src) && unicode.IsLetter(rune(lx.src[lx.i])) {
		lx.i++
	}
	if lx.i > unitStart {
		return token{kind: tDuration, text: lx.src[start:lx.i], pos: start, end: lx.i}
	}
	return token{kind: tNumber, text: lx.src[start:lx.i], pos: start, end: lx.i}
}

func (lx *lexer) ident() token {
	start := lx.i
	for lx.i < len(lx.src) && isIdentPart(rune(lx.src[lx.i])) {
		lx.i++
	}
	// Dotted names (a.b.c) and @-fields with a backticked part (@`x:y`).
	for lx.i+1 < len(lx.src) && lx.src[lx.i] == '.' && isIdentPart(rune(lx.src[lx.i+1])) {
		lx.i++
		for lx.i < len(lx.src) && isIdentPart(rune(lx.src[lx.i])) {
			lx.i++
		}
	}
	return token{kind: tIdent, text: lx.src[start:lx.i], pos: start, end: lx.i}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isIdentStart(r rune) bool { return r == '@' || r == '_' || r == '$' || unicode.IsLetter(r) }

func isIdentPart(r rune) bool { return isIdentStart(r) || unicode.IsDigit(r) }
