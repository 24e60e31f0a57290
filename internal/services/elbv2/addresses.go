package elbv2

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"os"
	"strings"

	"github.com/kumo-project/kumo/internal/protocol"
)

// freeAddress picks the first address of this instance's loopback range
// (127.a.b.1-254, 127.a.b+1.1-254, ...) that no load balancer of any
// account holds and that no other program listens on.
func (s *Service) freeAddress(all []lbRecord) (netip.Addr, error) {
	used := map[string]bool{}
	for _, r := range all {
		used[r.Address] = true
	}
	foreign := listeningAddresses("/proc/net/tcp")
	for i := 0; i < 254*16; i++ {
		a := netip.AddrFrom4([4]byte{127, s.addrBase[0], s.addrBase[1] + byte(i/254), byte(i%254) + 1})
		if !used[a.String()] && !foreign[a] {
			return a, nil
		}
	}
	return netip.Addr{}, protocol.ClientError("TooManyLoadBalancers", "The maximum number of load balancers has been reached")
}

// listeningAddresses reads the IPv4 addresses with a listening TCP socket
// from a /proc/net/tcp table; an unreadable table yields none.
func listeningAddresses(path string) map[netip.Addr]bool {
	out := map[netip.Addr]bool{}
	f, err := os.Open(path)
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 || fields[3] != "0A" { // 0A is LISTEN
			continue
		}
		host, _, _ := strings.Cut(fields[1], ":")
		b, err := hex.DecodeString(host)
		if err != nil || len(b) != 4 {
			continue
		}
		var ip [4]byte
		binary.LittleEndian.PutUint32(ip[:], binary.BigEndian.Uint32(b))
		out[netip.AddrFrom4(ip)] = true
	}
	return out
}
