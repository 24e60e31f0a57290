package ecs

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/kumo-project/kumo/internal/node"
	"github.com/kumo-project/kumo/internal/protocol"
)

// serviceSnapshot is everything the service scheduler decides from: the
// stored service, its tasks (running or stopped) and the time.
type serviceSnapshot struct {
	rec   serviceRecord
	tasks []serviceTask
	now   time.Time
}

// serviceTask is the scheduler's view of one task of a service.
type serviceTask struct {
	id            string
	deploymentID  string // the task's startedBy
	lastStatus    string
	desiredStatus string
	stopCode      string
	stoppedReason string
	// health is the task's container health; hasHealthCheck tells whether
	// any container has a health check at all.
	health         string
	hasHealthCheck bool
	startedAt      time.Time
	// targets is how each target group sees the task; empty when the task
	// is in no target group (yet).
	targets []taskTarget
}

// taskTarget is the health of a task in one target group.
type taskTarget struct {
	targetGroupARN string
	port           int
	state          string
	reason         string
	description    string
}

// servicePlan is what the scheduler does for one service: the service as
// it must be stored, the tasks to start per deployment and to stop.
type servicePlan struct {
	rec     serviceRecord
	changed bool
	start   []taskStart
	stop    []taskStop
}

type taskStart struct {
	deploymentID string
	count        int
}

type taskStop struct {
	taskID string
	reason string
}

// exists tells whether a task still holds resources: it counts toward the
// deployment's maximum until it is STOPPED.
func (t serviceTask) exists() bool { return t.lastStatus != node.StatusStopped }

// live tells whether the task is meant to keep running.
func (t serviceTask) live() bool { return t.desiredStatus == "RUNNING" && t.exists() }

// healthy is what counts toward the minimum healthy percent: RUNNING for
// stableAfter, passing its container health check if it has one, and
// healthy in every target group it belongs to.
func (t serviceTask) healthy(now time.Time) bool {
	if t.lastStatus != node.StatusRunning || now.Sub(t.startedAt) < stableAfter {
		return false
	}
	if t.hasHealthCheck && t.health != node.HealthHealthy {
		return false
	}
	for _, tg := range t.targets {
		if tg.state != targetHealthy {
			return false
		}
	}
	return true
}

// failing tells whether a task fails its container health check or a
// target group's.
func (t serviceTask) failing() bool {
	if t.hasHealthCheck && t.health == node.HealthUnhealthy {
		return true
	}
	for _, tg := range t.targets {
		if tg.state == targetUnhealthy {
			return true
		}
	}
	return false
}

// failed tells whether a stopped task counts against its deployment: it
// stopped for any reason but the scheduler scaling or a user.
func (t serviceTask) failed() bool {
	if t.desiredStatus != "STOPPED" {
		return false
	}
	return t.stopCode != node.StopUserInitiated && !strings.HasPrefix(t.stoppedReason, "Scaling activity initiated by")
}

// stableAfter is how long a task must have run to count as healthy: one
// that exits right after it started must not let old tasks stop or its
// deployment complete, but count against the circuit breaker.
const stableAfter = 3 * time.Second

// decideService is the service scheduler's pure decision for one service.
func decideService(snap serviceSnapshot) servicePlan {
	p := servicePlan{rec: cloneService(snap.rec)}
	if len(p.rec.Service.Deployments) == 0 {
		return p
	}
	d := &decision{plan: &p, snap: snap, stopping: map[string]bool{}}
	d.countFailures()
	d.tripCircuitBreaker()
	d.replaceUnhealthy()
	d.scaleInOldDeployments()
	d.scalePrimary()
	d.reportStops()
	d.settleDeployments()
	p.changed = !sameJSON(snap.rec, p.rec)
	return p
}

// decision carries one decideService run.
type decision struct {
	plan     *servicePlan
	snap     serviceSnapshot
	stopping map[string]bool // tasks this plan stops
	stopped  []string
}

func (d *decision) rec() *serviceRecord { return &d.plan.rec }

// desired is the count the PRIMARY deployment scales to: none once the
// service is being deleted.
func (d *decision) desired() int {
	if d.rec().Service.Status != serviceActive {
		return 0
	}
	return int(d.rec().Service.DesiredCount)
}

// live returns the tasks meant to keep running that this plan does not
// stop, of one deployment or ("") of all.
func (d *decision) live(deploymentID string) []serviceTask {
	var out []serviceTask
	for _, t := range d.snap.tasks {
		if t.live() && !d.stopping[t.id] && (deploymentID == "" || t.deploymentID == deploymentID) {
			out = append(out, t)
		}
	}
	return out
}

