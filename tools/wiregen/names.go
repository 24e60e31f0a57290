package main

import (
	"go/token"
	"strings"
	"unicode"
)

// exported turns a model name into an exported Go identifier: the first
// letter upper-cased, the rest kept as the model spells it (so acronyms
// stay as they are); characters Go does not allow are dropped and the
// letter after them upper-cased ("widget-part" becomes "WidgetPart").
func exported(name string) string {
	var b strings.Builder
	upper := true
	for _, r := range name {
		if r != '_' && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			upper = true
			continue
		}
		if upper {
			r = unicode.ToUpper(r)
			upper = false
		}
		b.WriteRune(r)
	}
	s := b.String()
	if s == "" || !unicode.IsLetter([]rune(s)[0]) {
		s = "X" + s
	}
	if token.IsKeyword(s) {
		s += "_"
	}
	return s
}

// lowerFirst lower-cases the first letter: "LoadBalancerArns" becomes
// "loadBalancerArns", the spelling AWS uses in validation messages.
func lowerFirst(name string) string {
	if name == "" {
		return name
	}
	return strings.ToLower(name[:1]) + name[1:]
}

// names hands out unique Go identifiers at package level.
type names struct {
	taken map[string]bool
}

// newNames reserves the identifiers the generator itself declares.
func newNames(reserved ...string) *names {
	n := &names{taken: map[string]bool{}}
	for _, r := range reserved {
		n.taken[r] = true
	}
	return n
}

// claim returns want, or want with a suffix when it is already taken.
func (n *names) claim(want, suffix string) string {
	got := want
	for n.taken[got] {
		got += suffix
	}
	n.taken[got] = true
	return got
}
