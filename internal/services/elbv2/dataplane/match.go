package dataplane

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// matcher is a compiled rule condition.
type matcher func(r *http.Request, client netip.Addr) bool

// compileCondition turns a condition into a matcher, or says why it is invalid.
func compileCondition(c Condition) (matcher, error) {
	switch c.Field {
	case FieldPathPattern:
		return func(r *http.Request, _ netip.Addr) bool { return anyWildcard(c.Values, r.URL.Path, false) }, nil
	case FieldHostHeader:
		return func(r *http.Request, _ netip.Addr) bool { return anyWildcard(c.Values, hostOnly(r.Host), true) }, nil
	case FieldHTTPHeader:
		if c.HeaderName == "" {
			return nil, fmt.Errorf("http-header condition without a header name")
		}
		return func(r *http.Request, _ netip.Addr) bool {
			for _, v := range r.Header.Values(c.HeaderName) {
				if anyWildcard(c.Values, v, true) {
					return true
				}
			}
			return false
		}, nil
	case FieldHTTPRequestMethod:
		return func(r *http.Request, _ netip.Addr) bool { return contains(c.Values, r.Method) }, nil
	case FieldQueryString:
		return func(r *http.Request, _ netip.Addr) bool { return queryMatches(c.QueryPairs, r) }, nil
	case FieldSourceIP:
		return compileSourceIP(c.Values)
	}
	return nil, fmt.Errorf("unknown condition field %q", c.Field)
}

func compileSourceIP(values []string) (matcher, error) {
	var prefixes []netip.Prefix
	for _, v := range values {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return nil, fmt.Errorf("source-ip %q: %w", v, err)
		}
		prefixes = append(prefixes, p.Masked())
	}
	return func(_ *http.Request, client netip.Addr) bool {
		for _, p := range prefixes {
			if p.Contains(client.Unmap()) {
				return true
			}
		}
		return false
	}, nil
}

// queryMatches reports whether any query parameter matches any pair; keys
// and values are compared URL-decoded and case-insensitively.
func queryMatches(pairs []QueryPair, r *http.Request) bool {
	q := r.URL.Query()
	for _, p := range pairs {
		for k, vs := range q {
			if p.Key != "" && !wildcard(strings.ToLower(p.Key), strings.ToLower(k)) {
				continue
			}
			for _, v := range vs {
				if wildcard(strings.ToLower(p.Value), strings.ToLower(v)) {
					return true
				}
			}
		}
	}
	return false
}

func contains(values []string, s string) bool {
	for _, v := range values {
		if v == s {
			return true
		}
	}
	return false
}

func anyWildcard(patterns []string, s string, foldCase bool) bool {
	if foldCase {
		s = strings.ToLower(s)
	}
	for _, p := range patterns {
		if foldCase {
			p = strings.ToLower(p)
		}
		if wildcard(p, s) {
			return true
		}
	}
	return false
}

// wildcard matches s against a pattern where * is any run of characters
// and ? is exactly one, as ALB's rule conditions do.
func wildcard(pattern, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// hostOnly strips the port from a Host header.
func hostOnly(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		return h
	}
	return host
}

// redirectURL renders a redirect action for a request that arrived on a
// listener with the given protocol (HTTP/HTTPS) and port.
func redirectURL(rd *Redirect, r *http.Request, protocol string, port int) string {
	path := strings.TrimPrefix(r.URL.Path, "/")
	vars := strings.NewReplacer(
		"#{protocol}", strings.ToLower(protocol),
		"#{host}", hostOnly(r.Host),
		"#{port}", strconv.Itoa(port),
		"#{path}", path,
		"#{query}", r.URL.RawQuery,
	)
	expand := func(field, def string) string {
		if field == "" {
			field = def
		}
		return vars.Replace(field)
	}
	u := strings.ToLower(expand(rd.Protocol, "#{protocol}")) + "://" + expand(rd.Host, "#{host}") +
		":" + expand(rd.Port, "#{port}") + expand(rd.Path, "/#{path}")
	if q := expand(rd.Query, "#{query}"); q != "" {
		u += "?" + q
	}
	return u
}
