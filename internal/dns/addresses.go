package dns

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"

	"github.com/miekg/dns"
)

// ELBZone is the domain of load balancer DNS names
// (<name>-<id>.<region>.elb.localhost).
const ELBZone = "elb.localhost"

// LoadBalancers lists the load balancers' DNS names and the loopback
// addresses they listen on (ELBv2).
type LoadBalancers interface {
	LoadBalancerAddresses(ctx context.Context) (map[string]netip.Addr, error)
}

// LoadBalancerSource is the Source of load balancer names: every name under
// ELBZone, answered with its load balancer's loopback address, or, to a
// query on a non-loopback address of kumo's DNS (the task bridge IP), with
// that address, where the load balancers are also served by Host.
func LoadBalancerSource(lbs LoadBalancers) Source {
	return SourceFunc(func(ctx context.Context) (Records, error) {
		addrs, err := lbs.LoadBalancerAddresses(ctx)
		if err != nil {
			return Records{}, err
		}
		recs := Records{Zones: []string{ELBZone}}
		for name, addr := range addrs {
			recs.A = append(recs.A, ARecord{Name: name, Addr: addr, LoopbackOnly: true})
		}
		return recs, nil
	})
}

// LoopbackCandidates are the host addresses an instance's DNS server tries,
// in order, when none is configured: 127.53.a.b:53 derived from the
// instance ID (so two instances pick different ones), then the next ones,
// for when another program holds it.
func LoopbackCandidates(instanceID string) []string {
	sum := sha256.Sum256([]byte(instanceID))
	const n = 16
	out := make([]string, 0, n)
	for i := 0; i < n; i++ {
		b := (int(sum[1]) + i) % 254
		ip := netip.AddrFrom4([4]byte{127, 53, sum[0], byte(b + 1)})
		out = append(out, netip.AddrPortFrom(ip, 53).String())
	}
	return out
}

// UpstreamsFromResolvConf reads the nameservers of a resolv.conf file as
// host:port addresses; a missing file yields none.
func UpstreamsFromResolvConf(path string) ([]string, error) {
	cc, err := dns.ClientConfigFromFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read upstream resolvers: %w", err)
	}
	var out []string
	for _, s := range cc.Servers {
		out = append(out, net.JoinHostPort(s, cc.Port))
	}
	return out, nil
}
