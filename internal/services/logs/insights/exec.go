package insights

import (
	"encoding/binary"
	"math"
	"sort"
)

// Execution runs a query over events fed to it one at a time; it is not
// safe for concurrent use. Stats, sort and dedup hold what they need in
// memory: stats one accumulator per group, sort followed by limit only the
// best rows.
type Execution struct {
	head    stage
	sink    *sink
	matched *int64
	stats   Statistics
	columns []string // nil: every field of each row
	seq     int
}

// ResultField is one field of a result row.
type ResultField struct {
	Field string
	Value string
}

// Statistics are the query statistics GetQueryResults reports.
type Statistics struct {
	RecordsMatched float64
	RecordsScanned float64
	BytesScanned   float64
}

// Result is a query's rows, in the order AWS returns them, and statistics.
type Result struct {
	Rows       [][]ResultField
	Statistics Statistics
}

// defaultLimit is how many rows a query without limit returns, as AWS.
const defaultLimit = MaxLimit

// NewExecution starts a run of the query.
func (q *Query) NewExecution() *Execution {
	x := &Execution{sink: &sink{}, matched: new(int64)}
	cmds := planCommands(q.commands)
	x.columns = resultColumns(cmds)
	x.head = buildStages(cmds, x.sink, x.matched)
	return x
}

// Add feeds one event to the query.
func (x *Execution) Add(ev Event) {
	x.stats.RecordsScanned++
	x.stats.BytesScanned += float64(len(ev.Message))
	x.seq++
	r := &record{event: ev, seq: x.seq}
	r.ev = &r.event
	x.head.push(r)
}

// Result ends the run and returns the rows. Call it once, after the last
// Add.
func (x *Execution) Result() Result {
	x.head.flush()
	x.stats.RecordsMatched = float64(*x.matched)
	rows := make([][]ResultField, 0, len(x.sink.records))
	for _, r := range x.sink.records {
		rows = append(rows, x.row(r))
	}
	return Result{Rows: rows, Statistics: x.stats}
}

// row renders a record's visible fields (absent ones are left out, as AWS
// does), then @ptr for rows that are events.
func (x *Execution) row(r *record) []ResultField {
	cols := x.columns
	if cols == nil {
		cols = r.allFields()
	}
	out := make([]ResultField, 0, len(cols)+1)
	for _, c := range cols {
		if v := r.get(c); v.Kind != nullKind {
			out = append(out, ResultField{Field: c, Value: v.String()})
		}
	}
	if r.ev != nil && r.ev.Ptr != "" && !contains(cols, "@ptr") {
		out = append(out, ResultField{Field: "@ptr", Value: r.ev.Ptr})
	}
	return out
}

// planCommands adds what AWS does implicitly: without stats or sort,
// events come newest first (a sort @timestamp desc before the first limit
// or dedup); without a limit, at most 10,000 rows.
func planCommands(cmds []command) []command {
	hasStats, hasSort, limitAt := false, false, -1
	for i, c := range cmds {
		switch c.(type) {
		case statsCmd:
			hasStats = true
		case sortCmd:
			hasSort = true
		case limitCmd, dedupCmd:
			if limitAt < 0 {
				limitAt = i
			}
		}
	}
	out := append([]command(nil), cmds...)
	if !hasStats && !hasSort {
		byTime := sortCmd{keys: []sortKey{{e: fieldRef{name: "@timestamp"}, desc: true}}}
		at := len(out)
		if limitAt >= 0 {
			at = limitAt
		}
		out = append(out[:at], append([]command{byTime}, out[at:]...)...)
	}
	limitAt = -1
	for i, c := range out {
		if _, ok := c.(limitCmd); ok && limitAt < 0 {
			limitAt = i
		}
	}
	if limitAt < 0 {
		out = append(out, limitCmd{n: defaultLimit})
	}
	return out
}

