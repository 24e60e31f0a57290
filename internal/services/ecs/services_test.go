package ecs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/kumo-project/kumo/internal/node"
)

// journal records, in order, what the node and the load balancer were
// asked to do, so tests can check that a target left before its task
// stopped.
type journal struct {
	mu      sync.Mutex
	entries []string
}

func (j *journal) add(format string, args ...any) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.entries = append(j.entries, fmt.Sprintf(format, args...))
}

func (j *journal) index(entry string) int {
	j.mu.Lock()
	defer j.mu.Unlock()
	for i, e := range j.entries {
		if e == entry {
			return i
		}
	}
	return -1
}

// autoNode is a fake node that runs every task at once: it reports the
// task RUNNING with an IP, and STOPPED when asked to stop. Tasks of
// crashRevision exit right after they start.
type autoNode struct {
	*fakeNode
	journal       *journal
	crashRevision int

	mu  sync.Mutex
	seq uint64
	ips map[string]string
}

func newAutoNode(j *journal) *autoNode {
	fn := newFakeNode()
	fn.updates = make(chan node.TaskStatus, 10000)
	return &autoNode{fakeNode: fn, journal: j, ips: map[string]string{}}
}

func (n *autoNode) send(st node.TaskStatus) {
	n.mu.Lock()
	n.seq++
	st.Seq = n.seq
	st.PrivateIPv4 = n.ips[st.TaskID]
	n.mu.Unlock()
	n.updates <- st
}

func (n *autoNode) RunTask(ctx context.Context, spec node.TaskSpec) error {
	n.fakeNode.RunTask(ctx, spec)
	n.mu.Lock()
	n.ips[spec.TaskID] = fmt.Sprintf("10.9.%d.%d", len(n.ips)/250, len(n.ips)%250+2)
	n.mu.Unlock()
	var cs []node.ContainerStatus
	for _, c := range spec.Containers {
		st := node.ContainerStatus{Name: c.Name, Status: node.StatusRunning}
		if c.HealthCheck != nil {
			st.HealthStatus = node.HealthUnknown
		}
		cs = append(cs, st)
	}
	n.send(node.TaskStatus{TaskID: spec.TaskID, Status: node.StatusRunning, StartedAt: time.Now(), Containers: cs})
	if spec.Revision == n.crashRevision {
		n.send(node.TaskStatus{TaskID: spec.TaskID, Status: node.StatusStopped, StopCode: node.StopEssentialContainerExited,
			StoppedReason: "Essential container in task exited", StoppedAt: time.Now()})
	}
	return nil
}

func (n *autoNode) StopTask(ctx context.Context, id, reason string) error {
	n.fakeNode.StopTask(ctx, id, reason)
	n.journal.add("stop %s", n.ip(id))
	n.send(node.TaskStatus{TaskID: id, Status: node.StatusStopped, StoppedAt: time.Now()})
	return nil
}

// crash makes a task's essential container exit.
func (n *autoNode) crash(id string) {
	n.send(node.TaskStatus{TaskID: id, Status: node.StatusStopped, StopCode: node.StopEssentialContainerExited,
		StoppedReason: "Essential container in task exited", StoppedAt: time.Now()})
}

// unhealthy makes a running task fail its container health check.
func (n *autoNode) unhealthy(id, container string) {
	n.send(node.TaskStatus{TaskID: id, Status: node.StatusRunning, StartedAt: time.Now().Add(-time.Minute), HealthStatus: node.HealthUnhealthy,
		Containers: []node.ContainerStatus{{Name: container, Status: node.StatusRunning, HealthStatus: node.HealthUnhealthy}}})
}

func (n *autoNode) ip(id string) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.ips[id]
}

// fakeLB is a target group store: registered targets are healthy at once,
// deregistered ones drain for drainFor.
type fakeLB struct {
	journal  *journal
	drainFor time.Duration

	mu     sync.Mutex
	groups map[string]map[Target]*fakeTarget
}

type fakeTarget struct {
	state       string
	drainedAt   time.Time
	description string
}

func newFakeLB(j *journal, groups ...string) *fakeLB {
	lb := &fakeLB{journal: j, drainFor: 200 * time.Millisecond, groups: map[string]map[Target]*fakeTarget{}}
	for _, g := range groups {
		lb.groups[g] = map[Target]*fakeTarget{}
	}
	return lb
}

func (lb *fakeLB) RegisterTargets(_ context.Context, tg string, targets []Target) error {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	group, ok := lb.groups[tg]
	if !ok {
		return errors.New("target group not found")
	}
	for _, t := range targets {
		group[t] = &fakeTarget{state: targetHealthy}
		lb.journal.add("register %s", t.ID)
	}
	return nil
}

