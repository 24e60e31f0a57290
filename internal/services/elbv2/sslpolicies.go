package elbv2

import (
	"context"
	"slices"

	"github.com/kumo-project/kumo/internal/protocol"
	"github.com/kumo-project/kumo/internal/services/elbv2/dataplane"
	"github.com/kumo-project/kumo/internal/wire/elbv2wire"
)

// DescribeSSLPolicies lists the security policies listeners accept, with
// the TLS versions each allows (kumo does not list ciphers).
func (s *Service) DescribeSSLPolicies(ctx context.Context, in *elbv2wire.DescribeSSLPoliciesInput) (*elbv2wire.DescribeSSLPoliciesOutput, error) {
	var out []elbv2wire.SslPolicy
	for _, p := range dataplane.SSLPolicies {
		if len(in.Names) > 0 && !slices.Contains(in.Names, p.Name) {
			continue
		}
		var versions []string
		for v := p.MinVersion; v <= p.MaxVersion; v++ {
			versions = append(versions, dataplane.VersionName(v))
		}
		out = append(out, elbv2wire.SslPolicy{Name: p.Name, SslProtocols: versions,
			SupportedLoadBalancerTypes: []string{"application"}})
	}
	if len(out) < len(in.Names) {
		return nil, protocol.ClientError("SSLPolicyNotFound", "One or more SSL policies not found")
	}
	return &elbv2wire.DescribeSSLPoliciesOutput{SslPolicies: out}, nil
}
