package insights

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// kind is the type of a value.
type kind uint8

const (
	nullKind   kind = iota // absent field or no result
	stringKind             // text
	numberKind             // float64
	boolKind               // true or false
	timeKind               // ms since the epoch, shown as a date
)

// value is a field's value in a record.
type value struct {
	Kind kind
	Str  string  // stringKind; for numberKind, the text it was read from, if any
	Num  float64 // numberKind; timeKind (ms)
	B    bool    // boolKind
}

func str(s string) value                   { return value{Kind: stringKind, Str: s} }
func num(n float64) value                  { return value{Kind: numberKind, Num: n} }
func boolean(b bool) value                 { return value{Kind: boolKind, B: b} }
func timeMillis(ms int64) value            { return value{Kind: timeKind, Num: float64(ms)} }
func numText(n float64, text string) value { return value{Kind: numberKind, Num: n, Str: text} }

// timeLayout is how AWS shows @timestamp and other time values.
const timeLayout = "2006-01-02 15:04:05.000"

// String renders the value as AWS shows it in query results.
func (v value) String() string {
	switch v.Kind {
	case stringKind:
		return v.Str
	case numberKind:
		if v.Str != "" {
			return v.Str
		}
		return formatNumber(v.Num)
	case boolKind:
		return strconv.FormatBool(v.B)
	case timeKind:
		return time.UnixMilli(int64(v.Num)).UTC().Format(timeLayout)
	}
	return ""
}

func formatNumber(n float64) string {
	if n == math.Trunc(n) && math.Abs(n) < 1e15 {
		return strconv.FormatInt(int64(n), 10)
	}
	return strconv.FormatFloat(n, 'f', -1, 64)
}

// number reads the value as a number: numbers and times directly, strings
// when they hold a number.
func (v value) number() (float64, bool) {
	switch v.Kind {
	case numberKind, timeKind:
		return v.Num, true
	case stringKind:
		s := strings.TrimSpace(v.Str)
		if s == "" || !strings.ContainsAny(s[:1], "0123456789+-.") {
			return 0, false
		}
		n, err := strconv.ParseFloat(s, 64)
		return n, err == nil
	}
	return 0, false
}

// truthy is how a value reads as a filter condition.
func (v value) truthy() bool {
	switch v.Kind {
	case nullKind:
		return false
	case boolKind:
		return v.B
	case numberKind:
		return v.Num != 0
	}
	return true
}

// compareValues orders two values: numerically when both read as numbers,
// otherwise as text. Null sorts after everything. ok is false when one is
// null (comparisons with a missing field are false).
func compareValues(a, b value) (int, bool) {
	if a.Kind == nullKind || b.Kind == nullKind {
		switch {
		case a.Kind == b.Kind:
			return 0, false
		case a.Kind == nullKind:
			return 1, false
		}
		return -1, false
	}
	an, aok := a.number()
	bn, bok := b.number()
	if aok && bok && (a.Kind != stringKind || b.Kind != stringKind) {
		switch {
		case an < bn:
			return -1, true
		case an > bn:
			return 1, true
		}
		return 0, true
	}
	return strings.Compare(a.String(), b.String()), true
}

// sortCompare is the order of the sort command, AWS's natural sort: text
// before numbers; numbers by value; text in chunks, where runs of digits
// compare by length and then value, and other runs by code point.
func sortCompare(a, b value) int {
	an, aNum := a.sortNumber()
	bn, bNum := b.sortNumber()
	switch {
	case aNum && bNum:
		return cmpFloat(an, bn)
	case aNum:
		return 1
	case bNum:
		return -1
	}
	return naturalCompare(a.String(), b.String())
}

// sortNumber reads values made only of a number as numbers.
func (v value) sortNumber() (float64, bool) {
	switch v.Kind {
	case numberKind, timeKind:
		return v.Num, true
	case stringKind:
		n, err := strconv.ParseFloat(v.Str, 64)
		return n, err == nil && v.Str != "" && strings.Trim(v.Str, "0123456789.-+eE") == ""
	}
	return 0, false
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func naturalCompare(a, b string) int {
	for a != "" && b != "" {
		ca, cb := leadingChunk(a), leadingChunk(b)
		var c int
		if isDigit(ca[0]) && isDigit(cb[0]) {
			c = cmpFloat(float64(len(ca)), float64(len(cb)))
			if c == 0 {
				c = strings.Compare(ca, cb)
			}
		} else {
			c = strings.Compare(ca, cb)
		}
		if c != 0 {
			return c
		}
		a, b = a[len(ca):], b[len(cb):]
	}
	return cmpFloat(float64(len(a)), float64(len(b)))
}

// leadingChunk returns the run of digits or of non-digits s starts with.
func leadingChunk(s string) string {
	digits := isDigit(s[0])
	i := 1
	for i < len(s) && isDigit(s[i]) == digits {
		i++
	}
	return s[:i]
}