func (lb *fakeLB) DeregisterTargets(_ context.Context, tg string, targets []Target) error {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	for _, t := range targets {
		if ft, ok := lb.groups[tg][t]; ok {
			ft.state, ft.drainedAt = targetDraining, time.Now().Add(lb.drainFor)
		}
		lb.journal.add("deregister %s", t.ID)
	}
	return nil
}

func (lb *fakeLB) TargetHealth(_ context.Context, tg string, targets []Target) ([]TargetHealth, error) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	group, ok := lb.groups[tg]
	if !ok {
		return nil, errors.New("target group not found")
	}
	var out []TargetHealth
	for _, t := range targets {
		ft, ok := group[t]
		if ok && ft.state == targetDraining && time.Now().After(ft.drainedAt) {
			delete(group, t)
			ok = false
		}
		if !ok {
			out = append(out, TargetHealth{Target: t, State: "unused", Reason: "Target.NotRegistered"})
			continue
		}
		out = append(out, TargetHealth{Target: t, State: ft.state, Description: ft.description})
	}
	return out, nil
}

// serving lists the targets that get traffic.
func (lb *fakeLB) serving(tg string) []string {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	var ips []string
	for t, ft := range lb.groups[tg] {
		if ft.state == targetHealthy {
			ips = append(ips, t.ID)
		}
	}
	return ips
}

func (lb *fakeLB) setState(tg, ip, state, description string) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	for t, ft := range lb.groups[tg] {
		if t.ID == ip {
			ft.state, ft.description = state, description
		}
	}
}

const testTG = "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/web-tg/0123456789abcdef"

// serviceEnv is the ECS API on an auto-running node and a fake ELBv2.
type serviceEnv struct {
	*apiEnv
	auto *autoNode
	lb   *fakeLB
	j    *journal
}

