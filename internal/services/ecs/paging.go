package ecs

import (
	"sort"

	"github.com/kumo-project/kumo/internal/protocol"
)

// maxResults checks an optional maxResults against ECS's 1..limit range.
func maxResults(v *int32, limit int) (int, error) {
	if v == nil {
		return limit, nil
	}
	if *v < 1 || int(*v) > limit {
		return 0, invalidParameter("maxResults must be between 1 and %d.", limit)
	}
	return int(*v), nil
}

// pageOfNames sorts names (ARNs or family names) and returns the page a
// List call asks for; an empty page is [] on the wire, as ECS sends it.
func pageOfNames(names []string, token string, max int) ([]string, string, error) {
	sort.Strings(names)
	page, next, err := protocol.Page(names, token, max, identity, "InvalidParameterException")
	if page == nil {
		page = []string{}
	}
	return page, next, err
}

func identity(s string) string { return s }