// resultColumns works out which fields rows show: those named by fields,
// parse and stats, or exactly those of the last display; nil (every field)
// when the query names none.
func resultColumns(cmds []command) []string {
	var cols []string
	add := func(names ...string) {
		for _, n := range names {
			if !contains(cols, n) {
				cols = append(cols, n)
			}
		}
	}
	for _, c := range cmds {
		switch c := c.(type) {
		case fieldsCmd:
			if cols == nil {
				cols = []string{}
			}
			for _, it := range c.items {
				add(it.name)
			}
		case parseCmd:
			if cols != nil {
				add(c.names...)
			}
		case statsCmd:
			cols = []string{}
			for _, b := range c.by {
				add(b.name)
			}
			for _, a := range c.aggs {
				add(a.name)
			}
		case displayCmd:
			cols = append([]string{}, c.names...)
		}
	}
	return cols
}

// stage is one step of the pipeline: push hands it a record, flush tells
// it the input has ended (barriers emit then).
type stage interface {
	push(r *record)
	flush()
}

// buildStages chains the commands' stages, with a counter of matched
// records in front of the first stats, sort, limit or dedup.
func buildStages(cmds []command, end *sink, matched *int64) stage {
	countAt := len(cmds)
	for i, c := range cmds {
		switch c.(type) {
		case statsCmd, sortCmd, limitCmd, dedupCmd:
			countAt = min(countAt, i)
		}
	}
	var next stage = end
	for i := len(cmds) - 1; i >= 0; i-- {
		if i+1 == countAt {
			next = &counter{n: matched, next: next}
		}
		next = newStage(cmds, i, next)
	}
	if countAt == 0 {
		next = &counter{n: matched, next: next}
	}
	return next
}

func newStage(cmds []command, i int, next stage) stage {
	switch c := cmds[i].(type) {
	case fieldsCmd:
		return &fieldsStage{items: c.items, next: next}
	case filterCmd:
		return &filterStage{cond: c.cond, next: next}
	case parseCmd:
		return &parseStage{cmd: c, next: next}
	case statsCmd:
		return &statsStage{cmd: c, groups: map[string]*statsGroup{}, next: next}
	case sortCmd:
		keep := 0
		if i+1 < len(cmds) {
			if l, ok := cmds[i+1].(limitCmd); ok {
				keep = l.n
			}
		}
		return &sortStage{keys: c.keys, keep: keep, next: next}
	case limitCmd:
		return &limitStage{n: c.n, next: next}
	case dedupCmd:
		return &dedupStage{names: c.names, seen: map[string]bool{}, next: next}
	}
	return &passStage{next: next} // display: only chooses columns
}

type passStage struct{ next stage }

func (s *passStage) push(r *record) { s.next.push(r) }
func (s *passStage) flush()         { s.next.flush() }

type counter struct {
	n    *int64
	next stage
}

func (s *counter) push(r *record) { *s.n++; s.next.push(r) }
func (s *counter) flush()         { s.next.flush() }

type sink struct{ records []*record }

func (s *sink) push(r *record) { s.records = append(s.records, r) }
func (s *sink) flush()         {}

type fieldsStage struct {
	items []namedExpr
	next  stage
}

func (s *fieldsStage) push(r *record) {
	for _, it := range s.items {
		if ref, ok := it.e.(fieldRef); ok && ref.name == it.name {
			continue // a plain field only needs to be shown
		}
		r.setField(it.name, it.e.eval(r))
	}
	s.next.push(r)
}
func (s *fieldsStage) flush() { s.next.flush() }

type filterStage struct {
	cond expr
	next stage
}

func (s *filterStage) push(r *record) {
	if s.cond.eval(r).truthy() {
		s.next.push(r)
	}
}
func (s *filterStage) flush() { s.next.flush() }

// parseStage extracts fields; a record that does not match keeps going
// without them.
type parseStage struct {
	cmd  parseCmd
	next stage
}

func (s *parseStage) push(r *record) {
	if v := s.cmd.src.eval(r); v.Kind != nullKind {
		if m := s.cmd.re.FindStringSubmatch(v.String()); m != nil {
			for i, name := range s.cmd.names {
				if name != "" {
					r.setField(name, str(m[i+1]))
				}
			}
		}
	}
	s.next.push(r)
}
func (s *parseStage) flush() { s.next.flush() }

type limitStage struct {
	n, seen int
	next    stage
}

func (s *limitStage) push(r *record) {
	if s.seen < s.n {
		s.seen++
		s.next.push(r)
	}
}
func (s *limitStage) flush() { s.next.flush() }

