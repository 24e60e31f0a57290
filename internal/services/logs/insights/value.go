package insights

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Kind is the type of a Value.
type Kind uint8

const (
	Null   Kind = iota // absent field or no result
	String             // text
	Number             // float64
	Bool               // true or false
	Time               // ms since the epoch, shown as a date
)

// Value is a field's value in a record.
type Value struct {
	Kind Kind
	Str  string  // String; for Number, the text it was read from, if any
	Num  float64 // Number; Time (ms)
	B    bool    // Bool
}

func str(s string) Value                   { return Value{Kind: String, Str: s} }
func num(n float64) Value                  { return Value{Kind: Number, Num: n} }
func boolean(b bool) Value                 { return Value{Kind: Bool, B: b} }
func timeMillis(ms int64) Value            { return Value{Kind: Time, Num: float64(ms)} }
func numText(n float64, text string) Value { return Value{Kind: Number, Num: n, Str: text} }

// timeLayout is how AWS shows @timestamp and other time values.
const timeLayout = "2006-01-02 15:04:05.000"

// String renders the value as AWS shows it in query results.
func (v Value) String() string {
	switch v.Kind {
	case String:
		return v.Str
	case Number:
		if v.Str != "" {
			return v.Str
		}
		return formatNumber(v.Num)
	case Bool:
		return strconv.FormatBool(v.B)
	case Time:
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
func (v Value) number() (float64, bool) {
	switch v.Kind {
	case Number, Time:
		return v.Num, true
	case String:
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
func (v Value) truthy() bool {
	switch v.Kind {
	case Null:
		return false
	case Bool:
		return v.B
	case Number:
		return v.Num != 0
	}
	return true
}

// compareValues orders two values: numerically when both read as numbers,
// otherwise as text. Null sorts after everything. ok is false when one is
// Null (comparisons with a missing field are false).
func compareValues(a, b Value) (int, bool) {
	if a.Kind == Null || b.Kind == Null {
		switch {
		case a.Kind == b.Kind:
			return 0, false
		case a.Kind == Null:
			return 1, false
		}
		return -1, false
	}
	an, aok := a.number()
	bn, bok := b.number()
	if aok && bok && (a.Kind != String || b.Kind != String) {
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
func sortCompare(a, b Value) int {
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
func (v Value) sortNumber() (float64, bool) {
	switch v.Kind {
	case Number, Time:
		return v.Num, true
	case String:
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
