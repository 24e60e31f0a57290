package elbv2

import (
	"context"
	"net/netip"

	"github.com/kumo-project/kumo/internal/store"
	"github.com/kumo-project/kumo/internal/wire/elbv2wire"
)

// updateLB reads a load balancer of the caller's scope, lets change edit
// it, and stores it.
func (s *Service) updateLB(ctx context.Context, lbARN string, change func(*lbRecord) error) (lbRecord, error) {
	var r lbRecord
	err := s.store.Update(func(tx *store.Tx) (err error) {
		if r, err = getLB(tx, scopeOf(ctx), lbARN); err != nil {
			return err
		}
		if err := change(&r); err != nil {
			return err
		}
		return tx.Put(tableLoadBalancers, lbARN, r)
	})
	return r, err
}

// SetSecurityGroups records a load balancer's security groups (kumo does
// not filter traffic by them).
func (s *Service) SetSecurityGroups(ctx context.Context, in *elbv2wire.SetSecurityGroupsInput) (*elbv2wire.SetSecurityGroupsOutput, error) {
	r, err := s.updateLB(ctx, in.LoadBalancerArn, func(r *lbRecord) error {
		r.LoadBalancer.SecurityGroups = in.SecurityGroups
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &elbv2wire.SetSecurityGroupsOutput{SecurityGroupIds: r.LoadBalancer.SecurityGroups}, nil
}

// SetSubnets replaces a load balancer's subnets (at least two); its
// address does not change.
func (s *Service) SetSubnets(ctx context.Context, in *elbv2wire.SetSubnetsInput) (*elbv2wire.SetSubnetsOutput, error) {
	subnets := append([]string(nil), in.Subnets...)
	for _, m := range in.SubnetMappings {
		subnets = append(subnets, m.SubnetId)
	}
	if len(subnets) < 2 {
		return nil, validationError("At least two subnets in two different Availability Zones must be specified")
	}
	r, err := s.updateLB(ctx, in.LoadBalancerArn, func(r *lbRecord) error {
		addr, err := netip.ParseAddr(r.Address)
		if err != nil {
			return internalError(err)
		}
		r.LoadBalancer.AvailabilityZones = zonesOf(scopeOf(ctx), subnets, addr)
		if in.IpAddressType != "" {
			r.LoadBalancer.IpAddressType = in.IpAddressType
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &elbv2wire.SetSubnetsOutput{AvailabilityZones: r.LoadBalancer.AvailabilityZones, IpAddressType: r.LoadBalancer.IpAddressType}, nil
}

// SetIpAddressType records the address type; kumo serves IPv4 loopback only.
func (s *Service) SetIpAddressType(ctx context.Context, in *elbv2wire.SetIpAddressTypeInput) (*elbv2wire.SetIpAddressTypeOutput, error) {
	r, err := s.updateLB(ctx, in.LoadBalancerArn, func(r *lbRecord) error {
		r.LoadBalancer.IpAddressType = in.IpAddressType
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &elbv2wire.SetIpAddressTypeOutput{IpAddressType: r.LoadBalancer.IpAddressType}, nil
}

// accountLimits are the ALB quotas kumo enforces.
var accountLimits = []elbv2wire.Limit{
	{Name: "application-load-balancers", Max: "4096"},
	{Name: "listeners-per-application-load-balancer", Max: "50"},
	{Name: "certificates-per-application-load-balancer", Max: "25"},
	{Name: "rules-per-application-load-balancer", Max: "100"},
	{Name: "target-groups-per-action-on-application-load-balancer", Max: "5"},
	{Name: "targets-per-application-load-balancer", Max: "1000"},
}

// DescribeAccountLimits lists the quotas kumo enforces.
func (s *Service) DescribeAccountLimits(ctx context.Context, in *elbv2wire.DescribeAccountLimitsInput) (*elbv2wire.DescribeAccountLimitsOutput, error) {
	page, next, err := pageInOrder(accountLimits, in.Marker, in.PageSize)
	if err != nil {
		return nil, err
	}
	return &elbv2wire.DescribeAccountLimitsOutput{Limits: page, NextMarker: next}, nil
}
