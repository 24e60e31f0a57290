package insights

import (
	"regexp"
	"strconv"
	"strings"
)

// expr is an expression evaluated against one record.
type expr interface {
	eval(r *record) value
}

type literal struct{ v value }
type fieldRef struct{ name string }
type unary struct {
	op string // "not" or "-"
	x  expr
}
type binaryExpr struct {
	op   string // and or = != < <= > >= + - * / %
	l, r expr
}
type likeExpr struct {
	x      expr
	re     *regexp.Regexp // regex form
	sub    string         // string form: substring match
	negate bool
}
type inExpr struct {
	x      expr
	list   []expr
	negate bool
}
type call struct {
	fn   *function
	args []expr
}

func (l literal) eval(*record) value    { return l.v }
func (f fieldRef) eval(r *record) value { return r.get(f.name) }

func (u unary) eval(r *record) value {
	v := u.x.eval(r)
	if u.op == "not" {
		return boolean(!v.truthy())
	}
	if n, ok := v.number(); ok {
		return num(-n)
	}
	return value{}
}

func (b binaryExpr) eval(r *record) value {
	switch b.op {
	case "and":
		return boolean(b.l.eval(r).truthy() && b.r.eval(r).truthy())
	case "or":
		return boolean(b.l.eval(r).truthy() || b.r.eval(r).truthy())
	}
	l, rv := b.l.eval(r), b.r.eval(r)
	switch b.op {
	case "+", "-", "*", "/", "%":
		return arithmetic(b.op, l, rv)
	}
	c, ok := compareValues(l, rv)
	if !ok {
		return boolean(false)
	}
	switch b.op {
	case "=", "==":
		return boolean(c == 0)
	case "!=":
		return boolean(c != 0)
	case "<":
		return boolean(c < 0)
	case "<=":
		return boolean(c <= 0)
	case ">":
		return boolean(c > 0)
	}
	return boolean(c >= 0) // ">="
}

func arithmetic(op string, l, r value) value {
	a, aok := l.number()
	b, bok := r.number()
	if !aok || !bok {
		return value{}
	}
	switch op {
	case "+":
		return num(a + b)
	case "-":
		return num(a - b)
	case "*":
		return num(a * b)
	case "/":
		if b == 0 {
			return value{}
		}
		return num(a / b)
	}
	if b == 0 {
		return value{}
	}
	return num(float64(int64(a) % int64(b)))
}

func (l likeExpr) eval(r *record) value {
	v := l.x.eval(r)
	if v.Kind == nullKind {
		return boolean(false)
	}
	s := v.String()
	var m bool
	if l.re != nil {
		m = l.re.MatchString(s)
	} else {
		m = strings.Contains(s, l.sub)
	}
	return boolean(m != l.negate)
}

func (in inExpr) eval(r *record) value {
	v := in.x.eval(r)
	if v.Kind == nullKind {
		return boolean(false)
	}
	for _, e := range in.list {
		if c, ok := compareValues(v, e.eval(r)); ok && c == 0 {
			return boolean(!in.negate)
		}
	}
	return boolean(in.negate)
}

// binExpr is bin(period) with its period read at parse time, since it
// runs once per event in most stats queries.
type binExpr struct{ p period }

func (b binExpr) eval(r *record) value {
	ts, ok := r.timestamp()
	if !ok {
		return value{}
	}
	if b.p.months > 0 {
		return timeMillis(roundMonths(ts, b.p.months, false))
	}
	return timeMillis(ts - ((ts%b.p.ms)+b.p.ms)%b.p.ms)
}

func (c call) eval(r *record) value {
	args := make([]value, len(c.args))
	for i, a := range c.args {
		args[i] = a.eval(r)
	}
	return c.fn.apply(r, args)
}

// Expression grammar, loosest first:
//
//	or      := and { "or" and }
//	and     := not { "and" not }
//	not     := "not" not | compare
//	compare := sum [ op sum | ["not"] "like" (string|regex) | "=~" regex | ["not"] "in" "[" list "]" ]
//	sum     := product { ("+"|"-") product }
//	product := unary { ("*"|"/"|"%") unary }
//	unary   := "-" unary | primary
//	primary := number | duration | string | field | function "(" args ")" | "(" or ")"
func (p *parser) expr() (expr, error) {
	return p.binaryLevel(0)
}