type dedupStage struct {
	names []string
	seen  map[string]bool
	next  stage
}

// push passes the first record of each combination of the fields; records
// missing one of them are never duplicates.
func (s *dedupStage) push(r *record) {
	var key []byte
	for _, n := range s.names {
		v := r.get(n)
		if v.Kind == nullKind {
			s.next.push(r)
			return
		}
		key = appendKey(key, v)
	}
	if !s.seen[string(key)] {
		s.seen[string(key)] = true
		s.next.push(r)
	}
}
func (s *dedupStage) flush() { s.next.flush() }

// sortStage orders records by its keys; with keep > 0 (a limit follows)
// it holds only about the best keep records.
type sortStage struct {
	keys []sortKey
	keep int
	rows []sortedRecord
	next stage
}

type sortedRecord struct {
	r    *record
	vals []value
}

func (s *sortStage) push(r *record) {
	vals := make([]value, len(s.keys))
	for i, k := range s.keys {
		vals[i] = k.e.eval(r)
	}
	s.rows = append(s.rows, sortedRecord{r: r, vals: vals})
	if s.keep > 0 && len(s.rows) > 2*s.keep+1024 {
		s.sort()
		s.rows = s.rows[:s.keep]
	}
}

func (s *sortStage) sort() {
	sort.SliceStable(s.rows, func(i, j int) bool { return s.less(s.rows[i], s.rows[j]) })
}

func (s *sortStage) less(a, b sortedRecord) bool {
	for i, k := range s.keys {
		av, bv := a.vals[i], b.vals[i]
		if av.Kind == nullKind || bv.Kind == nullKind { // a null sorts last either way
			if av.Kind == bv.Kind {
				continue
			}
			return bv.Kind == nullKind
		}
		if c := sortCompare(av, bv); c != 0 {
			return (c < 0) != k.desc
		}
	}
	return a.r.seq < b.r.seq
}

func (s *sortStage) flush() {
	s.sort()
	for _, row := range s.rows {
		s.next.push(row.r)
	}
	s.rows = nil
	s.next.flush()
}

// statsStage groups records by its by-expressions and aggregates.
type statsStage struct {
	cmd    statsCmd
	groups map[string]*statsGroup
	order  []*statsGroup
	key    []byte
	by     []value // scratch for one record's group values
	next   stage
}

type statsGroup struct {
	by   []value
	aggs []aggregator
}

func (s *statsStage) push(r *record) {
	s.key, s.by = s.key[:0], s.by[:0]
	for _, b := range s.cmd.by {
		v := b.e.eval(r)
		s.by = append(s.by, v)
		s.key = appendKey(s.key, v)
	}
	g, ok := s.groups[string(s.key)]
	if !ok {
		g = &statsGroup{by: append([]value(nil), s.by...)}
		for _, a := range s.cmd.aggs {
			g.aggs = append(g.aggs, a.newAggregator())
		}
		s.groups[string(s.key)] = g
		s.order = append(s.order, g)
	}
	for _, a := range g.aggs {
		a.add(r)
	}
}

// flush emits one row per group, ordered by the group values.
func (s *statsStage) flush() {
	sort.SliceStable(s.order, func(i, j int) bool {
		for k := range s.order[i].by {
			if c, _ := compareValues(s.order[i].by[k], s.order[j].by[k]); c != 0 {
				return c < 0
			}
		}
		return false
	})
	for i, g := range s.order {
		out := &record{seq: i}
		for k, b := range s.cmd.by {
			out.setField(b.name, g.by[k])
		}
		for k, a := range s.cmd.aggs {
			out.setField(a.name, g.aggs[k].result())
		}
		s.next.push(out)
	}
	s.next.flush()
}

// appendKey appends a value's identity to a grouping key.
func appendKey(key []byte, v value) []byte {
	key = append(key, byte(v.Kind))
	switch v.Kind {
	case numberKind, timeKind:
		key = binary.LittleEndian.AppendUint64(key, math.Float64bits(v.Num))
	case boolKind:
		if v.B {
			key = append(key, 1)
		} else {
			key = append(key, 0)
		}
	case stringKind:
		key = binary.AppendUvarint(key, uint64(len(v.Str)))
		key = append(key, v.Str...)
	}
	return key
}