func (d *decision) stopTask(t serviceTask, reason string) {
	d.stopping[t.id] = true
	d.stopped = append(d.stopped, t.id)
	d.plan.stop = append(d.plan.stop, taskStop{taskID: t.id, reason: reason})
}

func (d *decision) event(format string, args ...any) {
	addEvent(d.rec(), d.snap.now, format, args...)
}

// countFailures adds the PRIMARY deployment's newly failed tasks to its
// failedTasks, each once.
func (d *decision) countFailures() {
	rec := d.rec()
	primary := rec.primary()
	present := map[string]bool{}
	for _, t := range d.snap.tasks {
		present[t.id] = true
	}
	// Forget tasks that expired from the store.
	rec.Counted = slices.DeleteFunc(rec.Counted, func(id string) bool { return !present[id] })
	failedNow := false
	for _, t := range d.snap.tasks {
		if t.deploymentID != primary.Id || !t.failed() || slices.Contains(rec.Counted, t.id) {
			continue
		}
		rec.Counted = append(rec.Counted, t.id)
		primary.FailedTasks++
		rec.Failures++
		rec.LastFailureAt = d.snap.now
		failedNow = true
		if rec.Failures == 3 {
			d.event("is unable to consistently start tasks successfully.")
		}
	}
	if !failedNow && d.anyHealthy(primary.Id) {
		rec.Failures = 0
	}
}

func (d *decision) anyHealthy(deploymentID string) bool {
	for _, t := range d.live(deploymentID) {
		if t.healthy(d.snap.now) {
			return true
		}
	}
	return false
}

// tripCircuitBreaker fails a deployment in progress whose failed tasks
// reached the threshold, and rolls back to the last completed deployment
// when asked to.
func (d *decision) tripCircuitBreaker() {
	rec := d.rec()
	primary := rec.primary()
	enabled, rollback := circuitBreaker(rec.Service.DeploymentConfiguration)
	if !enabled || primary.RolloutState != rolloutInProgress || int(primary.FailedTasks) < failureThreshold(d.desired()) {
		return
	}
	primary.RolloutState = rolloutFailed
	primary.RolloutStateReason = "ECS deployment circuit breaker: tasks failed to start."
	primary.UpdatedAt = protocol.NewTimestamp(d.snap.now)
	d.event("(deployment %s) deployment failed: tasks failed to start.", primary.Id)
	last := rec.LastCompleted
	if !rollback || last == nil {
		return
	}
	rec.Service.TaskDefinition = last.TaskDefinition
	rec.Service.NetworkConfiguration = last.NetworkConfiguration
	startDeployment(rec, d.snap.now)
	rec.primary().RolloutStateReason = "ECS deployment circuit breaker: rolling back to deploymentId " + last.Id + "."
	d.event("rolling back to deployment %s.", last.Id)
}

// replaceUnhealthy stops running tasks that fail their container health
// check or a target group's health check once the grace period is over;
// the scaling steps then start their replacements.
func (d *decision) replaceUnhealthy() {
	grace := time.Duration(deref(d.rec().Service.HealthCheckGracePeriodSeconds, 0)) * time.Second
	for _, t := range d.live("") {
		if t.lastStatus != node.StatusRunning || d.snap.now.Before(t.startedAt.Add(grace)) {
			continue
		}
		if t.hasHealthCheck && t.health == node.HealthUnhealthy {
			d.event("(task %s) failed container health checks.", t.id)
			d.stopTask(t, reasonContainerHealth)
			continue
		}
		for _, tg := range t.targets {
			if tg.state == targetUnhealthy {
				d.event("(task %s) (port %d) is unhealthy in (target-group %s) due to (reason %s).", t.id, tg.port, tg.targetGroupARN, tg.description)
				d.stopTask(t, elbHealthReason(tg.targetGroupARN))
				break
			}
		}
	}
}

// healthyCount counts the live healthy tasks of every deployment.
func (d *decision) healthyCount() int {
	n := 0
	for _, t := range d.live("") {
		if t.healthy(d.snap.now) {
			n++
		}
	}
	return n
}