var levels = [][]string{{"or"}, {"and"}}

// binaryLevel parses the and/or levels, which share a shape.
func (p *parser) binaryLevel(level int) (expr, error) {
	if level == len(levels) {
		return p.notExpr()
	}
	l, err := p.binaryLevel(level + 1)
	for err == nil && p.acceptKeyword(levels[level][0]) {
		var r expr
		if r, err = p.binaryLevel(level + 1); err == nil {
			l = binaryExpr{op: levels[level][0], l: l, r: r}
		}
	}
	return l, err
}

func (p *parser) notExpr() (expr, error) {
	if p.acceptKeyword("not") {
		x, err := p.notExpr()
		return unary{op: "not", x: x}, err
	}
	return p.compare()
}

func (p *parser) compare() (expr, error) {
	l, err := p.arith(0)
	if err != nil {
		return nil, err
	}
	t := p.peek()
	if t.kind == tSymbol {
		switch t.text {
		case "=", "==", "!=", "<", "<=", ">", ">=":
			p.next()
			r, err := p.arith(0)
			return binaryExpr{op: t.text, l: l, r: r}, err
		case "=~":
			p.next()
			return p.likeRHS(l, false, true)
		}
	}
	negate := false
	if p.isKeyword(t, "not") && (p.isKeyword(p.toks[p.i+1], "like") || p.isKeyword(p.toks[p.i+1], "in")) {
		p.next()
		negate = true
	}
	switch {
	case p.acceptKeyword("like"):
		return p.likeRHS(l, negate, false)
	case p.acceptKeyword("in"):
		list, err := p.list()
		return inExpr{x: l, list: list, negate: negate}, err
	}
	return l, nil
}

// likeRHS parses what follows like or =~: a /regex/ or (for like) a string.
func (p *parser) likeRHS(x expr, negate, regexOnly bool) (expr, error) {
	t := p.next()
	switch {
	case t.kind == tRegex:
		re, err := regexp.Compile(t.text)
		if err != nil {
			return nil, newError(p.src, t.pos, t.end, "invalid regular expression %s", t.text)
		}
		return likeExpr{x: x, re: re, negate: negate}, nil
	case t.kind == tString && !regexOnly:
		return likeExpr{x: x, sub: t.text, negate: negate}, nil
	}
	return nil, p.unexpected(t)
}

func (p *parser) list() ([]expr, error) {
	if err := p.expect("["); err != nil {
		return nil, err
	}
	var list []expr
	if p.accept("]") {
		return list, nil
	}
	for {
		e, err := p.arith(0)
		if err != nil {
			return nil, err
		}
		list = append(list, e)
		if p.accept("]") {
			return list, nil
		}
		if err := p.expect(","); err != nil {
			return nil, err
		}
	}
}

var arithLevels = [][]string{{"+", "-"}, {"*", "/", "%"}}

func (p *parser) arith(level int) (expr, error) {
	if level == len(arithLevels) {
		return p.unaryExpr()
	}
	l, err := p.arith(level + 1)
	for err == nil {
		t := p.peek()
		if t.kind != tSymbol || !contains(arithLevels[level], t.text) {
			break
		}
		p.next()
		var r expr
		if r, err = p.arith(level + 1); err == nil {
			l = binaryExpr{op: t.text, l: l, r: r}
		}
	}
	return l, err
}

func (p *parser) unaryExpr() (expr, error) {
	if p.accept("-") {
		x, err := p.unaryExpr()
		return unary{op: "-", x: x}, err
	}
	return p.primary()
}