func newServiceEnv(t *testing.T) *serviceEnv {
	t.Helper()
	j := &journal{}
	auto := newAutoNode(j)
	lb := newFakeLB(j, testTG)
	e := &serviceEnv{apiEnv: newAPIEnvWith(t, auto, lb), auto: auto, lb: lb, j: j}
	ctx := context.Background()
	if _, err := e.client.CreateCluster(ctx, &awsecs.CreateClusterInput{ClusterName: aws.String("dev")}); err != nil {
		t.Fatal(err)
	}
	for rev := 1; rev <= 2; rev++ {
		app := types.ContainerDefinition{Name: aws.String("app"), Image: aws.String("testapp"),
			PortMappings: []types.PortMapping{{ContainerPort: aws.Int32(8080)}},
			Environment:  []types.KeyValuePair{{Name: aws.String("REV"), Value: aws.String(fmt.Sprint(rev))}}}
		if _, err := e.client.RegisterTaskDefinition(ctx, fargateTaskDef("web", app)); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func (e *serviceEnv) createService(t *testing.T, name string, desired int32, edit func(*awsecs.CreateServiceInput)) types.Service {
	t.Helper()
	in := &awsecs.CreateServiceInput{
		Cluster: aws.String("dev"), ServiceName: aws.String(name), TaskDefinition: aws.String("web:1"), DesiredCount: aws.Int32(desired),
		LaunchType:           types.LaunchTypeFargate,
		NetworkConfiguration: &types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{Subnets: []string{"subnet-a"}}},
	}
	if edit != nil {
		edit(in)
	}
	out, err := e.client.CreateService(context.Background(), in)
	if err != nil {
		t.Fatalf("create service: %v", err)
	}
	return *out.Service
}

func (e *serviceEnv) describeService(t *testing.T, name string) types.Service {
	t.Helper()
	out, err := e.client.DescribeServices(context.Background(), &awsecs.DescribeServicesInput{Cluster: aws.String("dev"), Services: []string{name}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Services) != 1 {
		t.Fatalf("describe %s: failures %+v", name, out.Failures)
	}
	return out.Services[0]
}

// waitService polls the service until ok says so, for at most 10 s.
func (e *serviceEnv) waitService(t *testing.T, name, what string, ok func(types.Service) bool) types.Service {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		svc := e.describeService(t, name)
		if ok(svc) {
			return svc
		}
		if time.Now().After(deadline) {
			t.Fatalf("service %s never became %s: running %d pending %d desired %d, deployments %s\nevents:\n%s", name, what,
				svc.RunningCount, svc.PendingCount, svc.DesiredCount, deploymentsString(svc), eventsString(svc))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *serviceEnv) waitStable(t *testing.T, name string) types.Service {
	t.Helper()
	waiter := awsecs.NewServicesStableWaiter(e.client, func(o *awsecs.ServicesStableWaiterOptions) {
		o.MinDelay, o.MaxDelay = 20*time.Millisecond, 50*time.Millisecond
	})
	if err := waiter.Wait(context.Background(), &awsecs.DescribeServicesInput{Cluster: aws.String("dev"), Services: []string{name}}, 10*time.Second); err != nil {
		svc := e.describeService(t, name)
		t.Fatalf("services-stable: %v; deployments %s\nevents:\n%s", err, deploymentsString(svc), eventsString(svc))
	}
	return e.describeService(t, name)
}

// waitCompleted waits until the service runs one COMPLETED deployment.
func (e *serviceEnv) waitCompleted(t *testing.T, name string) types.Service {
	t.Helper()
	return e.waitService(t, name, "completed", func(s types.Service) bool {
		return len(s.Deployments) == 1 && s.Deployments[0].RolloutState == types.DeploymentRolloutStateCompleted
	})
}

func deploymentsString(svc types.Service) string {
	var parts []string
	for _, d := range svc.Deployments {
		parts = append(parts, fmt.Sprintf("%s %s %s %s running %d pending %d desired %d failed %d", aws.ToString(d.Id), aws.ToString(d.Status),
			aws.ToString(d.TaskDefinition), d.RolloutState, d.RunningCount, d.PendingCount, d.DesiredCount, d.FailedTasks))
	}
	return strings.Join(parts, "; ")
}

func eventsString(svc types.Service) string {
	var msgs []string
	for _, ev := range svc.Events {
		msgs = append(msgs, aws.ToString(ev.Message))
	}
	return strings.Join(msgs, "\n")
}

func hasEvent(svc types.Service, prefix string) bool {
	for _, ev := range svc.Events {
		if strings.HasPrefix(aws.ToString(ev.Message), prefix) {
			return true
		}
	}
	return false
}

func (e *serviceEnv) serviceTasks(t *testing.T, name string) []types.Task {
	t.Helper()
	ctx := context.Background()
	list, err := e.client.ListTasks(ctx, &awsecs.ListTasksInput{Cluster: aws.String("dev"), ServiceName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.TaskArns) == 0 {
		return nil
	}
	out, err := e.client.DescribeTasks(ctx, &awsecs.DescribeTasksInput{Cluster: aws.String("dev"), Tasks: list.TaskArns})
	if err != nil {
		t.Fatal(err)
	}
	return out.Tasks
}

func taskID(task types.Task) string {
	a := aws.ToString(task.TaskArn)
	return a[strings.LastIndex(a, "/")+1:]
}

func TestServiceLifecycle(t *testing.T) {
	t.Parallel()
	e := newServiceEnv(t)
	ctx := context.Background()
	created := e.createService(t, "web", 3, nil)
	if aws.ToString(created.ServiceArn) != "arn:aws:ecs:us-east-1:000000000000:service/dev/web" || aws.ToString(created.Status) != "ACTIVE" ||
		len(created.Deployments) != 1 || created.Deployments[0].RolloutState != types.DeploymentRolloutStateInProgress {
		t.Errorf("created: %s %s %s", aws.ToString(created.ServiceArn), aws.ToString(created.Status), deploymentsString(created))
	}
	if c := created.DeploymentConfiguration; aws.ToInt32(c.MinimumHealthyPercent) != 100 || aws.ToInt32(c.MaximumPercent) != 200 {
		t.Errorf("default deployment configuration: %+v", c)
	}
	e.waitStable(t, "web")
	// Stable (what the waiter checks) comes just before the scheduler's
	// next pass marks the deployment COMPLETED.
	svc := e.waitService(t, "web", "steady", func(s types.Service) bool { return hasEvent(s, "(service web) has reached a steady state.") })
	dep := svc.Deployments[0]
	if svc.RunningCount != 3 || dep.RolloutState != types.DeploymentRolloutStateCompleted || dep.RunningCount != 3 || aws.ToString(dep.Status) != "PRIMARY" {
		t.Errorf("stable service: running %d, %s", svc.RunningCount, deploymentsString(svc))
	}
	if !hasEvent(svc, "(service web) has started 3 tasks: (task ") || !hasEvent(svc, "(service web) has reached a steady state.") ||
		!hasEvent(svc, "(service web) (deployment "+aws.ToString(dep.Id)+") deployment completed.") {
		t.Errorf("events:\n%s", eventsString(svc))
	}
	tasks := e.serviceTasks(t, "web")
	if len(tasks) != 3 {
		t.Fatalf("ListTasks serviceName: %d tasks", len(tasks))
	}
	for _, task := range tasks {
		if aws.ToString(task.StartedBy) != aws.ToString(dep.Id) || aws.ToString(task.Group) != "service:web" || !strings.HasPrefix(aws.ToString(dep.Id), "ecs-svc/") {
			t.Errorf("task startedBy %q group %q, deployment %q", aws.ToString(task.StartedBy), aws.ToString(task.Group), aws.ToString(dep.Id))
		}
	}

	clusters, _ := e.client.DescribeClusters(ctx, &awsecs.DescribeClustersInput{Clusters: []string{"dev"}})
	if clusters.Clusters[0].ActiveServicesCount != 1 {
		t.Errorf("activeServicesCount = %d", clusters.Clusters[0].ActiveServicesCount)
	}
	if _, err := e.client.DeleteCluster(ctx, &awsecs.DeleteClusterInput{Cluster: aws.String("dev")}); errorCode(err) != "ClusterContainsServicesException" {
		t.Errorf("delete cluster with a service: %v", err)
	}

	// Scaling in stops tasks with ECS's event.
	if _, err := e.client.UpdateService(ctx, &awsecs.UpdateServiceInput{Cluster: aws.String("dev"), Service: aws.String("web"), DesiredCount: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	svc = e.waitStable(t, "web")
	if svc.RunningCount != 1 || len(svc.Deployments) != 1 || !hasEvent(svc, "(service web) has stopped 2 running tasks: (task ") {
		t.Errorf("after scale in: running %d, %s\n%s", svc.RunningCount, deploymentsString(svc), eventsString(svc))
	}

	if _, err := e.client.DeleteService(ctx, &awsecs.DeleteServiceInput{Cluster: aws.String("dev"), Service: aws.String("web")}); errorCode(err) != "InvalidParameterException" {
		t.Errorf("delete a service scaled above 0 without force: %v", err)
	}
	del, err := e.client.DeleteService(ctx, &awsecs.DeleteServiceInput{Cluster: aws.String("dev"), Service: aws.String("web"), Force: aws.Bool(true)})
	if err != nil || aws.ToString(del.Service.Status) != "DRAINING" {
		t.Fatalf("delete: %v", err)
	}
	inactive := awsecs.NewServicesInactiveWaiter(e.client, func(o *awsecs.ServicesInactiveWaiterOptions) {
		o.MinDelay, o.MaxDelay = 20*time.Millisecond, 50*time.Millisecond
	})
	if err := inactive.Wait(ctx, &awsecs.DescribeServicesInput{Cluster: aws.String("dev"), Services: []string{"web"}}, 10*time.Second); err != nil {
		t.Fatalf("services-inactive: %v", err)
	}
	if tasks := e.serviceTasks(t, "web"); len(tasks) != 0 {
		t.Errorf("%d tasks still running after delete", len(tasks))
	}
	if _, err := e.client.UpdateService(ctx, &awsecs.UpdateServiceInput{Cluster: aws.String("dev"), Service: aws.String("web"), DesiredCount: aws.Int32(1)}); errorCode(err) != "ServiceNotActiveException" {
		t.Errorf("update an inactive service: %v", err)
	}
	if _, err := e.client.UpdateService(ctx, &awsecs.UpdateServiceInput{Cluster: aws.String("dev"), Service: aws.String("ghost")}); errorCode(err) != "ServiceNotFoundException" {
		t.Errorf("update an unknown service: %v", err)
	}
	missing, _ := e.client.DescribeServices(ctx, &awsecs.DescribeServicesInput{Cluster: aws.String("dev"), Services: []string{"ghost"}})
	if len(missing.Failures) != 1 || aws.ToString(missing.Failures[0].Reason) != "MISSING" ||
		aws.ToString(missing.Failures[0].Arn) != "arn:aws:ecs:us-east-1:000000000000:service/dev/ghost" {
		t.Errorf("describe unknown: %+v", missing.Failures)
	}
	if _, err := e.client.DeleteCluster(ctx, &awsecs.DeleteClusterInput{Cluster: aws.String("dev")}); err != nil {
		t.Errorf("delete cluster once its service is inactive: %v", err)
	}
}

func TestListServicesPaging(t *testing.T) {
	t.Parallel()
	e := newServiceEnv(t)
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		e.createService(t, fmt.Sprintf("svc-%d", i), 0, nil)
	}
	var all []string
	pages := awsecs.NewListServicesPaginator(e.client, &awsecs.ListServicesInput{Cluster: aws.String("dev"), MaxResults: aws.Int32(2)})
	for pages.HasMorePages() {
		p, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.ServiceArns) > 2 {
			t.Errorf("page of %d", len(p.ServiceArns))
		}
		all = append(all, p.ServiceArns...)
	}
	if len(all) != 5 || all[0] != "arn:aws:ecs:us-east-1:000000000000:service/dev/svc-0" {
		t.Errorf("paged services: %v", all)
	}
	if _, err := e.client.ListServices(ctx, &awsecs.ListServicesInput{Cluster: aws.String("dev"), NextToken: aws.String("garbage")}); errorCode(err) != "InvalidParameterException" {
		t.Errorf("bad token: %v", err)
	}
	e.waitStable(t, "svc-0")
	if _, err := e.client.DeleteService(ctx, &awsecs.DeleteServiceInput{Cluster: aws.String("dev"), Service: aws.String("svc-0")}); err != nil {
		t.Fatal(err)
	}
	e.waitService(t, "svc-0", "INACTIVE", func(s types.Service) bool { return aws.ToString(s.Status) == "INACTIVE" })
	list, _ := e.client.ListServices(ctx, &awsecs.ListServicesInput{Cluster: aws.String("dev")})
	if len(list.ServiceArns) != 4 {
		t.Errorf("ListServices after a delete: %v", list.ServiceArns)
	}
}

func TestCreateServiceErrors(t *testing.T) {
	t.Parallel()
	e := newServiceEnv(t)
	noLB := newAPIEnv(t)
	noLB.client.CreateCluster(context.Background(), &awsecs.CreateClusterInput{ClusterName: aws.String("dev")})
	noLB.client.RegisterTaskDefinition(context.Background(), fargateTaskDef("web"))
	e.createService(t, "taken", 0, nil)
	lb := func(tg, container string, port int32) []types.LoadBalancer {
		return []types.LoadBalancer{{TargetGroupArn: aws.String(tg), ContainerName: aws.String(container), ContainerPort: aws.Int32(port)}}
	}
	cases := []struct {
		name   string
		client *awsecs.Client
		edit   func(*awsecs.CreateServiceInput)
		code   string
		want   string
	}{
		{"bad name", nil, func(in *awsecs.CreateServiceInput) { in.ServiceName = aws.String("a b") }, "InvalidParameterException", "Service name"},
		{"name in use", nil, func(in *awsecs.CreateServiceInput) { in.ServiceName = aws.String("taken") }, "InvalidParameterException", "not idempotent"},
		{"no desired count", nil, func(in *awsecs.CreateServiceInput) { in.DesiredCount = nil }, "InvalidParameterException", "desiredCount"},
		{"unknown cluster", nil, func(in *awsecs.CreateServiceInput) { in.Cluster = aws.String("ghost") }, "ClusterNotFoundException", ""},
		{"unknown task definition", nil, func(in *awsecs.CreateServiceInput) { in.TaskDefinition = aws.String("web:9") }, "ClientException", ""},
		{"awsvpc without network configuration", nil, func(in *awsecs.CreateServiceInput) { in.NetworkConfiguration = nil }, "InvalidParameterException", "Network Configuration"},
		{"minimum above 100", nil, func(in *awsecs.CreateServiceInput) {
			in.DeploymentConfiguration = &types.DeploymentConfiguration{MinimumHealthyPercent: aws.Int32(150)}
		}, "InvalidParameterException", "minimumHealthyPercent"},
		{"blue/green is not implemented", nil, func(in *awsecs.CreateServiceInput) {
			in.DeploymentController = &types.DeploymentController{Type: types.DeploymentControllerTypeCodeDeploy}
		}, "InvalidParameterException", "CODE_DEPLOY"},
		{"daemon is not implemented", nil, func(in *awsecs.CreateServiceInput) { in.SchedulingStrategy = types.SchedulingStrategyDaemon }, "InvalidParameterException", "DAEMON"},
		{"unknown target group", nil, func(in *awsecs.CreateServiceInput) { in.LoadBalancers = lb(testTG+"x", "app", 8080) }, "InvalidParameterException", "targetGroupArn"},
		{"container port not mapped", nil, func(in *awsecs.CreateServiceInput) { in.LoadBalancers = lb(testTG, "app", 9090) }, "InvalidParameterException", "did not have a container port 9090"},
		{"no ELBv2", noLB.client, func(in *awsecs.CreateServiceInput) { in.LoadBalancers = lb(testTG, "app", 8080) }, "InvalidParameterException", "ELBv2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := &awsecs.CreateServiceInput{
				Cluster: aws.String("dev"), ServiceName: aws.String("web"), TaskDefinition: aws.String("web:1"), DesiredCount: aws.Int32(1),
				NetworkConfiguration: &types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{Subnets: []string{"subnet-a"}}},
			}
			c.edit(in)
			client := e.client
			if c.client != nil {
				client = c.client
			}
			_, err := client.CreateService(context.Background(), in)
			if errorCode(err) != c.code || !strings.Contains(fmt.Sprint(err), c.want) {
				t.Errorf("error %v, want %s mentioning %q", err, c.code, c.want)
			}
		})
	}
	list, _ := e.client.ListServices(context.Background(), &awsecs.ListServicesInput{Cluster: aws.String("dev")})
	if len(list.ServiceArns) != 1 {
		t.Errorf("failed creations stored services: %v", list.ServiceArns)
	}
}

// TestServiceReplacesCrashedTask: a task that exits is replaced at once,
// not on the next tick.
func TestServiceReplacesCrashedTask(t *testing.T) {
	t.Parallel()
	e := newServiceEnv(t)
	e.createService(t, "web", 3, nil)
	e.waitStable(t, "web")
	victim := e.serviceTasks(t, "web")[0]
	start := time.Now()
	e.auto.crash(taskID(victim))
	svc := e.waitService(t, "web", "replaced", func(s types.Service) bool {
		return hasEvent(s, "(service web) has started 1 tasks: (task ")
	})
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("replacement started after %v, want within 2s", took)
	}
	svc = e.waitStable(t, "web")
	if svc.RunningCount != 3 || svc.Deployments[0].FailedTasks != 1 {
		t.Errorf("after replacement: running %d, %s", svc.RunningCount, deploymentsString(svc))
	}
}

