package ecs

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kumo-project/kumo/internal/node"
	"github.com/kumo-project/kumo/internal/wire/ecswire"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// testService is a service "web" whose PRIMARY deployment is "d-new",
// with older deployments after it.
func testService(desired, minPct, maxPct int32, older ...string) serviceRecord {
	svc := ecswire.Service{
		ServiceName: "web", Status: serviceActive, DesiredCount: desired, TaskDefinition: "web:2",
		DeploymentConfiguration: &ecswire.DeploymentConfiguration{MinimumHealthyPercent: &minPct, MaximumPercent: &maxPct},
		Deployments:             []ecswire.Deployment{{Id: "d-new", Status: deploymentPrimary, TaskDefinition: "web:2", RolloutState: rolloutInProgress}},
	}
	for _, id := range older {
		svc.Deployments = append(svc.Deployments, ecswire.Deployment{Id: id, Status: deploymentActive, TaskDefinition: "web:1", RolloutState: rolloutCompleted})
	}
	return serviceRecord{Service: svc}
}

func healthyTask(id, deployment string) serviceTask {
	return serviceTask{id: id, deploymentID: deployment, lastStatus: node.StatusRunning, desiredStatus: "RUNNING", startedAt: t0.Add(-time.Hour)}
}

func tasksOf(deployment string, n int) []serviceTask {
	var out []serviceTask
	for i := 0; i < n; i++ {
		out = append(out, healthyTask(fmt.Sprintf("%s-%d", deployment, i), deployment))
	}
	return out
}

func started(p servicePlan) int {
	n := 0
	for _, s := range p.start {
		n += s.count
	}
	return n
}

func eventMessages(rec serviceRecord) string {
	var msgs []string
	for _, e := range rec.Service.Events {
		msgs = append(msgs, e.Message)
	}
	return strings.Join(msgs, "\n")
}

func TestDeploymentLimits(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name                  string
		desired, minPct, maxP int32
		wantMin, wantMax      int
	}{
		{"digest example: desired 4, min 50%, max 200%", 4, 50, 200, 2, 8},
		{"defaults 100/200", 3, 100, 200, 3, 6},
		{"minimum rounds up", 3, 50, 200, 2, 6},
		{"maximum rounds down", 3, 100, 150, 3, 4},
		{"zero desired", 0, 100, 200, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := &ecswire.DeploymentConfiguration{MinimumHealthyPercent: &c.minPct, MaximumPercent: &c.maxP}
			gotMin, gotMax := deploymentLimits(cfg, int(c.desired))
			if gotMin != c.wantMin || gotMax != c.wantMax {
				t.Errorf("limits = %d, %d; want %d, %d", gotMin, gotMax, c.wantMin, c.wantMax)
			}
		})
	}
}

func TestFailureThreshold(t *testing.T) {
	t.Parallel()
	for desired, want := range map[int]int{0: 3, 1: 3, 6: 3, 7: 4, 10: 5, 25: 13, 400: 200, 1000: 200} {
		if got := failureThreshold(desired); got != want {
			t.Errorf("failureThreshold(%d) = %d, want %d", desired, got, want)
		}
	}
}

func TestLaunchBackoff(t *testing.T) {
	t.Parallel()
	for failures, want := range map[int]time.Duration{0: 0, 2: 0, 3: 5 * time.Second, 4: 10 * time.Second, 9: 5 * time.Minute, 1000: 5 * time.Minute} {
		if got := launchBackoff(failures); got != want {
			t.Errorf("launchBackoff(%d) = %v, want %v", failures, got, want)
		}
	}
}