func (p *parser) primary() (expr, error) {
	t := p.next()
	switch t.kind {
	case tNumber:
		n, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return nil, newError(p.src, t.pos, t.end, "invalid number %s", t.text)
		}
		return literal{num(n)}, nil
	case tDuration:
		if _, ok := parsePeriod(t.text); !ok {
			return nil, newError(p.src, t.pos, t.end, "invalid time period %s", t.text)
		}
		return literal{str(t.text)}, nil
	case tString:
		return literal{str(t.text)}, nil
	case tIdent:
		if isReserved(t.text) {
			return nil, p.unexpected(t)
		}
		if p.isSymbol(p.peek(), "(") {
			return p.functionCall(t)
		}
		return fieldRef{name: t.text}, nil
	case tSymbol:
		if t.text == "(" {
			e, err := p.expr()
			if err != nil {
				return nil, err
			}
			return e, p.expect(")")
		}
	}
	return nil, p.unexpected(t)
}

func (p *parser) functionCall(name token) (expr, error) {
	fn, ok := functions[strings.ToLower(name.text)]
	if !ok {
		if _, isAgg := aggregations[strings.ToLower(name.text)]; isAgg {
			return nil, newError(p.src, name.pos, name.end, "aggregation %s is only allowed in stats", name.text)
		}
		return nil, newError(p.src, name.pos, name.end, "unknown function %s", name.text)
	}
	p.next() // (
	var args []expr
	if !p.accept(")") {
		for {
			a, err := p.expr()
			if err != nil {
				return nil, err
			}
			args = append(args, a)
			if p.accept(")") {
				break
			}
			if err := p.expect(","); err != nil {
				return nil, err
			}
		}
	}
	if len(args) < fn.minArgs || fn.maxArgs >= 0 && len(args) > fn.maxArgs {
		return nil, newError(p.src, name.pos, p.toks[p.i-1].end, "wrong number of arguments for %s", name.text)
	}
	if lit, ok := args[0].(literal); ok && strings.EqualFold(name.text, "bin") && lit.v.Kind == stringKind {
		if per, ok := parsePeriod(lit.v.Str); ok {
			return binExpr{p: per}, nil
		}
	}
	return call{fn: fn, args: args}, nil
}

// isReserved reports keywords that cannot start an operand.
func isReserved(s string) bool {
	switch strings.ToLower(s) {
	case "and", "or", "like", "in", "as", "by", "asc", "desc":
		return true
	}
	return false
}

// period is a bin() or datefloor() time unit: a fixed length in ms, or a
// number of calendar months (month, quarter, year).
type period struct {
	ms     int64
	months int
}

// periodUnits are the units AWS documents; multi-letter ones also take a
// plural s.
var periodUnits = map[string]period{
	"ms": {ms: 1}, "msec": {ms: 1}, "millisecond": {ms: 1},
	"s": {ms: 1e3}, "sec": {ms: 1e3}, "second": {ms: 1e3},
	"m": {ms: 60e3}, "min": {ms: 60e3}, "minute": {ms: 60e3},
	"h": {ms: 3600e3}, "hr": {ms: 3600e3}, "hour": {ms: 3600e3},
	"d": {ms: 86400e3}, "day": {ms: 86400e3},
	"w": {ms: 7 * 86400e3}, "week": {ms: 7 * 86400e3},
	"mo": {months: 1}, "mon": {months: 1}, "month": {months: 1},
	"q": {months: 3}, "qtr": {months: 3}, "quarter": {months: 3},
	"y": {months: 12}, "yr": {months: 12}, "year": {months: 12},
}

// parsePeriod reads a period such as 30s, 5m, 1h, 2hrs, 1d, 1w, 1mo, 1y.
func parsePeriod(s string) (period, bool) {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	n, err := strconv.Atoi(s[:i])
	if err != nil || n <= 0 || n > 1e6 {
		return period{}, false
	}
	unit := strings.ToLower(s[i:])
	p, ok := periodUnits[unit]
	if !ok && len(unit) > 2 && strings.HasSuffix(unit, "s") {
		p, ok = periodUnits[strings.TrimSuffix(unit, "s")]
	}
	if !ok {
		return period{}, false
	}
	return period{ms: p.ms * int64(n), months: p.months * n}, true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