func TestServiceReplacesUnhealthyTask(t *testing.T) {
	t.Parallel()
	e := newServiceEnv(t)
	ctx := context.Background()
	app := types.ContainerDefinition{Name: aws.String("app"), Image: aws.String("testapp"),
		HealthCheck: &types.HealthCheck{Command: []string{"CMD", "true"}}}
	td, err := e.client.RegisterTaskDefinition(ctx, fargateTaskDef("checked", app))
	if err != nil {
		t.Fatal(err)
	}
	e.createService(t, "checked", 1, func(in *awsecs.CreateServiceInput) { in.TaskDefinition = td.TaskDefinition.TaskDefinitionArn })
	first := e.waitService(t, "checked", "running", func(s types.Service) bool { return s.RunningCount == 1 })
	_ = first
	victim := e.serviceTasks(t, "checked")[0]
	e.auto.unhealthy(taskID(victim), "app")
	e.waitService(t, "checked", "replaced", func(s types.Service) bool {
		return hasEvent(s, "(service checked) (task "+taskID(victim)+") failed container health checks.")
	})
	stopped := waitTask(t, e.apiEnv, "dev", aws.ToString(victim.TaskArn), func(task types.Task) bool { return aws.ToString(task.LastStatus) == "STOPPED" })
	if aws.ToString(stopped.StoppedReason) != "Task failed container health checks" || stopped.StopCode != types.TaskStopCodeServiceSchedulerInitiated {
		t.Errorf("stopped %q %q", stopped.StopCode, aws.ToString(stopped.StoppedReason))
	}
}

