package network

import (
	"net/netip"
	"testing"
)

func TestChooseSubnet(t *testing.T) {
	t.Parallel()
	first, err := chooseSubnet("abc123", nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		id      string
		routed  []netip.Prefix
		wantNot netip.Prefix
	}{
		{"same id same subnet", "abc123", nil, netip.Prefix{}},
		{"skips a routed subnet", "abc123", []netip.Prefix{first}, first},
		{"skips a covering route", "abc123", []netip.Prefix{netip.MustParsePrefix(first.Addr().String() + "/16")}, first},
		{"default route does not count", "abc123", []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}, netip.Prefix{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := chooseSubnet(tc.id, tc.routed)
			if err != nil {
				t.Fatal(err)
			}
			if got.Bits() != 24 || got.Addr().As4()[0] != 10 || got.Masked() != got {
				t.Errorf("chooseSubnet = %s, want a 10.x.y.0/24", got)
			}
			if overlapsAny(got, tc.routed) {
				t.Errorf("chooseSubnet = %s overlaps %v", got, tc.routed)
			}
			if tc.wantNot.IsValid() && got == tc.wantNot {
				t.Errorf("chooseSubnet = %s, want another subnet", got)
			}
			if !tc.wantNot.IsValid() && got != first {
				t.Errorf("chooseSubnet = %s, want %s", got, first)
			}
		})
	}
	other, err := chooseSubnet("def456", nil)
	if err != nil {
		t.Fatal(err)
	}
	if other == first {
		t.Errorf("instances abc123 and def456 both chose %s", first)
	}
	if _, err := chooseSubnet("x", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}); err == nil {
		t.Error("chooseSubnet with 10.0.0.0/8 routed: want an error")
	}
}

func TestAllocateIP(t *testing.T) {
	t.Parallel()
	subnet := netip.MustParsePrefix("10.213.7.0/24")
	ip := netip.MustParseAddr
	tests := []struct {
		name    string
		subnet  netip.Prefix
		used    []string
		want    string
		wantErr bool
	}{
		{"first task gets .2", subnet, nil, "10.213.7.2", false},
		{"lowest free", subnet, []string{"10.213.7.2", "10.213.7.4"}, "10.213.7.3", false},
		{"small subnet full", netip.MustParsePrefix("10.1.1.0/30"), []string{"10.1.1.2"}, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			used := map[netip.Addr]bool{}
			for _, u := range tc.used {
				used[ip(u)] = true
			}
			got, err := allocateIP(tc.subnet, used)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("allocateIP = %s, want an error", got)
				}
				return
			}
			if err != nil || got != ip(tc.want) {
				t.Fatalf("allocateIP = %v, %v; want %s", got, err, tc.want)
			}
		})
	}
	if got := broadcastOf(subnet); got != ip("10.213.7.255") {
		t.Errorf("broadcastOf(%s) = %s", subnet, got)
	}
}

func TestParseSubnet(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{"10.213.7.0/24", "10.213.7.0/24", false},
		{"10.213.7.9/24", "10.213.7.0/24", false},
		{"fd00::/64", "", true},
		{"10.0.0.0/30", "", true},
		{"nonsense", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := parseSubnet(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("parseSubnet(%q) error = %v, wantErr %v", tc.in, err, tc.wantErr)
			}
			if err == nil && got.String() != tc.want {
				t.Errorf("parseSubnet(%q) = %s, want %s", tc.in, got, tc.want)
			}
		})
	}
}
