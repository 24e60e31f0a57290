package main

import (
	"fmt"
	"slices"
	"strings"
)

// Plain string fields cannot tell "" from absent: both are the zero value,
// and the codecs leave it out. That is right for almost every member, where
// AWS never sends "". A few members carry "" as a value the caller set and
// AWS sends back (an ELBv2 attribute's Value, a tag's Value). Those are
// named with -empty-strings and generated as *string: nil is absent, a
// pointer to "" travels as "" (<Value></Value>, "Value":"").

// parseEmptyStrings reads -empty-strings: comma-separated Shape.member
// names, as the model spells them.
func parseEmptyStrings(list string) map[string]bool {
	set := map[string]bool{}
	for _, name := range strings.Split(list, ",") {
		if name = strings.TrimSpace(name); name != "" {
			set[name] = true
		}
	}
	return set
}

// checkEmptyStrings rejects names that are not string members of a
// structure of m, so a typo fails the generation instead of doing nothing.
func checkEmptyStrings(m *Model, names map[string]bool) error {
	for _, name := range sortedKeys(names) {
		shape, member, _ := strings.Cut(name, ".")
		s := m.Shapes[shape]
		if s == nil || s.Type != "structure" {
			return fmt.Errorf("-empty-strings %s: no structure shape %q", name, shape)
		}
		i := s.Members.index(member)
		if i < 0 {
			return fmt.Errorf("-empty-strings %s: %s has no member %q", name, shape, member)
		}
		if t := m.Shapes[s.Members[i].Shape].Type; t != "string" {
			return fmt.Errorf("-empty-strings %s: member is a %s, not a string", name, t)
		}
	}
	return nil
}

// index returns the position of the member called name, or -1.
func (ms Members) index(name string) int {
	return slices.IndexFunc(ms, func(m Member) bool { return m.Name == name })
}

// emptyString reports whether a member of the structure owner is a *string
// that keeps "" apart from absent.
func (g *generator) emptyString(owner string, mem Member) bool {
	return g.opts.EmptyStrings[owner+"."+mem.Name]
}
