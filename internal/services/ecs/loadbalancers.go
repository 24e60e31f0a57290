package ecs

import "context"

// LoadBalancers is what the service scheduler needs from ELBv2: put a task's
// address into a target group once it runs, take it out before it stops,
// and read how the target group sees it. The server wires the ELBv2 service
// in; without it (nil) services with load balancers are refused.
type LoadBalancers interface {
	// RegisterTargets adds targets to a target group. Registering a target
	// that is already registered is a no-op.
	RegisterTargets(ctx context.Context, targetGroupARN string, targets []Target) error
	// DeregisterTargets starts draining targets: they get no new requests
	// and leave the group after its deregistration delay.
	DeregisterTargets(ctx context.Context, targetGroupARN string, targets []Target) error
	// TargetHealth reports the state of each given target in the group; an
	// error when the target group does not exist. With no targets it only
	// checks that the group exists.
	TargetHealth(ctx context.Context, targetGroupARN string, targets []Target) ([]TargetHealth, error)
}

// Target is one task endpoint in a target group: the task's IP (awsvpc) or
// the node's loopback with a published host port (bridge and host modes).
type Target struct {
	ID   string
	Port int
}

// TargetHealth is a target's state as DescribeTargetHealth reports it.
type TargetHealth struct {
	Target Target
	// State is initial, healthy, unhealthy, unused, draining or unavailable.
	State string
	// Reason is ELB's reason code, e.g. Target.FailedHealthChecks.
	Reason      string
	Description string
}

// Target health states the scheduler acts on.
const (
	targetHealthy   = "healthy"
	targetUnhealthy = "unhealthy"
	targetDraining  = "draining"
)
