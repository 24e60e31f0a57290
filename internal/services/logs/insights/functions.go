package insights

import (
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// function is a scalar function usable in fields, filter, sort and stats'
// by clause.
type function struct {
	minArgs, maxArgs int // maxArgs -1: any number
	apply            func(r *record, args []value) value
}

var functions map[string]*function

func init() {
	functions = map[string]*function{
		// Strings.
		"strlen":      {1, 1, strFn(func(s string) value { return num(float64(utf8.RuneCountInString(s))) })},
		"tolower":     {1, 1, strFn(func(s string) value { return str(strings.ToLower(s)) })},
		"toupper":     {1, 1, strFn(func(s string) value { return str(strings.ToUpper(s)) })},
		"trim":        {1, 1, strFn(func(s string) value { return str(strings.TrimSpace(s)) })},
		"ltrim":       {1, 1, strFn(func(s string) value { return str(strings.TrimLeft(s, " \t\r\n")) })},
		"rtrim":       {1, 1, strFn(func(s string) value { return str(strings.TrimRight(s, " \t\r\n")) })},
		"concat":      {1, -1, concat},
		"substr":      {2, 3, substr},
		"replace":     {3, 3, replace},
		"strcontains": {2, 2, strcontains},
		"isempty":     {1, 1, func(_ *record, a []value) value { return boolean(a[0].Kind == nullKind || a[0].String() == "") }},
		"isblank":     {1, 1, func(_ *record, a []value) value { return boolean(strings.TrimSpace(a[0].String()) == "") }},
		// General.
		"ispresent": {1, 1, func(_ *record, a []value) value { return boolean(a[0].Kind != nullKind) }},
		"coalesce":  {1, -1, coalesce},
		// Numbers.
		"abs":      {1, 1, numFn(math.Abs)},
		"ceil":     {1, 1, numFn(math.Ceil)},
		"floor":    {1, 1, numFn(math.Floor)},
		"sqrt":     {1, 1, numFn(math.Sqrt)},
		"log":      {1, 1, numFn(math.Log)},
		"greatest": {1, -1, extreme(1)},
		"least":    {1, -1, extreme(-1)},
		// Time.
		"bin":        {1, 1, bin},
		"datefloor":  {2, 2, func(_ *record, a []value) value { return roundTime(a[0], a[1], false) }},
		"dateceil":   {2, 2, func(_ *record, a []value) value { return roundTime(a[0], a[1], true) }},
		"frommillis": {1, 1, fromMillis},
		"tomillis":   {1, 1, toMillis},
	}
}

func strFn(f func(string) value) func(*record, []value) value {
	return func(_ *record, a []value) value {
		if a[0].Kind == nullKind {
			return value{}
		}
		return f(a[0].String())
	}
}

func numFn(f func(float64) float64) func(*record, []value) value {
	return func(_ *record, a []value) value {
		n, ok := a[0].number()
		if !ok {
			return value{}
		}
		r := f(n)
		if math.IsNaN(r) || math.IsInf(r, 0) {
			return value{}
		}
		return num(r)
	}
}

func concat(_ *record, a []value) value {
	var b strings.Builder
	for _, v := range a {
		b.WriteString(v.String())
	}
	return str(b.String())
}

// substr(s, start[, length]) counts characters from 0.
func substr(_ *record, a []value) value {
	if a[0].Kind == nullKind {
		return value{}
	}
	runes := []rune(a[0].String())
	start, ok := a[1].number()
	if !ok {
		return value{}
	}
	from := clamp(int(start), 0, len(runes))
	to := len(runes)
	if len(a) == 3 {
		n, ok := a[2].number()
		if !ok {
			return value{}
		}
		to = clamp(from+int(n), from, len(runes))
	}
	return str(string(runes[from:to]))
}

func clamp(n, lo, hi int) int { return max(lo, min(n, hi)) }

func replace(_ *record, a []value) value {
	if a[0].Kind == nullKind {
		return value{}
	}
	return str(strings.ReplaceAll(a[0].String(), a[1].String(), a[2].String()))
}

func strcontains(_ *record, a []value) value {
	if a[0].Kind == nullKind {
		return boolean(false)
	}
	return boolean(strings.Contains(a[0].String(), a[1].String()))
}

func coalesce(_ *record, a []value) value {
	for _, v := range a {
		if v.Kind != nullKind {
			return v
		}
	}
	return value{}
}

// extreme returns greatest (sign 1) or least (sign -1) of its numeric
// arguments.
func extreme(sign float64) func(*record, []value) value {
	return func(_ *record, a []value) value {
		best, found := 0.0, false
		for _, v := range a {
			if n, ok := v.number(); ok && (!found || (n-best)*sign > 0) {
				best, found = n, true
			}
		}
		if !found {
			return value{}
		}
		return num(best)
	}
}

// bin(period) is the record's @timestamp rounded down to the period.
func bin(r *record, a []value) value {
	return roundTime(r.get("@timestamp"), a[0], false)
}

// roundTime rounds a time down (or up) to a multiple of a period, given
// as a period literal (5m) or a number of ms. Calendar periods (months,
// quarters, years) count whole months from 1970.
func roundTime(t, per value, up bool) value {
	ms, ok := t.number()
	if !ok {
		return value{}
	}
	p, ok := periodOf(per)
	if !ok {
		return value{}
	}
	if p.months > 0 {
		return timeMillis(roundMonths(int64(ms), p.months, up))
	}
	floor := math.Floor(ms/float64(p.ms)) * float64(p.ms)
	if up && floor < ms {
		floor += float64(p.ms)
	}
	return timeMillis(int64(floor))
}

func periodOf(v value) (period, bool) {
	if v.Kind == stringKind {
		return parsePeriod(v.Str)
	}
	n, ok := v.number()
	if !ok || n < 1 || n > 1e15 {
		return period{}, false
	}
	return period{ms: int64(n)}, true
}

func roundMonths(ms int64, months int, up bool) int64 {
	t := time.UnixMilli(ms).UTC()
	index := (t.Year()-1970)*12 + int(t.Month()) - 1
	floorIndex := index - ((index%months)+months)%months
	start := time.Date(1970, time.Month(floorIndex+1), 1, 0, 0, 0, 0, time.UTC) // Date normalizes the month
	if up && start.UnixMilli() < ms {
		start = start.AddDate(0, months, 0)
	}
	return start.UnixMilli()
}

func fromMillis(_ *record, a []value) value {
	n, ok := a[0].number()
	if !ok {
		return value{}
	}
	return timeMillis(int64(n))
}

func toMillis(_ *record, a []value) value {
	n, ok := a[0].number()
	if !ok {
		return value{}
	}
	return num(n)
}