// TestRollingUpdateThroughLoadBalancer rolls 4 tasks to a new revision
// behind a target group: new tasks join once RUNNING, old tasks leave and
// drain before they stop, and the group never serves fewer than the
// minimum healthy tasks.
func TestRollingUpdateThroughLoadBalancer(t *testing.T) {
	t.Parallel()
	e := newServiceEnv(t)
	ctx := context.Background()
	e.createService(t, "web", 4, func(in *awsecs.CreateServiceInput) {
		in.LoadBalancers = []types.LoadBalancer{{TargetGroupArn: aws.String(testTG), ContainerName: aws.String("app"), ContainerPort: aws.Int32(8080)}}
		in.DeploymentConfiguration = &types.DeploymentConfiguration{MinimumHealthyPercent: aws.Int32(50), MaximumPercent: aws.Int32(200)}
	})
	svc := e.waitStable(t, "web")
	if got := len(e.lb.serving(testTG)); got != 4 {
		t.Fatalf("%d targets serving, want 4", got)
	}
	if !hasEvent(svc, "(service web) registered 1 targets in (target-group "+testTG+")") {
		t.Errorf("events:\n%s", eventsString(svc))
	}
	oldTasks := e.serviceTasks(t, "web")

	// Watch the target group while the update rolls.
	done := make(chan struct{})
	minServing := make(chan int, 1)
	go func() {
		least := 4
		for {
			select {
			case <-done:
				minServing <- least
				return
			case <-time.After(2 * time.Millisecond):
				least = min(least, len(e.lb.serving(testTG)))
			}
		}
	}()
	out, err := e.client.UpdateService(ctx, &awsecs.UpdateServiceInput{Cluster: aws.String("dev"), Service: aws.String("web"), TaskDefinition: aws.String("web:2")})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Service.Deployments) != 2 || aws.ToString(out.Service.Deployments[0].Status) != "PRIMARY" || aws.ToString(out.Service.Deployments[1].Status) != "ACTIVE" {
		t.Errorf("deployments after update: %s", deploymentsString(*out.Service))
	}
	svc = e.waitStable(t, "web")
	close(done)
	if least := <-minServing; least < 2 {
		t.Errorf("only %d targets served during the update, minimum healthy is 2", least)
	}
	if aws.ToString(svc.TaskDefinition) != aws.ToString(svc.Deployments[0].TaskDefinition) || !strings.HasSuffix(aws.ToString(svc.TaskDefinition), ":2") {
		t.Errorf("service %s deployments %s", aws.ToString(svc.TaskDefinition), deploymentsString(svc))
	}
	for _, task := range oldTasks {
		ip := e.auto.ip(taskID(task))
		dereg, stop := e.j.index("deregister "+ip), e.j.index("stop "+ip)
		if dereg < 0 || stop < 0 || dereg > stop {
			t.Errorf("task %s: deregister at %d, stop at %d: want deregistration first", ip, dereg, stop)
		}
		final := waitTask(t, e.apiEnv, "dev", aws.ToString(task.TaskArn), func(task types.Task) bool { return aws.ToString(task.LastStatus) == "STOPPED" })
		if final.StopCode != types.TaskStopCodeServiceSchedulerInitiated || !strings.HasPrefix(aws.ToString(final.StoppedReason), "Scaling activity initiated by (deployment ecs-svc/") {
			t.Errorf("old task stopped with %q %q", final.StopCode, aws.ToString(final.StoppedReason))
		}
	}
	serving := e.lb.serving(testTG)
	if len(serving) != 4 {
		t.Errorf("serving after the update: %v", serving)
	}
	for _, task := range e.serviceTasks(t, "web") {
		if !strings.HasSuffix(aws.ToString(task.TaskDefinitionArn), ":2") {
			t.Errorf("task of %s still running", aws.ToString(task.TaskDefinitionArn))
		}
	}
	if !hasEvent(svc, "(service web) deregistered 1 targets in (target-group "+testTG+")") || !hasEvent(svc, "(service web) has begun draining connections on 1 tasks.") {
		t.Errorf("events:\n%s", eventsString(svc))
	}
}

