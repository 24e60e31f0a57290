package insights

import (
	"regexp"
	"strconv"
	"strings"
)

// Query is a parsed Logs Insights query: commands joined by "|".
type Query struct {
	source   string
	commands []command
}

// command is one of the *Cmd types below.
type command interface{ isCommand() }

// namedExpr is an expression and the field name its result takes: the
// alias after "as", else the expression's text.
type namedExpr struct {
	name string
	e    expr
}

type fieldsCmd struct{ items []namedExpr }
type displayCmd struct{ names []string }
type filterCmd struct{ cond expr }
type parseCmd struct {
	src   expr
	re    *regexp.Regexp
	names []string // field names, in capture group order
}
type statsCmd struct {
	aggs []aggSpec
	by   []namedExpr
}
type sortCmd struct{ keys []sortKey }
type limitCmd struct{ n int }
type dedupCmd struct{ names []string }

type sortKey struct {
	e    expr
	desc bool
}

func (fieldsCmd) isCommand()  {}
func (displayCmd) isCommand() {}
func (filterCmd) isCommand()  {}
func (parseCmd) isCommand()   {}
func (statsCmd) isCommand()   {}
func (sortCmd) isCommand()    {}
func (limitCmd) isCommand()   {}
func (dedupCmd) isCommand()   {}

// MaxLimit is the largest limit AWS accepts.
const MaxLimit = 10000

// Parse parses a query. Errors are *Error.
func Parse(query string) (*Query, error) {
	toks, err := lexQuery(query)
	if err != nil {
		return nil, err
	}
	p := &parser{src: query, toks: toks}
	q := &Query{source: query}
	for {
		start := p.peek()
		cmd, err := p.command()
		if err != nil {
			return nil, err
		}
		if n := len(q.commands); n > 0 && !allowedAfter(q.commands[n-1], cmd) {
			return nil, newError(p.src, start.pos, start.end, "only limit may follow dedup")
		}
		q.commands = append(q.commands, cmd)
		t := p.next()
		if t.kind == tEOF {
			break
		}
		if !p.isSymbol(t, "|") {
			return nil, p.unexpected(t)
		}
	}
	return q, nil
}

// allowedAfter reports whether cmd may follow prev: after dedup AWS
// accepts only limit.
func allowedAfter(prev, cmd command) bool {
	if _, isDedup := prev.(dedupCmd); !isDedup {
		return true
	}
	_, isLimit := cmd.(limitCmd)
	return isLimit
}

// String returns the query's text.
func (q *Query) String() string { return q.source }

type parser struct {
	src  string
	toks []token
	i    int
}

func (p *parser) peek() token { return p.toks[p.i] }

// next consumes a token; at the end it keeps returning tEOF.
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) isSymbol(t token, s string) bool { return t.kind == tSymbol && t.text == s }

func (p *parser) isKeyword(t token, kw string) bool {
	return t.kind == tIdent && strings.EqualFold(t.text, kw)
}

// accept consumes the next token if it is the symbol s.
func (p *parser) accept(s string) bool {
	if p.isSymbol(p.peek(), s) {
		p.next()
		return true
	}
	return false
}

func (p *parser) acceptKeyword(kw string) bool {
	if p.isKeyword(p.peek(), kw) {
		p.next()
		return true
	}
	return false
}

func (p *parser) expect(s string) error {
	if t := p.next(); !p.isSymbol(t, s) {
		return p.unexpected(t)
	}
	return nil
}

func (p *parser) unexpected(t token) error {
	if t.kind == tEOF {
		return newError(p.src, t.pos, t.pos, "unexpected end of query")
	}
	return newError(p.src, t.pos, t.end, "unexpected symbol found %s", p.src[t.pos:t.end])
}

func (p *parser) command() (command, error) {
	t := p.next()
	if t.kind != tIdent {
		return nil, p.unexpected(t)
	}
	switch strings.ToLower(t.text) {
	case "fields":
		items, err := p.namedExprs()
		return fieldsCmd{items: items}, err
	case "display":
		names, err := p.fieldNames()
		return displayCmd{names: names}, err
	case "filter":
		cond, err := p.expr()
		return filterCmd{cond: cond}, err
	case "parse":
		return p.parseCommand()
	case "stats":
		return p.statsCommand()
	case "sort":
		return p.sortCommand()
	case "limit":
		return p.limitCommand()
	case "dedup":
		names, err := p.fieldNames()
		return dedupCmd{names: names}, err
	}
	return nil, newError(p.src, t.pos, t.end, "unexpected symbol found %s, expected a command", t.text)
}

