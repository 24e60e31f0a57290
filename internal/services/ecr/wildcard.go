package ecr

import "strings"

// matchWildcard reports whether s matches pattern, in which * stands for
// any run of characters (slashes included) and every other character for
// itself: ECR's WILDCARD filters (tag mutability exclusions, scanning
// repository filters) and lifecycle tag patterns.
func matchWildcard(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	// The leftmost match of each middle part leaves the most room for the rest.
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}