func TestDecideServiceBacksOffAfterRepeatedFailures(t *testing.T) {
	t.Parallel()
	failed := func(id string) serviceTask {
		return serviceTask{id: id, deploymentID: "d-new", lastStatus: node.StatusStopped, desiredStatus: "STOPPED", stopCode: node.StopEssentialContainerExited}
	}
	rec := testService(2, 100, 200)
	tasks := []serviceTask{failed("f1"), failed("f2")}
	p := decideService(serviceSnapshot{rec: rec, tasks: tasks, now: t0})
	if started(p) != 2 || p.rec.Failures != 2 {
		t.Fatalf("after 2 failures: started %d, failures %d", started(p), p.rec.Failures)
	}
	tasks = append(tasks, failed("f3"))
	p = decideService(serviceSnapshot{rec: p.rec, tasks: tasks, now: t0.Add(time.Second)})
	if started(p) != 0 || !strings.Contains(eventMessages(p.rec), "(service web) is unable to consistently start tasks successfully.") {
		t.Fatalf("third failure: started %d\n%s", started(p), eventMessages(p.rec))
	}
	p = decideService(serviceSnapshot{rec: p.rec, tasks: tasks, now: t0.Add(7 * time.Second)})
	if started(p) != 2 {
		t.Fatalf("after the 5 s backoff: started %d", started(p))
	}
	p = decideService(serviceSnapshot{rec: p.rec, tasks: append(tasks, tasksOf("d-new", 1)...), now: t0.Add(8 * time.Second)})
	if p.rec.Failures != 0 {
		t.Errorf("a healthy task keeps failures at %d", p.rec.Failures)
	}
}