// namedExprs parses "expr [as name], ...".
func (p *parser) namedExprs() ([]namedExpr, error) {
	var items []namedExpr
	for {
		item, err := p.namedExpr()
		if err != nil {
			return nil, err
		}
		items = append(items, item)
		if !p.accept(",") {
			return items, nil
		}
	}
}

func (p *parser) namedExpr() (namedExpr, error) {
	start := p.peek().pos
	e, err := p.expr()
	if err != nil {
		return namedExpr{}, err
	}
	name := strings.TrimSpace(p.src[start:p.toks[p.i-1].end])
	if f, ok := e.(fieldRef); ok {
		name = f.name
	}
	if p.acceptKeyword("as") {
		alias := p.next()
		if alias.kind != tIdent {
			return namedExpr{}, p.unexpected(alias)
		}
		name = alias.text
	}
	return namedExpr{name: name, e: e}, nil
}

func (p *parser) fieldNames() ([]string, error) {
	var names []string
	for {
		t := p.next()
		if t.kind != tIdent {
			return nil, p.unexpected(t)
		}
		names = append(names, t.text)
		if !p.accept(",") {
			return names, nil
		}
	}
}

// parseCommand: parse <field> "glob * pattern" as a, b | parse <field> /(?<name>re)/
func (p *parser) parseCommand() (command, error) {
	src := expr(fieldRef{name: "@message"})
	if t := p.peek(); t.kind == tIdent {
		p.next()
		src = fieldRef{name: t.text}
	}
	pat := p.next()
	switch pat.kind {
	case tRegex:
		re, err := regexp.Compile(pat.text)
		if err != nil {
			return nil, newError(p.src, pat.pos, pat.end, "invalid regular expression %s", pat.text)
		}
		var names []string
		for _, n := range re.SubexpNames()[1:] {
			names = append(names, n)
		}
		return parseCmd{src: src, re: re, names: names}, nil
	case tString:
		if !p.acceptKeyword("as") {
			return nil, p.unexpected(p.peek())
		}
		names, err := p.fieldNames()
		if err != nil {
			return nil, err
		}
		re, err := globRegexp(pat.text)
		if err != nil {
			return nil, newError(p.src, pat.pos, pat.end, "invalid parse pattern %s", pat.text)
		}
		if re.NumSubexp() != len(names) {
			return nil, newError(p.src, pat.pos, pat.end, "the pattern has %d wildcards but %d fields are named", re.NumSubexp(), len(names))
		}
		return parseCmd{src: src, re: re, names: names}, nil
	}
	return nil, p.unexpected(pat)
}

// globRegexp turns a parse glob into a regexp: each * captures the
// shortest run that lets the rest match, a trailing * the rest of the text.
func globRegexp(glob string) (*regexp.Regexp, error) {
	parts := strings.Split(glob, "*")
	var b strings.Builder
	for i, part := range parts {
		if i > 0 {
			if i == len(parts)-1 && part == "" {
				b.WriteString("(.*)")
			} else {
				b.WriteString("(.*?)")
			}
		}
		b.WriteString(regexp.QuoteMeta(part))
	}
	return regexp.Compile("(?s)" + b.String())
}

// statsCommand: stats agg(x) [as n], ... [by expr [as n], ...]
func (p *parser) statsCommand() (command, error) {
	var cmd statsCmd
	for {
		agg, err := p.aggregation()
		if err != nil {
			return nil, err
		}
		cmd.aggs = append(cmd.aggs, agg)
		if !p.accept(",") {
			break
		}
	}
	if p.acceptKeyword("by") {
		by, err := p.namedExprs()
		if err != nil {
			return nil, err
		}
		cmd.by = by
	}
	return cmd, nil
}

func (p *parser) sortCommand() (command, error) {
	var cmd sortCmd
	for {
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		key := sortKey{e: e}
		if p.acceptKeyword("desc") {
			key.desc = true
		} else {
			p.acceptKeyword("asc")
		}
		cmd.keys = append(cmd.keys, key)
		if !p.accept(",") {
			return cmd, nil
		}
	}
}

func (p *parser) limitCommand() (command, error) {
	t := p.next()
	n, err := strconv.Atoi(t.text)
	if t.kind != tNumber || err != nil || n < 1 || n > MaxLimit {
		return nil, newError(p.src, t.pos, t.end, "limit must be a whole number from 1 to %d", MaxLimit)
	}
	return limitCmd{n: n}, nil
}
