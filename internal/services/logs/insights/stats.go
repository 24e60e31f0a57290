package insights

import (
	"math"
	"sort"
	"strings"
)

// aggSpec is one aggregation of a stats command.
type aggSpec struct {
	name string // result field: the alias, else the text as written
	kind string // count, count_distinct, sum, avg, min, max, pct, earliest, latest, stddev
	arg  expr   // nil for count(*)
	pct  float64
}

// aggregations maps each aggregation to its number of arguments.
var aggregations = map[string]int{
	"count": 1, "count_distinct": 1, "sum": 1, "avg": 1, "min": 1, "max": 1,
	"pct": 2, "earliest": 1, "latest": 1, "stddev": 1,
}

// aggregation parses agg(args) [as name].
func (p *parser) aggregation() (aggSpec, error) {
	t := p.next()
	kind := strings.ToLower(t.text)
	nargs, ok := aggregations[kind]
	if t.kind != tIdent || !ok {
		return aggSpec{}, newError(p.src, t.pos, t.end, "unexpected symbol found %s, expected an aggregation function", p.src[t.pos:t.end])
	}
	if err := p.expect("("); err != nil {
		return aggSpec{}, err
	}
	spec := aggSpec{kind: kind}
	if kind == "count" && (p.accept("*") || p.isSymbol(p.peek(), ")")) { // count(*) or count()
		nargs = 0
	} else {
		arg, err := p.expr()
		if err != nil {
			return aggSpec{}, err
		}
		spec.arg = arg
	}
	if nargs == 2 {
		if err := p.expect(","); err != nil {
			return aggSpec{}, err
		}
		n := p.next()
		pct, ok := parseNumber(n)
		if !ok || pct < 0 || pct > 100 {
			return aggSpec{}, newError(p.src, n.pos, n.end, "pct needs a percentile from 0 to 100")
		}
		spec.pct = pct
	}
	if err := p.expect(")"); err != nil {
		return aggSpec{}, err
	}
	spec.name = strings.TrimSpace(p.src[t.pos:p.toks[p.i-1].end])
	if p.acceptKeyword("as") {
		alias := p.next()
		if alias.kind != tIdent {
			return aggSpec{}, p.unexpected(alias)
		}
		spec.name = alias.text
	}
	return spec, nil
}

func parseNumber(t token) (float64, bool) {
	if t.kind != tNumber {
		return 0, false
	}
	n, ok := str(t.text).number()
	return n, ok
}

// aggregator accumulates one aggregation for one group.
type aggregator interface {
	add(r *record)
	result() value
}

func (s aggSpec) newAggregator() aggregator {
	switch s.kind {
	case "count":
		return &countAgg{arg: s.arg}
	case "count_distinct":
		return &distinctAgg{arg: s.arg, seen: map[string]struct{}{}}
	case "min", "max":
		return &extremeAgg{arg: s.arg, max: s.kind == "max"}
	case "earliest", "latest":
		return &timedAgg{arg: s.arg, latest: s.kind == "latest"}
	case "pct":
		return &pctAgg{arg: s.arg, p: s.pct}
	}
	return &moments{arg: s.arg, kind: s.kind}
}

type countAgg struct {
	arg expr
	n   int64
}

func (a *countAgg) add(r *record) {
	if a.arg == nil || a.arg.eval(r).Kind != nullKind {
		a.n++
	}
}
func (a *countAgg) result() value { return num(float64(a.n)) }

type distinctAgg struct {
	arg  expr
	seen map[string]struct{}
}

func (a *distinctAgg) add(r *record) {
	if v := a.arg.eval(r); v.Kind != nullKind {
		a.seen[v.String()] = struct{}{}
	}
}
func (a *distinctAgg) result() value { return num(float64(len(a.seen))) }

// moments computes sum, avg and stddev (sample) of numeric values.
type moments struct {
	arg       expr
	kind      string
	n         float64
	sum, sumq float64
}

func (a *moments) add(r *record) {
	if x, ok := a.arg.eval(r).number(); ok {
		a.n++
		a.sum += x
		a.sumq += x * x
	}
}

func (a *moments) result() value {
	if a.n == 0 {
		return value{}
	}
	switch a.kind {
	case "sum":
		return num(a.sum)
	case "avg":
		return num(a.sum / a.n)
	}
	if a.n < 2 {
		return num(0)
	}
	mean := a.sum / a.n
	return num(math.Sqrt(math.Max(0, (a.sumq-a.n*mean*mean)/(a.n-1))))
}

type extremeAgg struct {
	arg  expr
	max  bool
	best value
}

func (a *extremeAgg) add(r *record) {
	v := a.arg.eval(r)
	if v.Kind == nullKind {
		return
	}
	if a.best.Kind == nullKind {
		a.best = v
		return
	}
	if c, _ := compareValues(v, a.best); (c > 0) == a.max && c != 0 {
		a.best = v
	}
}
func (a *extremeAgg) result() value { return a.best }

// timedAgg is earliest/latest: the value at the smallest/largest @timestamp.
type timedAgg struct {
	arg    expr
	latest bool
	ts     float64
	val    value
}

func (a *timedAgg) add(r *record) {
	v := a.arg.eval(r)
	ts, ok := r.get("@timestamp").number()
	if v.Kind == nullKind || !ok {
		return
	}
	if a.val.Kind == nullKind || (a.latest && ts >= a.ts) || (!a.latest && ts < a.ts) {
		a.ts, a.val = ts, v
	}
}
func (a *timedAgg) result() value { return a.val }

// pctAgg keeps the values and picks the nearest-rank percentile.
type pctAgg struct {
	arg  expr
	p    float64
	vals []float64
}

func (a *pctAgg) add(r *record) {
	if x, ok := a.arg.eval(r).number(); ok {
		a.vals = append(a.vals, x)
	}
}

func (a *pctAgg) result() value {
	if len(a.vals) == 0 {
		return value{}
	}
	sort.Float64s(a.vals)
	rank := int(math.Ceil(a.p / 100 * float64(len(a.vals))))
	return num(a.vals[clamp(rank-1, 0, len(a.vals)-1)])
}
