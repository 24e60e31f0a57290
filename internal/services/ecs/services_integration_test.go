package ecs_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/kumo-project/kumo/internal/kumotest"
)

// createService creates a Fargate service of the given task definition.
func (e *env) createService(t *testing.T, name, taskDef string, desired int32, cfg *types.DeploymentConfiguration) {
	t.Helper()
	_, err := e.ecs.CreateService(kumotest.Context(t, 30*time.Second), &ecs.CreateServiceInput{
		Cluster: aws.String(e.cluster), ServiceName: aws.String(name), TaskDefinition: aws.String(taskDef),
		DesiredCount: aws.Int32(desired), LaunchType: types.LaunchTypeFargate, DeploymentConfiguration: cfg,
		NetworkConfiguration: &types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{Subnets: []string{"subnet-local"}}},
	})
	if err != nil {
		t.Fatalf("create service %s: %v", name, err)
	}
}

// waitStable is `aws ecs wait services-stable` with the SDK's waiter,
// polling faster than the CLI's 15 s.
func (e *env) waitStable(t *testing.T, name string, timeout time.Duration) types.Service {
	t.Helper()
	in := &ecs.DescribeServicesInput{Cluster: aws.String(e.cluster), Services: []string{name}}
	waiter := ecs.NewServicesStableWaiter(e.ecs, func(o *ecs.ServicesStableWaiterOptions) { o.MinDelay, o.MaxDelay = 200*time.Millisecond, time.Second })
	if err := waiter.Wait(context.Background(), in, timeout); err != nil {
		svc := e.service(t, name)
		t.Fatalf("service %s not stable: %v; running %d desired %d\nevents:\n%s", name, err, svc.RunningCount, svc.DesiredCount, serviceEvents(svc))
	}
	return e.service(t, name)
}

// waitCompleted waits until the service runs one COMPLETED deployment
// (the waiter's stable comes a moment before).
func (e *env) waitCompleted(t *testing.T, name string, timeout time.Duration) types.Service {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		svc := e.service(t, name)
		if len(svc.Deployments) == 1 && svc.Deployments[0].RolloutState == types.DeploymentRolloutStateCompleted {
			return svc
		}
		if time.Now().After(deadline) {
			t.Fatalf("service %s never completed its deployment\nevents:\n%s", name, serviceEvents(svc))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (e *env) service(t *testing.T, name string) types.Service {
	t.Helper()
	out, err := e.ecs.DescribeServices(kumotest.Context(t, 10*time.Second), &ecs.DescribeServicesInput{Cluster: aws.String(e.cluster), Services: []string{name}})
	if err != nil || len(out.Services) != 1 {
		t.Fatalf("describe service %s: %v %+v", name, err, out)
	}
	return out.Services[0]
}

func serviceEvents(svc types.Service) string {
	var msgs []string
	for _, ev := range svc.Events {
		msgs = append(msgs, aws.ToString(ev.Message))
	}
	return strings.Join(msgs, "\n")
}

// serviceTasks describes every task of a service that is not STOPPED yet,
// including the ones stopping.
func (e *env) serviceTasks(t *testing.T, name string) []types.Task {
	t.Helper()
	ctx := kumotest.Context(t, 10*time.Second)
	var arns []string
	for _, desired := range []types.DesiredStatus{types.DesiredStatusRunning, types.DesiredStatusStopped} {
		out, err := e.ecs.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String(e.cluster), ServiceName: aws.String(name), DesiredStatus: desired})
		if err != nil {
			t.Fatal(err)
		}
		arns = append(arns, out.TaskArns...)
	}
	var tasks []types.Task
	for len(arns) > 0 {
		batch := arns[:min(len(arns), 100)]
		arns = arns[len(batch):]
		out, err := e.ecs.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(e.cluster), Tasks: batch})
		if err != nil {
			t.Fatal(err)
		}
		for _, task := range out.Tasks {
			if aws.ToString(task.LastStatus) != "STOPPED" {
				tasks = append(tasks, task)
			}
		}
	}
	return tasks
}

