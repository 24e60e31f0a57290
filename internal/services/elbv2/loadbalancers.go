package elbv2

import (
	"context"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/kumo-project/kumo/internal/protocol"
	"github.com/kumo-project/kumo/internal/store"
	"github.com/kumo-project/kumo/internal/wire/elbv2wire"
)

// localVPC is the one VPC kumo's resources live in.
const localVPC = "vpc-local"

// canonicalHostedZoneID is the Route 53 zone of ALB DNS names (us-east-1's).
const canonicalHostedZoneID = "Z35SXDOTRQ7X7K"

var lbNamePattern = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]{0,30}[a-zA-Z0-9])?$`)

func validateLBName(name string) error {
	if !lbNamePattern.MatchString(name) || strings.HasPrefix(name, "internal-") {
		return validationError("The load balancer name '%s' is not valid. It must be 1-32 alphanumeric characters or hyphens, must not begin or end with a hyphen, and must not begin with 'internal-'", name)
	}
	return nil
}

// CreateLoadBalancer creates an application load balancer with its own
// loopback address, or returns the existing one of that name when the
// request is the same.
func (s *Service) CreateLoadBalancer(ctx context.Context, in *elbv2wire.CreateLoadBalancerInput) (*elbv2wire.CreateLoadBalancerOutput, error) {
	sc := scopeOf(ctx)
	if err := validateLBName(in.Name); err != nil {
		return nil, err
	}
	if in.Type != "" && in.Type != "application" {
		return nil, validationError("Load balancer type '%s' is not supported by kumo; only 'application' is", in.Type)
	}
	scheme := cmpOr(in.Scheme, "internet-facing")
	subnets := append([]string(nil), in.Subnets...)
	for _, m := range in.SubnetMappings {
		subnets = append(subnets, m.SubnetId)
	}
	if len(subnets) < 2 {
		return nil, validationError("At least two subnets in two different Availability Zones must be specified")
	}
	if err := validateNewTags(in.Tags); err != nil {
		return nil, err
	}
	var out elbv2wire.LoadBalancer
	err := s.store.Update(func(tx *store.Tx) error {
		all, err := store.List[lbRecord](tx, tableLoadBalancers, "")
		if err != nil {
			return internalError(err)
		}
		for _, r := range all {
			lb := r.LoadBalancer
			if sc.inScope(lb.LoadBalancerArn, resLoadBalancer) && lb.LoadBalancerName == in.Name {
				if lb.Scheme == scheme && slices.Equal(lbSubnets(lb), subnets) {
					out = lb
					return nil
				}
				return protocol.ClientError("DuplicateLoadBalancerName", "A load balancer with the same name '%s' exists, but with different settings", in.Name)
			}
		}
		addr, err := s.freeAddress(all)
		if err != nil {
			return err
		}
		out = s.newLoadBalancer(sc, in, scheme, subnets, addr)
		return tx.Put(tableLoadBalancers, out.LoadBalancerArn, lbRecord{
			LoadBalancer: out, Attributes: defaultLBAttributes(), Tags: in.Tags, Address: addr.String(),
		})
	})
	if err != nil {
		return nil, err
	}
	s.nudge()
	return &elbv2wire.CreateLoadBalancerOutput{LoadBalancers: []elbv2wire.LoadBalancer{out}}, nil
}

// newLoadBalancer describes a new load balancer. Each zone lists the
// loopback address the listeners bind, as LoadBalancerAddresses.
func (s *Service) newLoadBalancer(sc scope, in *elbv2wire.CreateLoadBalancerInput, scheme string, subnets []string, addr netip.Addr) elbv2wire.LoadBalancer {
	dnsName := in.Name + "-" + newDNSID() + "." + sc.region + ".elb.localhost"
	if scheme == "internal" {
		dnsName = "internal-" + dnsName
	}
	return elbv2wire.LoadBalancer{
		LoadBalancerArn:       sc.lbARN(in.Name, newResourceID()),
		DNSName:               dnsName,
		CanonicalHostedZoneId: canonicalHostedZoneID,
		CreatedTime:           protocol.NewTimestamp(s.clock.Now()),
		LoadBalancerName:      in.Name,
		Scheme:                scheme,
		VpcId:                 localVPC,
		State:                 &elbv2wire.LoadBalancerState{Code: "active"},
		Type:                  "application",
		AvailabilityZones:     zonesOf(sc, subnets, addr),
		SecurityGroups:        in.SecurityGroups,
		IpAddressType:         cmpOr(in.IpAddressType, "ipv4"),
	}
}

// zonesOf places subnets in zones a, b, c... of the region; each zone
// lists the load balancer's loopback address.
func zonesOf(sc scope, subnets []string, addr netip.Addr) []elbv2wire.AvailabilityZone {
	var zones []elbv2wire.AvailabilityZone
	for i, subnet := range subnets {
		zones = append(zones, elbv2wire.AvailabilityZone{ZoneName: sc.region + string(rune('a'+i%6)), SubnetId: subnet,
			LoadBalancerAddresses: []elbv2wire.LoadBalancerAddress{{IpAddress: addr.String()}}})
	}
	return zones
}

func lbSubnets(lb elbv2wire.LoadBalancer) []string {
	var out []string
	for _, z := range lb.AvailabilityZones {
		out = append(out, z.SubnetId)
	}
	return out
}

// DescribeLoadBalancers lists load balancers, by ARN, by name, or all.
func (s *Service) DescribeLoadBalancers(ctx context.Context, in *elbv2wire.DescribeLoadBalancersInput) (*elbv2wire.DescribeLoadBalancersOutput, error) {
	sc := scopeOf(ctx)
	if len(in.LoadBalancerArns) > 0 && len(in.Names) > 0 {
		return nil, validationError("Load balancer names and load balancer ARNs cannot be specified at the same time")
	}
	var lbs []elbv2wire.LoadBalancer
	err := s.store.View(func(tx *store.Tx) error {
		all, err := store.List[lbRecord](tx, tableLoadBalancers, sc.prefix(resLoadBalancer))
		if err != nil {
			return internalError(err)
		}
		for _, r := range all {
			lbs = append(lbs, r.LoadBalancer)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	lbs, err = selectNamed(lbs, in.LoadBalancerArns, in.Names,
		func(lb elbv2wire.LoadBalancer) (string, string) { return lb.LoadBalancerArn, lb.LoadBalancerName }, loadBalancerNotFound)
	if err != nil {
		return nil, err
	}
	page, next, err := pageOf(lbs, in.Marker, in.PageSize, func(lb elbv2wire.LoadBalancer) string { return lb.LoadBalancerName + " " + lb.LoadBalancerArn })
	if err != nil {
		return nil, err
	}
	return &elbv2wire.DescribeLoadBalancersOutput{LoadBalancers: page, NextMarker: next}, nil
}

// selectNamed keeps the items with the given ARNs or names (all when both
// are empty), answering notFound when one is missing.
func selectNamed[T any](items []T, arns, names []string, ids func(T) (string, string), notFound func() error) ([]T, error) {
	if len(arns) == 0 && len(names) == 0 {
		return items, nil
	}
	var out []T
	for _, want := range append(append([]string(nil), arns...), names...) {
		found := false
		for _, it := range items {
			a, n := ids(it)
			if (len(arns) > 0 && a == want) || (len(arns) == 0 && n == want) {
				out = append(out, it)
				found = true
				break
			}
		}
		if !found {
			return nil, notFound()
		}
	}
	return out, nil
}

// pageOf sorts items by key and returns one page of them.
func pageOf[T any](items []T, marker string, pageSize *int32, key func(T) string) ([]T, string, error) {
	sort.SliceStable(items, func(i, j int) bool { return key(items[i]) < key(items[j]) })
	size := 400
	if pageSize != nil {
		size = int(*pageSize)
	}
	return protocol.Page(items, marker, size, key, "ValidationError")
}

// DeleteLoadBalancer deletes a load balancer with its listeners and rules.
// Deleting one that does not exist succeeds, as in AWS.
func (s *Service) DeleteLoadBalancer(ctx context.Context, in *elbv2wire.DeleteLoadBalancerInput) (*elbv2wire.DeleteLoadBalancerOutput, error) {
	sc := scopeOf(ctx)
	err := s.store.Update(func(tx *store.Tx) error {
		r, ok, err := store.Get[lbRecord](tx, tableLoadBalancers, in.LoadBalancerArn)
		if err != nil {
			return internalError(err)
		}
		if !ok || !sc.inScope(in.LoadBalancerArn, resLoadBalancer) {
			return nil
		}
		if r.Attributes["deletion_protection.enabled"] == "true" {
			return operationNotPermitted("Load balancer '%s' cannot be deleted because deletion protection is enabled", in.LoadBalancerArn)
		}
		listeners, err := store.List[listenerRecord](tx, tableListeners, listenerARN(in.LoadBalancerArn, ""))
		if err != nil {
			return internalError(err)
		}
		for _, l := range listeners {
			if err := deleteListener(tx, l.Listener.ListenerArn); err != nil {
				return err
			}
		}
		return tx.Delete(tableLoadBalancers, in.LoadBalancerArn)
	})
	if err != nil {
		return nil, err
	}
	s.nudge()
	return &elbv2wire.DeleteLoadBalancerOutput{}, nil
}

// getLB reads a load balancer of the scope or answers LoadBalancerNotFound.
func getLB(tx *store.Tx, sc scope, lbARN string) (lbRecord, error) {
	if !sc.inScope(lbARN, resLoadBalancer) {
		return lbRecord{}, loadBalancerNotFound()
	}
	r, ok, err := store.Get[lbRecord](tx, tableLoadBalancers, lbARN)
	if err != nil {
		return r, internalError(err)
	}
	if !ok {
		return r, loadBalancerNotFound()
	}
	return r, nil
}

func cmpOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