func TestServiceUnhealthyTarget(t *testing.T) {
	t.Parallel()
	e := newServiceEnv(t)
	e.createService(t, "web", 1, func(in *awsecs.CreateServiceInput) {
		in.LoadBalancers = []types.LoadBalancer{{TargetGroupArn: aws.String(testTG), ContainerName: aws.String("app"), ContainerPort: aws.Int32(8080)}}
	})
	e.waitStable(t, "web")
	victim := e.serviceTasks(t, "web")[0]
	e.lb.setState(testTG, e.auto.ip(taskID(victim)), targetUnhealthy, "Health checks failed with these codes: [500]")
	e.waitService(t, "web", "replaced", func(s types.Service) bool {
		return hasEvent(s, "(service web) (task "+taskID(victim)+") (port 8080) is unhealthy in (target-group "+testTG+") due to (reason Health checks failed with these codes: [500]).")
	})
	stopped := waitTask(t, e.apiEnv, "dev", aws.ToString(victim.TaskArn), func(task types.Task) bool { return aws.ToString(task.LastStatus) == "STOPPED" })
	if aws.ToString(stopped.StoppedReason) != "Task failed ELB health checks in (target-group "+testTG+")" {
		t.Errorf("stoppedReason %q", aws.ToString(stopped.StoppedReason))
	}
	if svc := e.waitStable(t, "web"); svc.RunningCount != 1 {
		t.Errorf("running %d", svc.RunningCount)
	}
}