// TestServices runs services of real containers against one kumo.
func TestServices(t *testing.T) {
	e := newEnv(t)
	web := app(e, "app")
	web.PortMappings = []types.PortMapping{{ContainerPort: aws.Int32(8080)}}
	web.StopTimeout = aws.Int32(2) // the app runs as PID 1 and ignores SIGTERM
	v1 := e.register(t, "svc", web)
	web.Environment = []types.KeyValuePair{{Name: aws.String("TASK_LABEL"), Value: aws.String("v2")}}
	v2 := e.register(t, "svc", web)
	crashing := e.register(t, "svc", app(e, "app", "exit", "1"))

	// Not parallel: it restarts kumo, before the other cases start.
	t.Run("a service survives kill -9 of kumo with the same tasks", func(t *testing.T) {
		e.createService(t, "survivor", v1, 2, nil)
		e.waitStable(t, "survivor", 90*time.Second)
		e.waitCompleted(t, "survivor", 30*time.Second)
		before := taskARNs(e.serviceTasks(t, "survivor"))
		e.kumo.Kill()
		e.kumo.Restart()
		time.Sleep(2 * time.Second) // a few scheduler passes
		svc := e.waitStable(t, "survivor", 60*time.Second)
		if after := taskARNs(e.serviceTasks(t, "survivor")); after != before || svc.RunningCount != 2 {
			t.Errorf("tasks before the restart %s, after %s (running %d)\nevents:\n%s", before, after, svc.RunningCount, serviceEvents(svc))
		}
		e.deleteService(t, "survivor")
	})

	t.Run("a killed task is replaced within 2 s", func(t *testing.T) {
		t.Parallel()
		e.createService(t, "keep3", v1, 3, nil)
		e.waitStable(t, "keep3", 90*time.Second)
		victim := e.serviceTasks(t, "keep3")[0]
		before := map[string]bool{}
		for _, task := range e.serviceTasks(t, "keep3") {
			before[aws.ToString(task.TaskArn)] = true
		}
		start := time.Now()
		resp, err := http.Get("http://" + privateIP(victim) + ":8080/exit?code=1")
		if err == nil {
			resp.Body.Close()
		}
		var replacedAfter time.Duration
		for time.Since(start) < 10*time.Second && replacedAfter == 0 {
			for _, task := range e.serviceTasks(t, "keep3") {
				if !before[aws.ToString(task.TaskArn)] {
					replacedAfter = time.Since(start)
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		if replacedAfter == 0 || replacedAfter > 2*time.Second {
			t.Errorf("replacement task appeared after %v, want within 2s", replacedAfter)
		}
		svc := e.waitStable(t, "keep3", 60*time.Second)
		if svc.RunningCount != 3 {
			t.Errorf("running %d after the replacement", svc.RunningCount)
		}
		e.deleteService(t, "keep3")
	})

	t.Run("a rolling update respects minimum healthy and maximum percent", func(t *testing.T) {
		t.Parallel()
		// desired 2, min 50% → at least 1 running; max 150% → at most 3 tasks.
		e.createService(t, "roll", v1, 2, &types.DeploymentConfiguration{MinimumHealthyPercent: aws.Int32(50), MaximumPercent: aws.Int32(150)})
		e.waitStable(t, "roll", 90*time.Second)
		if _, err := e.ecs.UpdateService(kumotest.Context(t, 10*time.Second), &ecs.UpdateServiceInput{
			Cluster: aws.String(e.cluster), Service: aws.String("roll"), TaskDefinition: aws.String(v2)}); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(90 * time.Second)
		for time.Now().Before(deadline) {
			tasks := e.serviceTasks(t, "roll")
			running := 0
			for _, task := range tasks {
				if aws.ToString(task.LastStatus) == "RUNNING" && aws.ToString(task.DesiredStatus) == "RUNNING" {
					running++
				}
			}
			if len(tasks) > 3 || running < 1 {
				t.Fatalf("%d tasks (max 3), %d running (min 1)", len(tasks), running)
			}
			svc := e.service(t, "roll")
			if len(svc.Deployments) == 1 && svc.Deployments[0].RolloutState == types.DeploymentRolloutStateCompleted {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		svc := e.waitStable(t, "roll", 30*time.Second)
		if aws.ToString(svc.TaskDefinition) != v2 || svc.Deployments[0].RolloutState != types.DeploymentRolloutStateCompleted {
			t.Fatalf("after the update: %s %s", aws.ToString(svc.TaskDefinition), svc.Deployments[0].RolloutState)
		}
		for _, task := range e.serviceTasks(t, "roll") {
			body := httpGet(t, "http://"+privateIP(task)+":8080/")
			if !strings.Contains(body, `"v2"`) {
				t.Errorf("task answers %s, want the v2 label", body)
			}
		}
		e.deleteService(t, "roll")
	})

	t.Run("a rolling update and scaling through the ALB lose no request", func(t *testing.T) {
		t.Parallel()
		e.rollBehindALB(t, v1, v2)
	})

	t.Run("the circuit breaker rolls back a deployment whose tasks crash", func(t *testing.T) {
		t.Parallel()
		e.createService(t, "breaker", v1, 2, &types.DeploymentConfiguration{
			DeploymentCircuitBreaker: &types.DeploymentCircuitBreaker{Enable: true, Rollback: true}})
		e.waitStable(t, "breaker", 90*time.Second)
		good := e.waitCompleted(t, "breaker", 30*time.Second).Deployments[0]
		if _, err := e.ecs.UpdateService(kumotest.Context(t, 10*time.Second), &ecs.UpdateServiceInput{
			Cluster: aws.String(e.cluster), Service: aws.String("breaker"), TaskDefinition: aws.String(crashing)}); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(120 * time.Second)
		var svc types.Service
		for {
			svc = e.service(t, "breaker")
			if strings.Contains(serviceEvents(svc), "rolling back to deployment "+aws.ToString(good.Id)) {
				break
			}
			if time.Now().After(deadline) {
				d := svc.Deployments[0]
				t.Fatalf("no rollback from %s; service %s, deployment %s %s %s failed %d\nevents:\n%s", aws.ToString(good.Id), aws.ToString(svc.TaskDefinition),
					aws.ToString(d.Id), aws.ToString(d.TaskDefinition), d.RolloutState, d.FailedTasks, serviceEvents(svc))
			}
			time.Sleep(200 * time.Millisecond)
		}
		if !strings.Contains(serviceEvents(svc), "deployment failed: tasks failed to start.") {
			t.Errorf("events:\n%s", serviceEvents(svc))
		}
		svc = e.waitStable(t, "breaker", 90*time.Second)
		if aws.ToString(svc.TaskDefinition) != v1 || svc.RunningCount != 2 {
			t.Errorf("after rollback: %s running %d", aws.ToString(svc.TaskDefinition), svc.RunningCount)
		}
		e.deleteService(t, "breaker")
	})
}

func taskARNs(tasks []types.Task) string {
	var arns []string
	for _, task := range tasks {
		arns = append(arns, aws.ToString(task.TaskArn))
	}
	sort.Strings(arns)
	return strings.Join(arns, " ")
}

// deleteService deletes a service with force and waits until it is
// INACTIVE with no task left.
func (e *env) deleteService(t *testing.T, name string) {
	t.Helper()
	if _, err := e.ecs.DeleteService(kumotest.Context(t, 10*time.Second), &ecs.DeleteServiceInput{
		Cluster: aws.String(e.cluster), Service: aws.String(name), Force: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	waiter := ecs.NewServicesInactiveWaiter(e.ecs, func(o *ecs.ServicesInactiveWaiterOptions) { o.MinDelay, o.MaxDelay = 200*time.Millisecond, time.Second })
	if err := waiter.Wait(context.Background(), &ecs.DescribeServicesInput{Cluster: aws.String(e.cluster), Services: []string{name}}, 90*time.Second); err != nil {
		t.Fatalf("service %s never became INACTIVE: %v", name, err)
	}
	if left := e.serviceTasks(t, name); len(left) != 0 {
		t.Errorf("%d tasks left after deleting %s", len(left), name)
	}
}

// rollBehindALB is the flow: a service of 3 tasks behind an ALB
// listener, then a rolling update and scaling 3 → 1 → 3 while a client
// keeps sending requests through the ALB; not one may fail.
func (e *env) rollBehindALB(t *testing.T, v1, v2 string) {
	ctx := kumotest.Context(t, 5*time.Minute)
	lbs := elb.NewFromConfig(e.kumo.AWSConfig())
	lbOut, err := lbs.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{Name: aws.String("web-alb"), Subnets: []string{"subnet-a", "subnet-b"},
		Type: elbtypes.LoadBalancerTypeEnumApplication})
	if err != nil {
		t.Fatal(err)
	}
	lb := lbOut.LoadBalancers[0]
	tgOut, err := lbs.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{Name: aws.String("web-tg"), Protocol: elbtypes.ProtocolEnumHttp,
		Port: aws.Int32(8080), VpcId: aws.String("vpc-local"), TargetType: elbtypes.TargetTypeEnumIp, HealthCheckPath: aws.String("/health"),
		HealthCheckIntervalSeconds: aws.Int32(5), HealthCheckTimeoutSeconds: aws.Int32(2), HealthyThresholdCount: aws.Int32(2), UnhealthyThresholdCount: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	tg := tgOut.TargetGroups[0].TargetGroupArn
	if _, err := lbs.ModifyTargetGroupAttributes(ctx, &elb.ModifyTargetGroupAttributesInput{TargetGroupArn: tg,
		Attributes: []elbtypes.TargetGroupAttribute{{Key: aws.String("deregistration_delay.timeout_seconds"), Value: aws.String("5")}}}); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	if _, err := lbs.CreateListener(ctx, &elb.CreateListenerInput{LoadBalancerArn: lb.LoadBalancerArn, Protocol: elbtypes.ProtocolEnumHttp,
		Port: aws.Int32(int32(port)), DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: tg}}}); err != nil {
		t.Fatal(err)
	}
	_, err = e.ecs.CreateService(ctx, &ecs.CreateServiceInput{
		Cluster: aws.String(e.cluster), ServiceName: aws.String("alb"), TaskDefinition: aws.String(v1), DesiredCount: aws.Int32(3),
		LaunchType:                    types.LaunchTypeFargate,
		NetworkConfiguration:          &types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{Subnets: []string{"subnet-a"}}},
		LoadBalancers:                 []types.LoadBalancer{{TargetGroupArn: tg, ContainerName: aws.String("app"), ContainerPort: aws.Int32(8080)}},
		HealthCheckGracePeriodSeconds: aws.Int32(30),
		DeploymentConfiguration: &types.DeploymentConfiguration{MinimumHealthyPercent: aws.Int32(50), MaximumPercent: aws.Int32(200),
			DeploymentCircuitBreaker: &types.DeploymentCircuitBreaker{Enable: true, Rollback: true}},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.waitStable(t, "alb", 90*time.Second)
	e.waitCompleted(t, "alb", 90*time.Second)
	url := fmt.Sprintf("http://%s:%d/", *lb.AvailabilityZones[0].LoadBalancerAddresses[0].IpAddress, port)
	if body := albGet(url, *lb.DNSName); !strings.Contains(body, `"hostname"`) {
		t.Fatalf("GET through the ALB: %s", body)
	}

	healthyTargets := func() int {
		health, err := lbs.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: tg})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, d := range health.TargetHealthDescriptions {
			if d.TargetHealth.State == elbtypes.TargetHealthStateEnumHealthy {
				n++
			}
		}
		return n
	}
	update := func(in *ecs.UpdateServiceInput) func() {
		return func() {
			in.Cluster, in.Service = aws.String(e.cluster), aws.String("alb")
			if _, err := e.ecs.UpdateService(ctx, in); err != nil {
				t.Fatal(err)
			}
			e.waitStable(t, "alb", 120*time.Second)
			svc := e.waitCompleted(t, "alb", 120*time.Second)
			// Keep the load on until the tasks that were replaced or scaled
			// in have drained and stopped, and the new ones serve.
			for deadline := time.Now().Add(60 * time.Second); len(e.serviceTasks(t, "alb")) != int(svc.DesiredCount) || healthyTargets() != int(svc.DesiredCount); {
				if time.Now().After(deadline) {
					t.Fatalf("the service never settled at %d healthy targets", svc.DesiredCount)
				}
				time.Sleep(200 * time.Millisecond)
			}
		}
	}
	e.underLoad(t, url, *lb.DNSName, "a rolling update to v2", update(&ecs.UpdateServiceInput{TaskDefinition: aws.String(v2)}))
	if body := albGet(url, *lb.DNSName); !strings.Contains(body, `"v2"`) {
		t.Errorf("after the update the ALB answers %s, want v2", body)
	}
	e.underLoad(t, url, *lb.DNSName, "scaling 3 → 1", update(&ecs.UpdateServiceInput{DesiredCount: aws.Int32(1)}))
	e.underLoad(t, url, *lb.DNSName, "scaling 1 → 3", update(&ecs.UpdateServiceInput{DesiredCount: aws.Int32(3)}))
	e.deleteService(t, "alb")
}

// underLoad runs change while a client sends requests through the ALB;
// not one may fail.
func (e *env) underLoad(t *testing.T, url, host, what string, change func()) {
	t.Helper()
	stop := make(chan struct{})
	type outcome struct {
		sent   int
		report string
	}
	result := make(chan outcome, 1)
	go func() { sent, report := hammer(url, host, stop); result <- outcome{sent, report} }()
	change()
	close(stop)
	out := <-result
	if out.report != "" || out.sent < 20 {
		t.Errorf("%d requests through the ALB during %s: %s\nevents:\n%s", out.sent, what, out.report, serviceEvents(e.service(t, "alb")))
	} else {
		t.Logf("%d requests through the ALB during %s, none failed", out.sent, what)
	}
}

// hammer sends requests through the ALB until stop (at most 20,000, at
// most 5 minutes); it returns how many it sent and describes the failures,
// "" when there were none.
func hammer(url, host string, stop <-chan struct{}) (int, string) {
	client := &http.Client{Timeout: 5 * time.Second}
	sent, failed := 0, 0
	var first string
	deadline := time.Now().Add(5 * time.Minute)
	for ; sent < 20000 && time.Now().Before(deadline); sent++ {
		select {
		case <-stop:
			if failed == 0 {
				return sent, ""
			}
			return sent, fmt.Sprintf("%d of %d failed, first: %s", failed, sent, first)
		case <-time.After(5 * time.Millisecond):
		}
		req, _ := http.NewRequest("GET", url, nil)
		req.Host = host
		resp, err := client.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
		}
		if err != nil {
			failed++
			if first == "" {
				first = err.Error()
			}
		}
	}
	return sent, fmt.Sprintf("the rolling update outlasted %d requests (%d failed)", sent, failed)
}

func albGet(url, host string) string {
	req, _ := http.NewRequest("GET", url, nil)
	req.Host = host
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return fmt.Sprintf("%d %s", resp.StatusCode, b)
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
