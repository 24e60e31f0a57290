package network

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net/netip"
)

// maxSubnetTries bounds the search for a free subnet.
const maxSubnetTries = 1024

// chooseSubnet picks a /24 in 10.200.0.0-10.249.255.0 that overlaps none of
// routed. The candidates are a sequence derived from instanceID, so an
// instance picks the same subnet every time the host looks the same, and two
// instances usually start from different candidates.
func chooseSubnet(instanceID string, routed []netip.Prefix) (netip.Prefix, error) {
	for try := 0; try < maxSubnetTries; try++ {
		sum := sha256.Sum256(fmt.Appendf(nil, "%s/subnet/%d", instanceID, try))
		candidate := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 200 + sum[0]%50, sum[1], 0}), 24)
		if !overlapsAny(candidate, routed) {
			return candidate, nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("no free subnet for instance %q after %d tries", instanceID, maxSubnetTries)
}

func overlapsAny(p netip.Prefix, others []netip.Prefix) bool {
	for _, o := range others {
		if o.Bits() > 0 && p.Overlaps(o) {
			return true
		}
	}
	return false
}

// parseSubnet parses a configured task subnet. It must be IPv4 and leave room
// for a gateway and tasks.
func parseSubnet(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("task subnet %q: %w", s, err)
	}
	if !p.Addr().Is4() || p.Bits() < 8 || p.Bits() > 28 {
		return netip.Prefix{}, fmt.Errorf("task subnet %q: want an IPv4 CIDR with a prefix length from 8 to 28", s)
	}
	return p.Masked(), nil
}

// gatewayOf is the first address of the subnet, given to the bridge.
func gatewayOf(subnet netip.Prefix) netip.Addr {
	return subnet.Addr().Next()
}

// broadcastOf is the last address of the subnet.
func broadcastOf(subnet netip.Prefix) netip.Addr {
	a := subnet.Addr().As4()
	n := binary.BigEndian.Uint32(a[:]) | (1<<(32-subnet.Bits()) - 1)
	binary.BigEndian.PutUint32(a[:], n)
	return netip.AddrFrom4(a)
}

// allocateIP returns the lowest task address of subnet not in used: the
// gateway, the network and the broadcast address are never given out.
func allocateIP(subnet netip.Prefix, used map[netip.Addr]bool) (netip.Addr, error) {
	last := broadcastOf(subnet)
	for a := gatewayOf(subnet).Next(); a.IsValid() && a.Less(last); a = a.Next() {
		if !used[a] {
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("task subnet %s: no free address", subnet)
}
