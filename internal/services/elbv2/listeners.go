package elbv2

import (
	"context"
	"slices"
	"strings"

	"github.com/kumo-project/kumo/internal/arn"
	"github.com/kumo-project/kumo/internal/protocol"
	"github.com/kumo-project/kumo/internal/services/elbv2/dataplane"
	"github.com/kumo-project/kumo/internal/store"
	"github.com/kumo-project/kumo/internal/wire/elbv2wire"
)

// listenerSpec is the validated protocol part of a listener request.
type listenerSpec struct {
	protocol  string
	port      int32
	sslPolicy string
	certs     []elbv2wire.Certificate
}

// checkListenerSpec validates protocol, port, policy and certificates.
// Certificates are looked up before any store transaction is opened.
func (s *Service) checkListenerSpec(ctx context.Context, spec listenerSpec) (listenerSpec, error) {
	if spec.port < 1 || spec.port > 65535 {
		return spec, validationError("A port between 1 and 65535 must be specified")
	}
	switch spec.protocol {
	case "HTTP":
		if spec.sslPolicy != "" || len(spec.certs) > 0 {
			return spec, validationError("Certificates and an SSL policy can only be specified for HTTPS listeners")
		}
		return spec, nil
	case "HTTPS":
	default:
		return spec, protocol.ClientError("UnsupportedProtocol", "Protocol '%s' is not supported with load balancer type 'application'", spec.protocol)
	}
	if len(spec.certs) == 0 {
		return spec, validationError("A certificate must be specified for HTTPS listeners")
	}
	if len(spec.certs) > 1 {
		return spec, validationError("Only one default certificate can be specified for a listener")
	}
	spec.sslPolicy = cmpOr(spec.sslPolicy, dataplane.DefaultSSLPolicy)
	if _, ok := dataplane.LookupSSLPolicy(spec.sslPolicy); !ok {
		return spec, protocol.ClientError("SSLPolicyNotFound", "SSL policy '%s' not found", spec.sslPolicy)
	}
	for _, c := range spec.certs {
		if !sameScopeARN(ctx, c.CertificateArn) || s.certs == nil {
			return spec, certificateNotFound(c.CertificateArn)
		}
		if _, err := s.certs.KeyPair(ctx, c.CertificateArn); err != nil {
			return spec, certificateNotFound(c.CertificateArn)
		}
	}
	spec.certs = []elbv2wire.Certificate{{CertificateArn: spec.certs[0].CertificateArn}}
	return spec, nil
}

func certificateNotFound(arn string) error {
	return protocol.ClientError("CertificateNotFound", "Certificate '%s' not found", arn)
}

// sameScopeARN reports whether an ACM ARN is of the caller's account and region.
func sameScopeARN(ctx context.Context, a string) bool {
	sc := scopeOf(ctx)
	return strings.HasPrefix(a, arn.New("acm", sc.region, sc.account, "certificate/"))
}

// CreateListener adds a listener, with its default rule, to a load balancer.
func (s *Service) CreateListener(ctx context.Context, in *elbv2wire.CreateListenerInput) (*elbv2wire.CreateListenerOutput, error) {
	sc := scopeOf(ctx)
	if in.Port == nil {
		return nil, validationError("A port must be specified")
	}
	spec, err := s.checkListenerSpec(ctx, listenerSpec{protocol: cmpOr(in.Protocol, "HTTP"), port: *in.Port, sslPolicy: in.SslPolicy, certs: in.Certificates})
	if err != nil {
		return nil, err
	}
	if err := validateNewTags(in.Tags); err != nil {
		return nil, err
	}
	var out elbv2wire.Listener
	err = s.store.Update(func(tx *store.Tx) error {
		if _, err := getLB(tx, sc, in.LoadBalancerArn); err != nil {
			return err
		}
		if err := checkPortFree(tx, in.LoadBalancerArn, "", spec.port); err != nil {
			return err
		}
		actions, err := checkActions(tx, sc, in.LoadBalancerArn, in.DefaultActions)
		if err != nil {
			return err
		}
		out = elbv2wire.Listener{
			ListenerArn: listenerARN(in.LoadBalancerArn, newResourceID()), LoadBalancerArn: in.LoadBalancerArn,
			Port: &spec.port, Protocol: spec.protocol, SslPolicy: spec.sslPolicy, Certificates: spec.certs,
			DefaultActions: actions, AlpnPolicy: in.AlpnPolicy,
		}
		if err := tx.Put(tableListeners, out.ListenerArn, listenerRecord{Listener: out, Tags: in.Tags}); err != nil {
			return err
		}
		isDefault := true
		rule := elbv2wire.Rule{RuleArn: ruleARN(out.ListenerArn, newResourceID()), Priority: "default", Actions: actions, IsDefault: &isDefault}
		return tx.Put(tableRules, rule.RuleArn, ruleRecord{Rule: rule, ListenerArn: out.ListenerArn})
	})
	if err != nil {
		return nil, err
	}
	s.nudge()
	return &elbv2wire.CreateListenerOutput{Listeners: []elbv2wire.Listener{out}}, nil
}