func TestServiceGracePeriodIgnoresUnhealthyTargets(t *testing.T) {
	t.Parallel()
	e := newServiceEnv(t)
	e.createService(t, "web", 1, func(in *awsecs.CreateServiceInput) {
		in.LoadBalancers = []types.LoadBalancer{{TargetGroupArn: aws.String(testTG), ContainerName: aws.String("app"), ContainerPort: aws.Int32(8080)}}
		in.HealthCheckGracePeriodSeconds = aws.Int32(60)
	})
	e.waitStable(t, "web")
	victim := e.serviceTasks(t, "web")[0]
	e.lb.setState(testTG, e.auto.ip(taskID(victim)), targetUnhealthy, "Health checks failed")
	time.Sleep(1500 * time.Millisecond) // more than one scheduler tick
	task := waitTask(t, e.apiEnv, "dev", aws.ToString(victim.TaskArn), func(types.Task) bool { return true })
	if aws.ToString(task.DesiredStatus) != "RUNNING" {
		t.Errorf("a task in its grace period was stopped: %q", aws.ToString(task.StoppedReason))
	}
}

// TestCircuitBreakerRollsBack: a revision whose tasks exit on start fails
// after the threshold (3 for 2 tasks) and the service returns to the last
// completed deployment.
func TestCircuitBreakerRollsBack(t *testing.T) {
	t.Parallel()
	e := newServiceEnv(t)
	e.auto.crashRevision = 2
	ctx := context.Background()
	e.createService(t, "web", 2, func(in *awsecs.CreateServiceInput) {
		in.DeploymentConfiguration = &types.DeploymentConfiguration{
			DeploymentCircuitBreaker: &types.DeploymentCircuitBreaker{Enable: true, Rollback: true}}
	})
	good := aws.ToString(e.waitCompleted(t, "web").Deployments[0].Id)
	if _, err := e.client.UpdateService(ctx, &awsecs.UpdateServiceInput{Cluster: aws.String("dev"), Service: aws.String("web"), TaskDefinition: aws.String("web:2")}); err != nil {
		t.Fatal(err)
	}
	svc := e.waitService(t, "web", "rolled back", func(s types.Service) bool {
		return hasEvent(s, "(service web) rolling back to deployment "+good+".")
	})
	if !hasEvent(svc, "(service web) (deployment ecs-svc/") || !strings.Contains(eventsString(svc), "deployment failed: tasks failed to start.") {
		t.Errorf("events:\n%s", eventsString(svc))
	}
	svc = e.waitCompleted(t, "web")
	if !strings.HasSuffix(aws.ToString(svc.TaskDefinition), ":1") || svc.RunningCount != 2 {
		t.Errorf("after rollback: %s %s", aws.ToString(svc.TaskDefinition), deploymentsString(svc))
	}
	for _, task := range e.serviceTasks(t, "web") {
		if !strings.HasSuffix(aws.ToString(task.TaskDefinitionArn), ":1") {
			t.Errorf("task of %s running after rollback", aws.ToString(task.TaskDefinitionArn))
		}
	}
}

