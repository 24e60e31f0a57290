// Package ecs is kumo's Amazon ECS: clusters, task definitions, tasks and
// services on the ECS JSON 1.1 API, run for real on a node through the node
// API.
//
//	handlers (this package's exported methods, wire shapes in and out)
//	   │ validate, store desired state
//	   ▼
//	store ◄── runner (reconciler): submits tasks to the node, stops them,
//	              applies the node's status changes to the stored tasks
//	   ▲
//	node.Node ── the agent that runs containers
//
// The service scheduler (service_runner.go) keeps each service's desired
// count of tasks running, rolls deployments and moves tasks in and out of
// ELBv2 target groups through LoadBalancers.
package ecs

import (
	"context"
	"log/slog"
	"sync"

	"github.com/kumo-project/kumo/internal/clock"
	"github.com/kumo-project/kumo/internal/gateway"
	"github.com/kumo-project/kumo/internal/node"
	"github.com/kumo-project/kumo/internal/protocol"
	"github.com/kumo-project/kumo/internal/store"
	"github.com/kumo-project/kumo/internal/wire/ecswire"
)

// Config configures the ECS service.
type Config struct {
	Store *store.Store
	Node  node.Node
	Clock clock.Clock
	Log   *slog.Logger
	// AvailabilityZone is reported for tasks (e.g. us-east-1a is derived
	// from the region when empty).
	AvailabilityZone string
	// LoadBalancers registers service tasks in ELBv2 target groups; nil
	// when no load balancer service runs (services with loadBalancers are
	// then refused).
	LoadBalancers LoadBalancers
}

// Service implements the ECS API.
type Service struct {
	store *store.Store
	node  node.Node
	clock clock.Clock
	log   *slog.Logger
	az    string
	lbs   LoadBalancers
	tasks taskCache // decoded tasks for DescribeTasks

	wake        chan struct{} // nudges the runner after a change
	serviceWake chan struct{} // nudges the service scheduler
	wg          sync.WaitGroup
}

// New returns the ECS service; Start runs its reconcilers.
func New(cfg Config) *Service {
	return &Service{
		store: cfg.Store,
		node:  cfg.Node,
		clock: cfg.Clock,
		log:   cfg.Log,
		az:    cfg.AvailabilityZone,
		lbs:   cfg.LoadBalancers,

		wake:        make(chan struct{}, 1),
		serviceWake: make(chan struct{}, 1),
	}
}

// Gateway returns the service's entry for the API gateway: every ECS
// operation of the model, with the ones kumo implements bound here.
func (s *Service) Gateway() *gateway.Service {
	h := &ecswire.Handlers{
		CreateCluster:              s.CreateCluster,
		DescribeClusters:           s.DescribeClusters,
		ListClusters:               s.ListClusters,
		DeleteCluster:              s.DeleteCluster,
		UpdateClusterSettings:      s.UpdateClusterSettings,
		RegisterTaskDefinition:     s.RegisterTaskDefinition,
		DescribeTaskDefinition:     s.DescribeTaskDefinition,
		ListTaskDefinitions:        s.ListTaskDefinitions,
		ListTaskDefinitionFamilies: s.ListTaskDefinitionFamilies,
		DeregisterTaskDefinition:   s.DeregisterTaskDefinition,
		DeleteTaskDefinitions:      s.DeleteTaskDefinitions,
		RunTask:                    s.RunTask,
		StopTask:                   s.StopTask,
		DescribeTasks:              s.DescribeTasks,
		ListTasks:                  s.ListTasks,
		CreateService:              s.CreateService,
		UpdateService:              s.UpdateService,
		DeleteService:              s.DeleteService,
		DescribeServices:           s.DescribeServices,
		ListServices:               s.ListServices,
		TagResource:                s.TagResource,
		UntagResource:              s.UntagResource,
		ListTagsForResource:        s.ListTagsForResource,
	}
	return &gateway.Service{
		SigningName:         ecswire.SigningName,
		Protocol:            gateway.ProtocolJSON,
		TargetPrefix:        ecswire.TargetPrefix,
		JSONVersion:         ecswire.JSONVersion,
		APIVersion:          ecswire.APIVersion,
		Operations:          h.Operations(),
		ValidationErrorCode: "InvalidParameterException",
	}
}

// Start runs the reconcilers until ctx ends or Close is called.
func (s *Service) Start(ctx context.Context) error {
	// Before the gateway serves a request: every task write must keep the
	// index.
	if err := s.indexTasks(); err != nil {
		return err
	}
	updates, err := s.node.Watch(ctx)
	if err != nil {
		return err
	}
	s.wg.Add(3)
	go func() { defer s.wg.Done(); s.applyNodeUpdates(ctx, updates) }()
	go func() { defer s.wg.Done(); s.runLoop(ctx) }()
	go func() { defer s.wg.Done(); s.serviceLoop(ctx) }()
	return nil
}

// Wait blocks until the reconcilers have ended (after ctx is cancelled).
func (s *Service) Wait() { s.wg.Wait() }

// nudge wakes the runner without blocking.
func (s *Service) nudge() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// nudgeServices wakes the service scheduler without blocking.
func (s *Service) nudgeServices() {
	select {
	case s.serviceWake <- struct{}{}:
	default:
	}
}

// scope is the account and region a request acts in.
type scope struct {
	account string
	region  string
}

func scopeOf(ctx context.Context) scope {
	c := protocol.RequestFrom(ctx).Caller
	return scope{account: c.AccountID, region: c.Region}
}

// key prefixes a store key with the scope, so accounts and regions never see
// each other's resources.
func (sc scope) key(parts ...string) string {
	k := sc.account + "/" + sc.region + "/"
	for i, p := range parts {
		if i > 0 {
			k += "/"
		}
		k += p
	}
	return k
}