func TestDecideService(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		rec       serviceRecord
		tasks     []serviceTask
		wantStart int
		wantStop  []string // task IDs
		wantEvent string   // substring of the events
		check     func(t *testing.T, p servicePlan)
	}{
		{
			name: "a new service starts its desired count", rec: testService(3, 100, 200),
			wantStart: 3,
		},
		{
			name: "all healthy: the deployment completes and the service is steady", rec: testService(3, 100, 200),
			tasks:     tasksOf("d-new", 3),
			wantEvent: "(service web) has reached a steady state.",
			check: func(t *testing.T, p servicePlan) {
				if p.rec.primary().RolloutState != rolloutCompleted || p.rec.LastCompleted == nil || !p.rec.Steady {
					t.Errorf("primary %+v, lastCompleted %v", p.rec.primary(), p.rec.LastCompleted)
				}
				if !strings.Contains(eventMessages(p.rec), "(service web) (deployment d-new) deployment completed.") {
					t.Errorf("events: %s", eventMessages(p.rec))
				}
				again := decideService(serviceSnapshot{rec: p.rec, tasks: tasksOf("d-new", 3), now: t0.Add(time.Second)})
				if again.changed || len(again.start) > 0 || len(again.stop) > 0 {
					t.Errorf("a steady service changed on the next pass: %+v", again)
				}
			},
		},
		{
			name: "tasks that just started do not complete the deployment yet", rec: testService(1, 100, 200),
			tasks: []serviceTask{{id: "fresh", deploymentID: "d-new", lastStatus: node.StatusRunning, desiredStatus: "RUNNING", startedAt: t0.Add(-time.Second)}},
			check: func(t *testing.T, p servicePlan) {
				if p.rec.primary().RolloutState != rolloutInProgress || p.rec.Steady {
					t.Errorf("rollout %s steady %v", p.rec.primary().RolloutState, p.rec.Steady)
				}
			},
		},
		{
			name: "a crashed task is replaced", rec: testService(3, 100, 200),
			tasks: append(tasksOf("d-new", 2), serviceTask{id: "dead", deploymentID: "d-new", lastStatus: node.StatusStopped, desiredStatus: "STOPPED",
				stopCode: node.StopEssentialContainerExited}),
			wantStart: 1,
			check: func(t *testing.T, p servicePlan) {
				if p.rec.primary().FailedTasks != 1 || len(p.rec.Counted) != 1 {
					t.Errorf("failedTasks %d counted %v", p.rec.primary().FailedTasks, p.rec.Counted)
				}
			},
		},
		{
			name: "digest example: desired 4, min 50%, max 200% starts 4 new and stops 2 old at once", rec: testService(4, 50, 200, "d-old"),
			tasks:     tasksOf("d-old", 4),
			wantStart: 4, wantStop: []string{"d-old-0", "d-old-1"},
			wantEvent: "(service web) has stopped 2 running tasks: (task d-old-0) (task d-old-1).",
		},
		{
			name: "old tasks that run but are not healthy yet keep serving", rec: testService(2, 0, 200, "d-old"),
			tasks: []serviceTask{
				{id: "o1", deploymentID: "d-old", lastStatus: node.StatusRunning, desiredStatus: "RUNNING", startedAt: t0.Add(-time.Second)},
				{id: "o2", deploymentID: "d-old", lastStatus: node.StatusPending, desiredStatus: "RUNNING"},
			},
			wantStart: 2, wantStop: []string{"o2"},
		},
		{
			name: "min 100%: old tasks keep running until new ones are healthy", rec: testService(4, 100, 200, "d-old"),
			tasks:     tasksOf("d-old", 4),
			wantStart: 4,
		},
		{
			name: "new tasks not yet healthy do not let old ones stop", rec: testService(2, 100, 200, "d-old"),
			tasks: append(tasksOf("d-old", 2),
				serviceTask{id: "n1", deploymentID: "d-new", lastStatus: statusActivating, desiredStatus: "RUNNING"},
				serviceTask{id: "n2", deploymentID: "d-new", lastStatus: node.StatusRunning, desiredStatus: "RUNNING", hasHealthCheck: true, health: node.HealthUnknown}),
		},
		{
			name: "healthy new tasks let old ones stop", rec: testService(2, 100, 200, "d-old"),
			tasks:    append(tasksOf("d-old", 2), tasksOf("d-new", 2)...),
			wantStop: []string{"d-old-0", "d-old-1"},
		},
		{
			name: "scale in stops tasks not yet healthy first", rec: testService(1, 100, 200),
			tasks: append(tasksOf("d-new", 2),
				serviceTask{id: "pending", deploymentID: "d-new", lastStatus: node.StatusPending, desiredStatus: "RUNNING"}),
			wantStop: []string{"pending", "d-new-0"},
		},
		{
			name: "container health check failure after the grace period stops the task",
			rec: func() serviceRecord {
				r := testService(2, 100, 200)
				r.Service.HealthCheckGracePeriodSeconds = int32Ptr(60)
				return r
			}(),
			tasks: []serviceTask{
				{id: "sick", deploymentID: "d-new", lastStatus: node.StatusRunning, desiredStatus: "RUNNING", hasHealthCheck: true, health: node.HealthUnhealthy, startedAt: t0.Add(-2 * time.Minute)},
				{id: "young", deploymentID: "d-new", lastStatus: node.StatusRunning, desiredStatus: "RUNNING", hasHealthCheck: true, health: node.HealthUnhealthy, startedAt: t0.Add(-30 * time.Second)},
			},
			wantStop:  []string{"sick"},
			wantEvent: "(service web) (task sick) failed container health checks.",
			wantStart: 1, // the replacement; "young" is still in its grace period
			check: func(t *testing.T, p servicePlan) {
				if p.stop[0].reason != "Task failed container health checks" {
					t.Errorf("reason %q", p.stop[0].reason)
				}
			},
		},
		{
			name: "a target group's unhealthy verdict stops the task", rec: testService(1, 100, 200),
			tasks: []serviceTask{{id: "t1", deploymentID: "d-new", lastStatus: node.StatusRunning, desiredStatus: "RUNNING", startedAt: t0.Add(-time.Minute),
				targets: []taskTarget{{targetGroupARN: "tg-arn", port: 8080, state: targetUnhealthy, description: "Health checks failed"}}}},
			wantStop:  []string{"t1"},
			wantStart: 1,
			wantEvent: "(service web) (task t1) (port 8080) is unhealthy in (target-group tg-arn) due to (reason Health checks failed).",
			check: func(t *testing.T, p servicePlan) {
				if p.stop[0].reason != "Task failed ELB health checks in (target-group tg-arn)" {
					t.Errorf("reason %q", p.stop[0].reason)
				}
			},
		},
		{
			name: "a draining service turns INACTIVE once its tasks stopped",
			rec: func() serviceRecord {
				r := testService(0, 100, 200)
				r.Service.Status = serviceDraining
				return r
			}(),
			tasks: []serviceTask{{id: "gone", deploymentID: "d-new", lastStatus: node.StatusStopped, desiredStatus: "STOPPED", stoppedReason: scalingReason("d-new")}},
			check: func(t *testing.T, p servicePlan) {
				if p.rec.Service.Status != serviceInactive {
					t.Errorf("status %s", p.rec.Service.Status)
				}
			},
		},
		{
			name: "a draining service stops every task", rec: func() serviceRecord {
				r := testService(3, 100, 200)
				r.Service.Status = serviceDraining
				return r
			}(),
			tasks:    tasksOf("d-new", 2),
			wantStop: []string{"d-new-0", "d-new-1"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := eventMessages(c.rec)
			p := decideService(serviceSnapshot{rec: c.rec, tasks: c.tasks, now: t0})
			if got := started(p); got != c.wantStart {
				t.Errorf("started %d, want %d", got, c.wantStart)
			}
			var stopped []string
			for _, s := range p.stop {
				stopped = append(stopped, s.taskID)
			}
			if strings.Join(stopped, ",") != strings.Join(c.wantStop, ",") {
				t.Errorf("stopped %v, want %v", stopped, c.wantStop)
			}
			if !strings.Contains(eventMessages(p.rec), c.wantEvent) {
				t.Errorf("events:\n%s\nwant %q", eventMessages(p.rec), c.wantEvent)
			}
			if eventMessages(c.rec) != before {
				t.Errorf("decide changed its input")
			}
			if c.check != nil {
				c.check(t, p)
			}
		})
	}
}