func TestUpdateServiceDeployments(t *testing.T) {
	t.Parallel()
	e := newServiceEnv(t)
	ctx := context.Background()
	e.createService(t, "web", 2, nil)
	first := aws.ToString(e.waitStable(t, "web").Deployments[0].Id)
	update := func(in *awsecs.UpdateServiceInput) types.Service {
		t.Helper()
		in.Cluster, in.Service = aws.String("dev"), aws.String("arn:aws:ecs:us-east-1:000000000000:service/dev/web")
		out, err := e.client.UpdateService(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return *out.Service
	}
	if svc := update(&awsecs.UpdateServiceInput{DesiredCount: aws.Int32(3)}); aws.ToString(svc.Deployments[0].Id) != first || svc.DesiredCount != 3 {
		t.Errorf("a desired count change made a new deployment: %s", deploymentsString(svc))
	}
	e.waitStable(t, "web")
	svc := update(&awsecs.UpdateServiceInput{HealthCheckGracePeriodSeconds: aws.Int32(30),
		DeploymentConfiguration: &types.DeploymentConfiguration{MinimumHealthyPercent: aws.Int32(50)}})
	if aws.ToString(svc.Deployments[0].Id) != first || aws.ToInt32(svc.HealthCheckGracePeriodSeconds) != 30 ||
		aws.ToInt32(svc.DeploymentConfiguration.MinimumHealthyPercent) != 50 || aws.ToInt32(svc.DeploymentConfiguration.MaximumPercent) != 200 {
		t.Errorf("settings update: %s grace %d config %+v", deploymentsString(svc), aws.ToInt32(svc.HealthCheckGracePeriodSeconds), svc.DeploymentConfiguration)
	}
	svc = update(&awsecs.UpdateServiceInput{ForceNewDeployment: true})
	if len(svc.Deployments) != 2 || aws.ToString(svc.Deployments[1].Id) != first {
		t.Errorf("forceNewDeployment: %s", deploymentsString(svc))
	}
	svc = e.waitStable(t, "web")
	if aws.ToString(svc.Deployments[0].Id) == first || svc.RunningCount != 3 {
		t.Errorf("after forced deployment: %s", deploymentsString(svc))
	}
}
