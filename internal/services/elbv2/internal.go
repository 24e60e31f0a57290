package elbv2

import (
	"context"
	"strconv"
	"time"

	"github.com/kumo-project/kumo/internal/protocol"
	"github.com/kumo-project/kumo/internal/store"
	"github.com/kumo-project/kumo/internal/wire/elbv2wire"
)

// This file is the Go API other kumo services (ECS services) use to put
// tasks behind load balancers. Errors are the API's (*protocol.Error with
// codes such as TargetGroupNotFound or InvalidTarget).

// Target is a target of a target group: an IP (ip groups) or instance ID
// with a port.
type Target struct {
	ID   string
	Port int32
}

// TargetHealthState is a target's health as DescribeTargetHealth reports
// it: State is initial, healthy, unhealthy, unused, draining or unavailable.
type TargetHealthState struct {
	Target      Target
	State       string
	Reason      string
	Description string
}

// TargetGroupInfo is what ECS needs to know about a target group.
type TargetGroupInfo struct {
	ARN        string
	Protocol   string
	Port       int32
	TargetType string // ip or instance
	// LoadBalancerARNs are the load balancers whose rules forward to it.
	LoadBalancerARNs []string
	// HealthCheck settings, for ECS's grace period and waits.
	HealthCheckEnabled  bool
	HealthCheckInterval time.Duration
	HealthyThreshold    int
	UnhealthyThreshold  int
	DeregistrationDelay time.Duration
}

func callerContext(ctx context.Context, account, region string) context.Context {
	return protocol.WithRequest(ctx, &protocol.Request{Service: "elasticloadbalancing",
		Caller: protocol.Caller{AccountID: account, Region: region}})
}

func describeTargets(targets []Target) []elbv2wire.TargetDescription {
	out := make([]elbv2wire.TargetDescription, 0, len(targets))
	for _, t := range targets {
		port := t.Port
		out = append(out, elbv2wire.TargetDescription{Id: t.ID, Port: &port})
	}
	return out
}

// RegisterTargetsInternal registers targets, as RegisterTargets does.
func (s *Service) RegisterTargetsInternal(ctx context.Context, account, region, tgARN string, targets []Target) error {
	_, err := s.RegisterTargets(callerContext(ctx, account, region),
		&elbv2wire.RegisterTargetsInput{TargetGroupArn: tgARN, Targets: describeTargets(targets)})
	return err
}

// DeregisterTargetsInternal starts draining targets, as DeregisterTargets
// does. A target is gone from TargetHealth once its drain is over; only
// then should its task be stopped.
func (s *Service) DeregisterTargetsInternal(ctx context.Context, account, region, tgARN string, targets []Target) error {
	_, err := s.DeregisterTargets(callerContext(ctx, account, region),
		&elbv2wire.DeregisterTargetsInput{TargetGroupArn: tgARN, Targets: describeTargets(targets)})
	return err
}

// TargetHealth reports the health of the given targets of a group (of
// every registered target when targets is empty); targets that are not
// registered (any more) are "unused" with reason Target.NotRegistered.
func (s *Service) TargetHealth(ctx context.Context, account, region, tgARN string, targets []Target) ([]TargetHealthState, error) {
	out, err := s.DescribeTargetHealth(callerContext(ctx, account, region),
		&elbv2wire.DescribeTargetHealthInput{TargetGroupArn: tgARN, Targets: describeTargets(targets)})
	if err != nil {
		return nil, err
	}
	var states []TargetHealthState
	for _, d := range out.TargetHealthDescriptions {
		states = append(states, TargetHealthState{Target: Target{ID: d.Target.Id, Port: *d.Target.Port},
			State: d.TargetHealth.State, Reason: d.TargetHealth.Reason, Description: d.TargetHealth.Description})
	}
	return states, nil
}

// TargetGroupInfo describes a target group.
func (s *Service) TargetGroupInfo(ctx context.Context, account, region, tgARN string) (TargetGroupInfo, error) {
	sc := scope{account: account, region: region}
	var info TargetGroupInfo
	err := s.store.View(func(tx *store.Tx) error {
		r, err := getTG(tx, sc, tgARN)
		if err != nil {
			return err
		}
		usage, err := tgUsage(tx, sc)
		if err != nil {
			return err
		}
		tg := r.TargetGroup
		delay, _ := strconv.Atoi(r.Attributes["deregistration_delay.timeout_seconds"])
		info = TargetGroupInfo{
			ARN: tg.TargetGroupArn, Protocol: tg.Protocol, Port: *tg.Port, TargetType: tg.TargetType,
			LoadBalancerARNs:    usage[tg.TargetGroupArn],
			HealthCheckEnabled:  *tg.HealthCheckEnabled,
			HealthCheckInterval: time.Duration(*tg.HealthCheckIntervalSeconds) * time.Second,
			HealthyThreshold:    int(*tg.HealthyThresholdCount),
			UnhealthyThreshold:  int(*tg.UnhealthyThresholdCount),
			DeregistrationDelay: time.Duration(delay) * time.Second,
		}
		return nil
	})
	return info, err
}