func TestCircuitBreaker(t *testing.T) {
	t.Parallel()
	failed := func(id string) serviceTask {
		return serviceTask{id: id, deploymentID: "d-new", lastStatus: node.StatusStopped, desiredStatus: "STOPPED", stopCode: node.StopEssentialContainerExited}
	}
	breaker := func(rollback bool) serviceRecord {
		r := testService(2, 100, 200, "d-old")
		r.Service.DeploymentConfiguration.DeploymentCircuitBreaker = &ecswire.DeploymentCircuitBreaker{Enable: true, Rollback: rollback}
		last := r.Service.Deployments[1]
		r.LastCompleted = &last
		return r
	}
	t.Run("below the threshold the deployment keeps trying", func(t *testing.T) {
		t.Parallel()
		p := decideService(serviceSnapshot{rec: breaker(true), tasks: append(tasksOf("d-old", 2), failed("f1"), failed("f2")), now: t0})
		if p.rec.primary().Id != "d-new" || p.rec.primary().RolloutState != rolloutInProgress || p.rec.primary().FailedTasks != 2 || started(p) != 2 {
			t.Errorf("primary %+v, started %d", p.rec.primary(), started(p))
		}
	})
	t.Run("at the threshold it rolls back to the last completed deployment", func(t *testing.T) {
		t.Parallel()
		p := decideService(serviceSnapshot{rec: breaker(true), tasks: append(tasksOf("d-old", 2), failed("f1"), failed("f2"), failed("f3")), now: t0})
		// The failed deployment has no task left, so it leaves the list.
		deps := p.rec.Service.Deployments
		if len(deps) != 2 || deps[0].TaskDefinition != "web:1" || deps[0].Status != deploymentPrimary || deps[1].Id != "d-old" {
			t.Fatalf("deployments: %+v", deps)
		}
		if deps[0].RolloutStateReason != "ECS deployment circuit breaker: rolling back to deploymentId d-old." {
			t.Errorf("reason %q", deps[0].RolloutStateReason)
		}
		ev := eventMessages(p.rec)
		for _, want := range []string{"(service web) (deployment d-new) deployment failed: tasks failed to start.", "(service web) rolling back to deployment d-old."} {
			if !strings.Contains(ev, want) {
				t.Errorf("events:\n%s\nwant %q", ev, want)
			}
		}
		if p.rec.Service.TaskDefinition != "web:1" || started(p) != 2 || p.start[0].deploymentID != deps[0].Id {
			t.Errorf("service task definition %s, starts %+v", p.rec.Service.TaskDefinition, p.start)
		}
	})
	t.Run("without rollback the failed deployment stops launching", func(t *testing.T) {
		t.Parallel()
		p := decideService(serviceSnapshot{rec: breaker(false), tasks: append(tasksOf("d-old", 2), failed("f1"), failed("f2"), failed("f3")), now: t0})
		if p.rec.primary().Id != "d-new" || p.rec.primary().RolloutState != rolloutFailed || started(p) != 0 || len(p.stop) != 0 {
			t.Errorf("primary %+v, started %d, stops %v", p.rec.primary(), started(p), p.stop)
		}
	})
	t.Run("tasks the scheduler stopped are not failures", func(t *testing.T) {
		t.Parallel()
		scaled := failed("s1")
		scaled.stopCode, scaled.stoppedReason = node.StopServiceSchedulerInitiated, scalingReason("d-new")
		p := decideService(serviceSnapshot{rec: breaker(true), tasks: []serviceTask{scaled}, now: t0})
		if p.rec.primary().FailedTasks != 0 {
			t.Errorf("failedTasks %d", p.rec.primary().FailedTasks)
		}
	})
}

