package ecr

import "testing"

func TestMatchWildcard(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, pattern, s string
		want             bool
	}{
		{"literal", "prod", "prod", true},
		{"literal differs", "prod", "prod1", false},
		{"trailing star", "prod*", "prod-1", true},
		{"star matches nothing", "prod*", "prod", true},
		{"leading star", "*-rc", "1.0-rc", true},
		{"inner star", "v*-rc*", "v1.2-rc3", true},
		{"inner part missing", "v*-rc*", "v1.2", false},
		{"star crosses slashes", "prod-*", "prod-team/api", true},
		{"suffix may not overlap the prefix", "ab*ba", "aba", false},
		{"brackets are literal", "[a]*", "a1", false},
		{"question mark is literal", "v?", "v1", false},
		{"four stars", "*test*1*2*", "mytest-1-2-x", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := matchWildcard(tc.pattern, tc.s); got != tc.want {
				t.Fatalf("matchWildcard(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
			}
		})
	}
}
