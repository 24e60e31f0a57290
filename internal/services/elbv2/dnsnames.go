package elbv2

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/kumo-project/kumo/internal/store"
)

// LoadBalancerAddresses maps the DNS name of every load balancer, of all
// accounts and regions, to the loopback address its listeners bind: the
// records kumo's DNS answers.
func (s *Service) LoadBalancerAddresses(ctx context.Context) (map[string]netip.Addr, error) {
	out := map[string]netip.Addr{}
	err := s.store.View(func(tx *store.Tx) error {
		lbs, err := store.List[lbRecord](tx, tableLoadBalancers, "")
		if err != nil {
			return err
		}
		for _, r := range lbs {
			addr, err := netip.ParseAddr(r.Address)
			if err != nil {
				return fmt.Errorf("load balancer %s: address %q: %w", r.LoadBalancer.LoadBalancerArn, r.Address, err)
			}
			out[r.LoadBalancer.DNSName] = addr
		}
		return nil
	})
	return out, err
}