// TestRollingUpdateRespectsLimits plays whole rolling updates step by step:
// started tasks become healthy one step later, stopped tasks are gone one
// step later. At every step the healthy tasks stay at or above the minimum
// and all tasks at or below the maximum, and the update ends with only new
// tasks.
func TestRollingUpdateRespectsLimits(t *testing.T) {
	t.Parallel()
	cases := []struct{ desired, minPct, maxPct int32 }{
		{4, 50, 200}, {4, 100, 200}, {4, 0, 100}, {4, 75, 125}, {3, 50, 150}, {1, 100, 200}, {1, 0, 100}, {10, 90, 110},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("desired %d min %d%% max %d%%", c.desired, c.minPct, c.maxPct), func(t *testing.T) {
			t.Parallel()
			rec := testService(c.desired, c.minPct, c.maxPct, "d-old")
			tasks := tasksOf("d-old", int(c.desired))
			minHealthy, maxTotal := deploymentLimits(rec.Service.DeploymentConfiguration, int(c.desired))
			next := 0
			for step := 0; step < 50; step++ {
				p := decideService(serviceSnapshot{rec: rec, tasks: tasks, now: t0})
				rec = p.rec
				if rec.primary().RolloutState == rolloutCompleted {
					for _, task := range tasks {
						if task.live() && task.deploymentID != "d-new" {
							t.Fatalf("completed with old task %s live", task.id)
						}
					}
					return
				}
				tasks = advance(tasks, p, &next)
				healthy, existing := 0, 0
				for _, task := range tasks {
					if task.live() && task.healthy(t0) {
						healthy++
					}
					if task.exists() {
						existing++
					}
				}
				if healthy < minHealthy || existing > maxTotal {
					t.Fatalf("step %d: %d healthy (min %d), %d tasks (max %d)", step, healthy, minHealthy, existing, maxTotal)
				}
			}
			t.Fatalf("rolling update never completed")
		})
	}
}

// advance applies a plan and one step of time: pending tasks become
// healthy, stopping tasks stop, stops take effect, new tasks are pending.
func advance(tasks []serviceTask, p servicePlan, next *int) []serviceTask {
	var out []serviceTask
	for _, t := range tasks {
		switch {
		case t.desiredStatus == "STOPPED":
			t.lastStatus = node.StatusStopped
		case t.lastStatus == node.StatusPending:
			t.lastStatus = node.StatusRunning
		}
		for _, s := range p.stop {
			if s.taskID == t.id {
				t.desiredStatus, t.stoppedReason, t.stopCode = "STOPPED", s.reason, node.StopServiceSchedulerInitiated
			}
		}
		out = append(out, t)
	}
	for _, s := range p.start {
		for i := 0; i < s.count; i++ {
			*next++
			out = append(out, serviceTask{id: fmt.Sprintf("new-%d", *next), deploymentID: s.deploymentID, lastStatus: node.StatusPending, desiredStatus: "RUNNING"})
		}
	}
	return out
}