// scaleInOldDeployments stops the tasks of older deployments: the ones
// that never ran or fail their health checks at once, the healthy ones
// only while the minimum healthy percent stays met. Running tasks not yet
// healthy may serve already, so they wait until they count. A FAILED
// deployment without rollback keeps the old tasks, as ECS does.
func (d *decision) scaleInOldDeployments() {
	deps := d.rec().Service.Deployments
	if deps[0].RolloutState == rolloutFailed {
		return
	}
	minHealthy, _ := deploymentLimits(d.rec().Service.DeploymentConfiguration, d.desired())
	budget := d.healthyCount() - minHealthy
	reason := scalingReason(deps[0].Id)
	for i := len(deps) - 1; i >= 1; i-- {
		for _, t := range d.live(deps[i].Id) {
			if t.lastStatus != node.StatusRunning || t.failing() {
				d.stopTask(t, reason)
			} else if t.healthy(d.snap.now) && budget > 0 {
				budget--
				d.stopTask(t, reason)
			}
		}
	}
}

// scalePrimary brings the PRIMARY deployment to the desired count: extra
// tasks stop (the ones not yet healthy first), missing ones start as far
// as the maximum percent allows.
func (d *decision) scalePrimary() {
	primary := d.rec().primary()
	desired := d.desired()
	live := d.live(primary.Id)
	reason := scalingReason(primary.Id)
	if len(live) > desired {
		slices.SortStableFunc(live, func(a, b serviceTask) int {
			if a.healthy(d.snap.now) != b.healthy(d.snap.now) {
				if a.healthy(d.snap.now) {
					return 1
				}
				return -1
			}
			return b.startedAt.Compare(a.startedAt)
		})
		for _, t := range live[:len(live)-desired] {
			d.stopTask(t, reason)
		}
		return
	}
	if primary.RolloutState == rolloutFailed || d.snap.now.Before(d.rec().LastFailureAt.Add(launchBackoff(d.rec().Failures))) {
		return
	}
	_, maxTotal := deploymentLimits(d.rec().Service.DeploymentConfiguration, desired)
	existing := 0
	for _, t := range d.snap.tasks {
		if t.exists() {
			existing++
		}
	}
	if n := min(desired-len(live), maxTotal-existing); n > 0 {
		d.plan.start = append(d.plan.start, taskStart{deploymentID: primary.Id, count: n})
	}
}

func (d *decision) reportStops() {
	if len(d.stopped) > 0 {
		d.event("has stopped %d running tasks: %s.", len(d.stopped), taskList(d.stopped))
	}
}

// settleDeployments drops older deployments that have no task left,
// completes the PRIMARY once it alone runs the desired count of healthy
// tasks, reports the steady state, and ends a deleted service's drain.
func (d *decision) settleDeployments() {
	rec := d.rec()
	exists := map[string]int{}
	for _, t := range d.snap.tasks {
		if t.exists() {
			exists[t.deploymentID]++
		}
	}
	deps := rec.Service.Deployments[:1]
	for _, dep := range rec.Service.Deployments[1:] {
		if exists[dep.Id] > 0 {
			dep.DesiredCount = int32(len(d.live(dep.Id)))
			deps = append(deps, dep)
		}
	}
	rec.Service.Deployments = deps
	primary := rec.primary()
	primary.DesiredCount = int32(d.desired())

	if rec.Service.Status == serviceDraining && len(exists) == 0 {
		rec.Service.Status = serviceInactive
		return
	}
	settled := len(deps) == 1 && len(d.plan.start) == 0 && d.allHealthy(primary.Id, d.desired())
	if settled && primary.RolloutState == rolloutInProgress {
		primary.RolloutState = rolloutCompleted
		primary.RolloutStateReason = "ECS deployment " + primary.Id + " completed."
		primary.UpdatedAt = protocol.NewTimestamp(d.snap.now)
		completed := *primary
		rec.LastCompleted = &completed
		d.event("(deployment %s) deployment completed.", primary.Id)
	}
	switch {
	case settled && !rec.Steady && rec.Service.Status == serviceActive:
		rec.Steady = true
		d.event("has reached a steady state.")
	case !settled:
		rec.Steady = false
	}
}

// allHealthy tells whether a deployment has exactly n live tasks, all
// healthy and running for stableAfter, and no other task still stopping.
func (d *decision) allHealthy(deploymentID string, n int) bool {
	live := d.live(deploymentID)
	if len(live) != n {
		return false
	}
	for _, t := range live {
		if !t.healthy(d.snap.now) {
			return false
		}
	}
	for _, t := range d.snap.tasks {
		if t.exists() && !t.live() {
			return false
		}
	}
	return true
}

// cloneService deep-copies a service record, so decide never changes its
// input.
func cloneService(r serviceRecord) serviceRecord {
	var out serviceRecord
	b, _ := json.Marshal(r)
	json.Unmarshal(b, &out)
	return out
}

func sameJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