// checkPortFree answers DuplicateListener when another listener of the load
// balancer (not self) uses port.
func checkPortFree(tx *store.Tx, lbARN, self string, port int32) error {
	listeners, err := store.List[listenerRecord](tx, tableListeners, listenerARN(lbARN, ""))
	if err != nil {
		return internalError(err)
	}
	if len(listeners) >= 50 && self == "" {
		return protocol.ClientError("TooManyListeners", "You've reached the limit on the number of listeners per load balancer")
	}
	for _, l := range listeners {
		if l.Listener.ListenerArn != self && *l.Listener.Port == port {
			return protocol.ClientError("DuplicateListener", "A listener already exists on this port for this load balancer '%s'", lbARN)
		}
	}
	return nil
}

// DescribeListeners lists the listeners of a load balancer, or by ARN.
func (s *Service) DescribeListeners(ctx context.Context, in *elbv2wire.DescribeListenersInput) (*elbv2wire.DescribeListenersOutput, error) {
	sc := scopeOf(ctx)
	if (in.LoadBalancerArn == "") == (len(in.ListenerArns) == 0) {
		return nil, validationError("You must specify either listener ARNs or a load balancer ARN")
	}
	var ls []elbv2wire.Listener
	err := s.store.View(func(tx *store.Tx) error {
		if in.LoadBalancerArn != "" {
			if _, err := getLB(tx, sc, in.LoadBalancerArn); err != nil {
				return err
			}
			all, err := store.List[listenerRecord](tx, tableListeners, listenerARN(in.LoadBalancerArn, ""))
			if err != nil {
				return internalError(err)
			}
			for _, l := range all {
				ls = append(ls, l.Listener)
			}
			return nil
		}
		for _, a := range in.ListenerArns {
			l, err := getListener(tx, sc, a)
			if err != nil {
				return err
			}
			ls = append(ls, l.Listener)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	page, next, err := pageOf(ls, in.Marker, in.PageSize, func(l elbv2wire.Listener) string { return l.ListenerArn })
	if err != nil {
		return nil, err
	}
	return &elbv2wire.DescribeListenersOutput{Listeners: page, NextMarker: next}, nil
}

// ModifyListener changes a listener's port, protocol, TLS settings or
// default actions. A certificate change applies to the next TLS handshake.
func (s *Service) ModifyListener(ctx context.Context, in *elbv2wire.ModifyListenerInput) (*elbv2wire.ModifyListenerOutput, error) {
	sc := scopeOf(ctx)
	var current listenerRecord
	err := s.store.View(func(tx *store.Tx) (err error) {
		current, err = getListener(tx, sc, in.ListenerArn)
		return err
	})
	if err != nil {
		return nil, err
	}
	l := current.Listener
	spec := listenerSpec{protocol: cmpOr(in.Protocol, l.Protocol), port: *l.Port, sslPolicy: cmpOr(in.SslPolicy, l.SslPolicy), certs: l.Certificates}
	if in.Port != nil {
		spec.port = *in.Port
	}
	if len(in.Certificates) > 0 {
		spec.certs = in.Certificates
	}
	if spec.protocol == "HTTP" {
		spec.sslPolicy, spec.certs = "", nil
	}
	if spec, err = s.checkListenerSpec(ctx, spec); err != nil {
		return nil, err
	}
	err = s.store.Update(func(tx *store.Tx) error {
		r, err := getListener(tx, sc, in.ListenerArn)
		if err != nil {
			return err
		}
		if err := checkPortFree(tx, r.Listener.LoadBalancerArn, r.Listener.ListenerArn, spec.port); err != nil {
			return err
		}
		if len(in.DefaultActions) > 0 {
			actions, err := checkActions(tx, sc, r.Listener.LoadBalancerArn, in.DefaultActions)
			if err != nil {
				return err
			}
			r.Listener.DefaultActions = actions
			if err := setDefaultRuleActions(tx, r.Listener.ListenerArn, actions); err != nil {
				return err
			}
		}
		r.Listener.Port, r.Listener.Protocol, r.Listener.SslPolicy, r.Listener.Certificates = &spec.port, spec.protocol, spec.sslPolicy, spec.certs
		if spec.protocol == "HTTP" {
			r.SNICertificates = nil
		}
		if in.AlpnPolicy != nil {
			r.Listener.AlpnPolicy = in.AlpnPolicy
		}
		l = r.Listener
		return tx.Put(tableListeners, l.ListenerArn, r)
	})
	if err != nil {
		return nil, err
	}
	s.nudge()
	return &elbv2wire.ModifyListenerOutput{Listeners: []elbv2wire.Listener{l}}, nil
}

func setDefaultRuleActions(tx *store.Tx, listenerArn string, actions []elbv2wire.Action) error {
	rules, err := store.List[ruleRecord](tx, tableRules, ruleARN(listenerArn, ""))
	if err != nil {
		return internalError(err)
	}
	for _, r := range rules {
		if r.Rule.IsDefault != nil && *r.Rule.IsDefault {
			r.Rule.Actions = actions
			return tx.Put(tableRules, r.Rule.RuleArn, r)
		}
	}
	return nil
}

// DeleteListener deletes a listener and its rules.
func (s *Service) DeleteListener(ctx context.Context, in *elbv2wire.DeleteListenerInput) (*elbv2wire.DeleteListenerOutput, error) {
	sc := scopeOf(ctx)
	err := s.store.Update(func(tx *store.Tx) error {
		if _, err := getListener(tx, sc, in.ListenerArn); err != nil {
			return err
		}
		return deleteListener(tx, in.ListenerArn)
	})
	if err != nil {
		return nil, err
	}
	s.nudge()
	return &elbv2wire.DeleteListenerOutput{}, nil
}

func deleteListener(tx *store.Tx, listenerArn string) error {
	rules, err := store.List[ruleRecord](tx, tableRules, ruleARN(listenerArn, ""))
	if err != nil {
		return internalError(err)
	}
	for _, r := range rules {
		if err := tx.Delete(tableRules, r.Rule.RuleArn); err != nil {
			return err
		}
	}
	return tx.Delete(tableListeners, listenerArn)
}

// getListener reads a listener of the scope or answers ListenerNotFound.
func getListener(tx *store.Tx, sc scope, a string) (listenerRecord, error) {
	if !sc.inScope(a, resListener) {
		return listenerRecord{}, listenerNotFound()
	}
	r, ok, err := store.Get[listenerRecord](tx, tableListeners, a)
	if err != nil {
		return r, internalError(err)
	}
	if !ok {
		return r, listenerNotFound()
	}
	return r, nil
}

// CertificateUsers lists the load balancers whose listeners use an ACM
// certificate; ACM answers ResourceInUseException while there are any.
func (s *Service) CertificateUsers(ctx context.Context, certARN string) ([]string, error) {
	var users []string
	err := s.store.View(func(tx *store.Tx) error {
		all, err := store.List[listenerRecord](tx, tableListeners, "")
		if err != nil {
			return err
		}
		for _, l := range all {
			for _, a := range append(certificateARNs(l.Listener.Certificates), l.SNICertificates...) {
				if a == certARN && !slices.Contains(users, l.Listener.LoadBalancerArn) {
					users = append(users, l.Listener.LoadBalancerArn)
				}
			}
		}
		return nil
	})
	return users, err
}