func TestDecideTarget(t *testing.T) {
	t.Parallel()
	lb := []ecswire.LoadBalancer{{TargetGroupArn: "tg", ContainerName: "app", ContainerPort: int32Ptr(8080)}}
	task := func(last, desired string) taskRecord {
		return taskRecord{Task: ecswire.Task{LastStatus: last, DesiredStatus: desired}, LoadBalancers: lb}
	}
	cases := []struct {
		name     string
		rec      taskRecord
		draining bool
		want     targetAction
	}{
		{"no load balancers", taskRecord{Task: ecswire.Task{LastStatus: statusActivating, DesiredStatus: "RUNNING"}}, false, targetNone},
		{"activating registers", task(statusActivating, "RUNNING"), false, targetRegister},
		{"pending waits", task(node.StatusPending, "RUNNING"), false, targetNone},
		{"draining deregisters first", func() taskRecord {
			r := task(statusDeactivating, "STOPPED")
			r.Registered, r.Draining = true, true
			return r
		}(), false, targetDeregister},
		{"draining waits for the delay", func() taskRecord {
			r := task(statusDeactivating, "STOPPED")
			r.Registered, r.Draining, r.DrainStartedAt = true, true, t0.Add(-10*time.Second)
			return r
		}(), true, targetNone},
		{"drained lets the task stop", func() taskRecord {
			r := task(statusDeactivating, "STOPPED")
			r.Registered, r.Draining, r.DrainStartedAt = true, true, t0.Add(-10*time.Second)
			return r
		}(), false, targetDrained},
		{"a drain ELBv2 never ends is cut after an hour", func() taskRecord {
			r := task(statusDeactivating, "STOPPED")
			r.Registered, r.Draining, r.DrainStartedAt = true, true, t0.Add(-2*time.Hour)
			return r
		}(), true, targetDrained},
		{"a crashed registered task leaves at once", func() taskRecord { r := task(node.StatusStopped, "STOPPED"); r.Registered = true; return r }(), false, targetForget},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := decideTarget(c.rec, c.draining, t0); got != c.want {
				t.Errorf("decideTarget = %d, want %d", got, c.want)
			}
		})
	}
}

func TestTargetOf(t *testing.T) {
	t.Parallel()
	lb := ecswire.LoadBalancer{TargetGroupArn: "tg", ContainerName: "app", ContainerPort: int32Ptr(8080)}
	cases := []struct {
		name   string
		rec    taskRecord
		want   Target
		wantOK bool
	}{
		{"awsvpc: the task IP and the container port", taskRecord{Spec: node.TaskSpec{NetworkMode: node.NetworkAWSVPC},
			Task: ecswire.Task{Attachments: []ecswire.Attachment{{Details: []ecswire.KeyValuePair{{Name: "privateIPv4Address", Value: new("10.9.0.7")}}}}}},
			Target{ID: "10.9.0.7", Port: 8080}, true},
		{"awsvpc before the node gave an IP", taskRecord{Spec: node.TaskSpec{NetworkMode: node.NetworkAWSVPC}}, Target{}, false},
		{"bridge: loopback and the published host port", taskRecord{Spec: node.TaskSpec{NetworkMode: node.NetworkBridge},
			Task: ecswire.Task{Containers: []ecswire.Container{{Name: "app", NetworkBindings: []ecswire.NetworkBinding{
				{ContainerPort: int32Ptr(9000), HostPort: int32Ptr(32001)}, {ContainerPort: int32Ptr(8080), HostPort: int32Ptr(32002)}}}}}},
			Target{ID: "127.0.0.1", Port: 32002}, true},
		{"host: loopback and the container port", taskRecord{Spec: node.TaskSpec{NetworkMode: node.NetworkHost}}, Target{ID: "127.0.0.1", Port: 8080}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := targetOf(c.rec, lb)
			if got != c.want || ok != c.wantOK {
				t.Errorf("targetOf = %+v %v, want %+v %v", got, ok, c.want, c.wantOK)
			}
		})
	}
}

func TestControlPlaneStatus(t *testing.T) {
	t.Parallel()
	lb := []ecswire.LoadBalancer{{TargetGroupArn: "tg"}}
	cases := []struct {
		name string
		rec  taskRecord
		node string
		want string
	}{
		{"a task without load balancers is as the node says", taskRecord{}, node.StatusRunning, node.StatusRunning},
		{"running but not yet in its target groups is ACTIVATING", taskRecord{LoadBalancers: lb}, node.StatusRunning, statusActivating},
		{"registered is RUNNING", taskRecord{LoadBalancers: lb, Registered: true}, node.StatusRunning, node.StatusRunning},
		{"draining is DEACTIVATING", taskRecord{LoadBalancers: lb, Registered: true, Draining: true}, node.StatusRunning, statusDeactivating},
		{"the node's stop wins", taskRecord{LoadBalancers: lb, Registered: true, Draining: true}, node.StatusStopping, node.StatusStopping},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := controlPlaneStatus(&c.rec, c.node); got != c.want {
				t.Errorf("controlPlaneStatus = %s, want %s", got, c.want)
			}
		})
	}
}
