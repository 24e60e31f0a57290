package ecs

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/kumo-project/kumo/internal/arn"
	"github.com/kumo-project/kumo/internal/protocol"
	"github.com/kumo-project/kumo/internal/wire/ecswire"
)

// Service statuses.
const (
	serviceActive   = "ACTIVE"
	serviceDraining = "DRAINING"
	serviceInactive = "INACTIVE"
)

// Deployment statuses and rollout states.
const (
	deploymentPrimary  = "PRIMARY"
	deploymentActive   = "ACTIVE"
	rolloutInProgress  = "IN_PROGRESS"
	rolloutCompleted   = "COMPLETED"
	rolloutFailed      = "FAILED"
	statusActivating   = "ACTIVATING"
	statusDeactivating = "DEACTIVATING"
)

// Deployment configuration defaults of a REPLICA service.
const (
	defaultMinimumHealthyPercent = 100
	defaultMaximumPercent        = 200
)

// maxServiceEvents is how many events DescribeServices shows, as ECS does.
const maxServiceEvents = 100

// serviceRecord is a stored service. Service.Deployments holds the
// deployments, the PRIMARY (newest) first; Service.Events the events,
// newest first. Task counts are derived from the tasks when described.
type serviceRecord struct {
	Service ecswire.Service
	Account string
	Region  string
	// Rev grows with every write, so the scheduler only writes over the
	// revision it read.
	Rev uint64
	// Steady is set once the steady state event was sent, until the
	// service changes again.
	Steady bool
	// LastCompleted is the last deployment that reached COMPLETED: the
	// circuit breaker rolls back to it.
	LastCompleted *ecswire.Deployment `json:",omitempty"`
	// Counted lists the stopped tasks already counted as failures of a
	// deployment, so each counts once.
	Counted []string `json:",omitempty"`
	// Failures counts the PRIMARY deployment's tasks that failed since one
	// last was healthy; LastFailureAt is when the last one was counted.
	// They pace launches (see launchBackoff).
	Failures      int       `json:",omitempty"`
	LastFailureAt time.Time `json:",omitempty"`
}

func (r serviceRecord) scope() scope { return scope{account: r.Account, region: r.Region} }

func (r *serviceRecord) primary() *ecswire.Deployment {
	if len(r.Service.Deployments) == 0 {
		return nil
	}
	return &r.Service.Deployments[0]
}

// deploymentLimits are a deployment configuration's percentages applied to
// the desired count: the fewest healthy tasks to keep and the most tasks
// that may exist at once.
func deploymentLimits(cfg *ecswire.DeploymentConfiguration, desired int) (minHealthy, maxTotal int) {
	minPct, maxPct := int32(defaultMinimumHealthyPercent), int32(defaultMaximumPercent)
	if cfg != nil {
		minPct = deref(cfg.MinimumHealthyPercent, minPct)
		maxPct = deref(cfg.MaximumPercent, maxPct)
	}
	// ECS rounds the minimum up and the maximum down.
	minHealthy = int(math.Ceil(float64(desired) * float64(minPct) / 100))
	maxTotal = int(math.Floor(float64(desired) * float64(maxPct) / 100))
	return minHealthy, maxTotal
}

// failureThreshold is how many failed tasks trip the deployment circuit
// breaker: half the desired count, at least 3 and at most 200.
func failureThreshold(desired int) int {
	n := int(math.Ceil(0.5 * float64(desired)))
	return min(max(n, 3), 200)
}

func circuitBreaker(cfg *ecswire.DeploymentConfiguration) (enabled, rollback bool) {
	if cfg == nil || cfg.DeploymentCircuitBreaker == nil {
		return false, false
	}
	return cfg.DeploymentCircuitBreaker.Enable, cfg.DeploymentCircuitBreaker.Rollback
}

// launchBackoff is how long the scheduler waits after the last failed task
// before it starts another, once failures follow each other: none for the
// first two, then 5 s doubling up to 5 minutes, as ECS throttles a service
// that cannot start its tasks.
func launchBackoff(failures int) time.Duration {
	if failures < 3 {
		return 0
	}
	return min(5*time.Second<<min(failures-3, 10), 5*time.Minute)
}

// newDeploymentID makes an ID in ECS's form: ecs-svc/ and 19 digits.
func newDeploymentID() string {
	return fmt.Sprintf("ecs-svc/%019d", rand.Int64N(math.MaxInt64))
}

// newDeployment is a PRIMARY deployment of the service's current settings.
func newDeployment(svc ecswire.Service, now time.Time) ecswire.Deployment {
	ts := protocol.NewTimestamp(now)
	id := newDeploymentID()
	return ecswire.Deployment{
		Id:                   id,
		Status:               deploymentPrimary,
		TaskDefinition:       svc.TaskDefinition,
		DesiredCount:         svc.DesiredCount,
		CreatedAt:            ts,
		UpdatedAt:            ts,
		LaunchType:           svc.LaunchType,
		PlatformVersion:      svc.PlatformVersion,
		PlatformFamily:       svc.PlatformFamily,
		NetworkConfiguration: svc.NetworkConfiguration,
		RolloutState:         rolloutInProgress,
		RolloutStateReason:   "ECS deployment " + id + " in progress.",
	}
}

// startDeployment makes a new PRIMARY deployment; the previous ones become
// ACTIVE and are scaled in as the new one comes up.
func startDeployment(rec *serviceRecord, now time.Time) ecswire.Deployment {
	d := newDeployment(rec.Service, now)
	for i := range rec.Service.Deployments {
		rec.Service.Deployments[i].Status = deploymentActive
	}
	rec.Service.Deployments = append([]ecswire.Deployment{d}, rec.Service.Deployments...)
	rec.Steady = false
	rec.Failures = 0
	return d
}

// addEvent records a service event, newest first, keeping the last 100.
func addEvent(rec *serviceRecord, now time.Time, format string, args ...any) {
	e := ecswire.ServiceEvent{
		Id:        arn.NewUUID(),
		CreatedAt: protocol.NewTimestamp(now),
		Message:   fmt.Sprintf("(service %s) ", rec.Service.ServiceName) + fmt.Sprintf(format, args...),
	}
	rec.Service.Events = append([]ecswire.ServiceEvent{e}, rec.Service.Events...)
	if len(rec.Service.Events) > maxServiceEvents {
		rec.Service.Events = rec.Service.Events[:maxServiceEvents]
	}
}

// taskList is ECS's way of naming tasks in an event: (task a) (task b).
func taskList(ids []string) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = "(task " + id + ")"
	}
	return strings.Join(parts, " ")
}

// scalingReason is the stoppedReason of a task the scheduler stops to
// scale in or replace, as ECS words it.
func scalingReason(deploymentID string) string {
	return "Scaling activity initiated by (deployment " + deploymentID + ")"
}

// Reasons the scheduler stops unhealthy tasks with, as ECS words them.
const reasonContainerHealth = "Task failed container health checks"

func elbHealthReason(targetGroupARN string) string {
	return "Task failed ELB health checks in (target-group " + targetGroupARN + ")"
}
