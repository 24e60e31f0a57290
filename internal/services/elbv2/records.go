package elbv2

import (
	"time"

	"github.com/kumo-project/kumo/internal/wire/elbv2wire"
)

// Store tables of the ELBv2 service, keyed by ARN (which holds the region
// and account, so a scope lists its resources by ARN prefix).
const (
	tableLoadBalancers = "elbv2/loadbalancers"
	tableTargetGroups  = "elbv2/targetgroups"
	tableListeners     = "elbv2/listeners"
	tableRules         = "elbv2/rules"
)

// lbRecord is a load balancer.
type lbRecord struct {
	LoadBalancer elbv2wire.LoadBalancer
	Attributes   map[string]string
	Tags         []elbv2wire.Tag
	// Address is the loopback address its listeners bind.
	Address string
}

// tgRecord is a target group and its registered targets. The load
// balancers it serves are derived from the rules that forward to it.
type tgRecord struct {
	TargetGroup elbv2wire.TargetGroup
	Attributes  map[string]string
	Tags        []elbv2wire.Tag
	Targets     []targetRecord
}

// targetRecord is a registered target.
type targetRecord struct {
	ID               string
	Port             int32
	AvailabilityZone string `json:",omitempty"`
	// DrainUntil is set once the target is deregistered: it stays in the
	// group, draining, until then or until its in-flight requests end.
	DrainUntil time.Time `json:",omitzero"`
}

func (t targetRecord) draining() bool { return !t.DrainUntil.IsZero() }

// listenerRecord is a listener.
type listenerRecord struct {
	Listener elbv2wire.Listener
	Tags     []elbv2wire.Tag
	// SNICertificates are the listener's certificate list besides its
	// default certificate (AddListenerCertificates), served by SNI.
	SNICertificates []string `json:",omitempty"`
}

// ruleRecord is a listener rule; every listener has one default rule,
// which mirrors the listener's default actions.
type ruleRecord struct {
	Rule        elbv2wire.Rule
	ListenerArn string
	Tags        []elbv2wire.Tag
}
