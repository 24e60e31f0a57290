package ecs

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"

	"github.com/kumo-project/kumo/internal/clock"
	"github.com/kumo-project/kumo/internal/gateway"
	"github.com/kumo-project/kumo/internal/node"
	"github.com/kumo-project/kumo/internal/store"
)

// fakeNode records what the control plane asks; tests push statuses. The
// real agent is covered by the integration tests.
type fakeNode struct {
	mu      sync.Mutex
	started []node.TaskSpec
	stopped []string
	updates chan node.TaskStatus
}

func newFakeNode() *fakeNode { return &fakeNode{updates: make(chan node.TaskStatus, 100)} }

func (f *fakeNode) Info(context.Context) (node.Info, error) { return node.Info{}, nil }
func (f *fakeNode) RunTask(_ context.Context, spec node.TaskSpec) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started = append(f.started, spec)
	return nil
}
func (f *fakeNode) StopTask(_ context.Context, id, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = append(f.stopped, id)
	return nil
}
func (f *fakeNode) TaskStatus(context.Context, string) (node.TaskStatus, error) {
	return node.TaskStatus{}, node.ErrNotFound
}
func (f *fakeNode) ListTasks(context.Context) ([]node.TaskStatus, error) { return nil, nil }
func (f *fakeNode) RemoveTask(context.Context, string) error             { return nil }
func (f *fakeNode) TaskStats(context.Context, string) (node.TaskStats, error) {
	return node.TaskStats{}, nil
}
func (f *fakeNode) Watch(context.Context) (<-chan node.TaskStatus, error) { return f.updates, nil }

func (f *fakeNode) startedSpecs() []node.TaskSpec {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]node.TaskSpec(nil), f.started...)
}

// apiEnv is the ECS service behind the real gateway, driven by the real SDK.
type apiEnv struct {
	svc    *Service
	client *awsecs.Client
	node   *fakeNode
	url    string
}

func newAPIEnv(t *testing.T) *apiEnv {
	t.Helper()
	return newAPIEnvWith(t, newFakeNode(), nil)
}

// newAPIEnvWith runs the service on the given node and load balancers.
func newAPIEnvWith(t *testing.T, fn node.Node, lbs LoadBalancers) *apiEnv {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := New(Config{Store: st, Node: fn, Clock: clock.Real{}, Log: log, LoadBalancers: lbs})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); svc.Wait() })
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	gw := gateway.New(gateway.AnyCredentials{AccountID: "000000000000", DefaultRegion: "us-east-1"}, log)
	gw.Register(svc.Gateway())
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	client := awsecs.NewFromConfig(aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(srv.URL),
	})
	e := &apiEnv{svc: svc, client: client, url: srv.URL}
	e.node, _ = fn.(*fakeNode)
	return e
}

func errorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

func fargateTaskDef(family string, containers ...types.ContainerDefinition) *awsecs.RegisterTaskDefinitionInput {
	if len(containers) == 0 {
		containers = []types.ContainerDefinition{{Name: aws.String("app"), Image: aws.String("busybox")}}
	}
	return &awsecs.RegisterTaskDefinitionInput{
		Family:                  aws.String(family),
		NetworkMode:             types.NetworkModeAwsvpc,
		RequiresCompatibilities: []types.Compatibility{types.CompatibilityFargate},
		Cpu:                     aws.String("256"),
		Memory:                  aws.String("512"),
		ContainerDefinitions:    containers,
	}
}

func TestClusters(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	ctx := context.Background()
	out, err := e.client.CreateCluster(ctx, &awsecs.CreateClusterInput{ClusterName: aws.String("dev"),
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("a")}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(out.Cluster.ClusterArn); got != "arn:aws:ecs:us-east-1:000000000000:cluster/dev" {
		t.Errorf("cluster ARN = %s", got)
	}
	if aws.ToString(out.Cluster.Status) != "ACTIVE" {
		t.Errorf("status = %s", aws.ToString(out.Cluster.Status))
	}
	desc, err := e.client.DescribeClusters(ctx, &awsecs.DescribeClustersInput{Clusters: []string{"dev", "ghost"},
		Include: []types.ClusterField{types.ClusterFieldTags, types.ClusterFieldSettings}})
	if err != nil {
		t.Fatal(err)
	}
	if len(desc.Clusters) != 1 || len(desc.Clusters[0].Tags) != 1 || len(desc.Clusters[0].Settings) != 1 {
		t.Errorf("describe: %+v", desc.Clusters)
	}
	if len(desc.Failures) != 1 || aws.ToString(desc.Failures[0].Reason) != "MISSING" ||
		aws.ToString(desc.Failures[0].Arn) != "arn:aws:ecs:us-east-1:000000000000:cluster/ghost" {
		t.Errorf("failures: %+v", desc.Failures)
	}
	if _, err := e.client.UpdateClusterSettings(ctx, &awsecs.UpdateClusterSettingsInput{Cluster: aws.String("dev"),
		Settings: []types.ClusterSetting{{Name: types.ClusterSettingNameContainerInsights, Value: aws.String("enabled")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.UpdateClusterSettings(ctx, &awsecs.UpdateClusterSettingsInput{Cluster: aws.String("dev"),
		Settings: []types.ClusterSetting{{Name: types.ClusterSettingNameContainerInsights, Value: aws.String("maybe")}}}); errorCode(err) != "InvalidParameterException" {
		t.Errorf("bad setting value: %v", err)
	}
	if _, err := e.client.CreateCluster(ctx, &awsecs.CreateClusterInput{ClusterName: aws.String("bad name!")}); errorCode(err) != "InvalidParameterException" {
		t.Errorf("bad cluster name: %v", err)
	}
	for i := 0; i < 3; i++ {
		e.client.CreateCluster(ctx, &awsecs.CreateClusterInput{ClusterName: aws.String("c" + string(rune('a'+i)))})
	}
	var all []string
	pages := awsecs.NewListClustersPaginator(e.client, &awsecs.ListClustersInput{MaxResults: aws.Int32(2)})
	for pages.HasMorePages() {
		p, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.ClusterArns) > 2 {
			t.Errorf("page of %d > maxResults 2", len(p.ClusterArns))
		}
		all = append(all, p.ClusterArns...)
	}
	if len(all) != 4 {
		t.Errorf("paged clusters = %v, want 4", all)
	}
	if _, err := e.client.ListClusters(ctx, &awsecs.ListClustersInput{NextToken: aws.String("garbage")}); errorCode(err) != "InvalidParameterException" {
		t.Errorf("bad token: %v", err)
	}
	if _, err := e.client.DeleteCluster(ctx, &awsecs.DeleteClusterInput{Cluster: aws.String("dev")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.DeleteCluster(ctx, &awsecs.DeleteClusterInput{Cluster: aws.String("dev")}); errorCode(err) != "ClusterNotFoundException" {
		t.Errorf("delete twice: %v", err)
	}
}

func TestDeleteClusterWithTasksIsRefused(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	ctx := context.Background()
	e.client.CreateCluster(ctx, &awsecs.CreateClusterInput{ClusterName: aws.String("busy")})
	if _, err := e.client.RegisterTaskDefinition(ctx, fargateTaskDef("web")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.RunTask(ctx, &awsecs.RunTaskInput{Cluster: aws.String("busy"), TaskDefinition: aws.String("web"),
		NetworkConfiguration: &types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{Subnets: []string{"s"}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.DeleteCluster(ctx, &awsecs.DeleteClusterInput{Cluster: aws.String("busy")}); errorCode(err) != "ClusterContainsTasksException" {
		t.Errorf("delete with a task: %v", err)
	}
}

func TestRegisterTaskDefinitionValidation(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	ctx := context.Background()
	c := func(name string) types.ContainerDefinition {
		return types.ContainerDefinition{Name: aws.String(name), Image: aws.String("busybox")}
	}
	cases := []struct {
		name string
		edit func(*awsecs.RegisterTaskDefinitionInput)
		want string // substring of the message
	}{
		{"bad family", func(in *awsecs.RegisterTaskDefinitionInput) { in.Family = aws.String("a b") }, "Family"},
		{"duplicate container names", func(in *awsecs.RegisterTaskDefinitionInput) {
			in.ContainerDefinitions = []types.ContainerDefinition{c("x"), c("x")}
		}, "Duplicate container names"},
		{"no essential container", func(in *awsecs.RegisterTaskDefinitionInput) {
			x := c("x")
			x.Essential = aws.Bool(false)
			in.ContainerDefinitions = []types.ContainerDefinition{x}
		}, "at least one essential"},
		{"fargate needs awsvpc", func(in *awsecs.RegisterTaskDefinitionInput) { in.NetworkMode = types.NetworkModeBridge }, "awsvpc"},
		{"fargate cpu/memory combination", func(in *awsecs.RegisterTaskDefinitionInput) { in.Memory = aws.String("4096") }, "No Fargate configuration exists for given values: 256 CPU, 4096 memory"},
		{"fargate needs cpu", func(in *awsecs.RegisterTaskDefinitionInput) { in.Cpu = nil }, "'cpu'"},
		{"missing image", func(in *awsecs.RegisterTaskDefinitionInput) {
			in.ContainerDefinitions = []types.ContainerDefinition{{Name: aws.String("x")}}
		}, "image"},
		{"unknown dependency", func(in *awsecs.RegisterTaskDefinitionInput) {
			x := c("x")
			x.DependsOn = []types.ContainerDependency{{ContainerName: aws.String("y"), Condition: types.ContainerConditionStart}}
			in.ContainerDefinitions = []types.ContainerDefinition{x}
		}, "unknown container"},
		{"awslogs without execution role", func(in *awsecs.RegisterTaskDefinitionInput) {
			x := c("x")
			x.LogConfiguration = &types.LogConfiguration{LogDriver: types.LogDriverAwslogs, Options: map[string]string{"awslogs-group": "g"}}
			in.ContainerDefinitions = []types.ContainerDefinition{x}
		}, "execution role"},
		{"health check interval out of range", func(in *awsecs.RegisterTaskDefinitionInput) {
			x := c("x")
			x.HealthCheck = &types.HealthCheck{Command: []string{"CMD", "true"}, Interval: aws.Int32(1)}
			in.ContainerDefinitions = []types.ContainerDefinition{x}
		}, "interval"},
	}
	for _, tc := range cases {
		in := fargateTaskDef("fam")
		tc.edit(in)
		_, err := e.client.RegisterTaskDefinition(ctx, in)
		if errorCode(err) != "ClientException" || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want ClientException mentioning %q", tc.name, err, tc.want)
		}
	}
	list, err := e.client.ListTaskDefinitions(ctx, &awsecs.ListTaskDefinitionsInput{})
	if err != nil || len(list.TaskDefinitionArns) != 0 {
		t.Errorf("invalid registrations stored something: %v %v", list.TaskDefinitionArns, err)
	}
}

func TestTaskDefinitionLifecycle(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		in := fargateTaskDef("web")
		in.Tags = []types.Tag{{Key: aws.String("rev"), Value: aws.String("x")}}
		out, err := e.client.RegisterTaskDefinition(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if out.TaskDefinition.Revision != int32(i+1) {
			t.Errorf("revision = %d, want %d", out.TaskDefinition.Revision, i+1)
		}
	}
	e.client.RegisterTaskDefinition(ctx, fargateTaskDef("api"))
	d, err := e.client.DescribeTaskDefinition(ctx, &awsecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String("web"),
		Include: []types.TaskDefinitionField{types.TaskDefinitionFieldTags}})
	if err != nil {
		t.Fatal(err)
	}
	if d.TaskDefinition.Revision != 3 || len(d.Tags) != 1 || aws.ToBool(d.TaskDefinition.ContainerDefinitions[0].Essential) != true {
		t.Errorf("describe latest: rev %d tags %v", d.TaskDefinition.Revision, d.Tags)
	}
	if _, err := e.client.DeregisterTaskDefinition(ctx, &awsecs.DeregisterTaskDefinitionInput{TaskDefinition: aws.String("web:3")}); err != nil {
		t.Fatal(err)
	}
	d, _ = e.client.DescribeTaskDefinition(ctx, &awsecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String("web")})
	if d.TaskDefinition.Revision != 2 {
		t.Errorf("latest ACTIVE after deregistering 3 = %d, want 2", d.TaskDefinition.Revision)
	}
	desc, _ := e.client.ListTaskDefinitions(ctx, &awsecs.ListTaskDefinitionsInput{Sort: types.SortOrderDesc})
	want := []string{"web:2", "web:1", "api:1"}
	if len(desc.TaskDefinitionArns) != 3 {
		t.Fatalf("list DESC = %v", desc.TaskDefinitionArns)
	}
	for i, w := range want {
		if !strings.HasSuffix(desc.TaskDefinitionArns[i], "task-definition/"+w) {
			t.Errorf("list DESC[%d] = %s, want %s", i, desc.TaskDefinitionArns[i], w)
		}
	}
	inactive, _ := e.client.ListTaskDefinitions(ctx, &awsecs.ListTaskDefinitionsInput{Status: types.TaskDefinitionStatusInactive})
	if len(inactive.TaskDefinitionArns) != 1 {
		t.Errorf("INACTIVE list = %v", inactive.TaskDefinitionArns)
	}
	var paged []string
	p := awsecs.NewListTaskDefinitionsPaginator(e.client, &awsecs.ListTaskDefinitionsInput{MaxResults: aws.Int32(1), Sort: types.SortOrderDesc})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		paged = append(paged, page.TaskDefinitionArns...)
	}
	if strings.Join(paged, ",") != strings.Join(desc.TaskDefinitionArns, ",") {
		t.Errorf("paged DESC %v != %v", paged, desc.TaskDefinitionArns)
	}
	fams, _ := e.client.ListTaskDefinitionFamilies(ctx, &awsecs.ListTaskDefinitionFamiliesInput{FamilyPrefix: aws.String("we")})
	if len(fams.Families) != 1 || fams.Families[0] != "web" {
		t.Errorf("families = %v", fams.Families)
	}
	del, err := e.client.DeleteTaskDefinitions(ctx, &awsecs.DeleteTaskDefinitionsInput{TaskDefinitions: []string{"web:3", "web:2"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(del.TaskDefinitions) != 1 || len(del.Failures) != 1 {
		t.Errorf("delete: %d deleted, failures %+v", len(del.TaskDefinitions), del.Failures)
	}
	again, _ := e.client.RegisterTaskDefinition(ctx, fargateTaskDef("web"))
	if again.TaskDefinition.Revision != 4 {
		t.Errorf("revision after delete = %d, want 4 (never reused)", again.TaskDefinition.Revision)
	}
}

func TestRunTaskBuildsTheNodeSpec(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	ctx := context.Background()
	e.client.CreateCluster(ctx, &awsecs.CreateClusterInput{ClusterName: aws.String("dev")})
	app := types.ContainerDefinition{Name: aws.String("app"), Image: aws.String("busybox"), Command: []string{"serve"},
		Environment: []types.KeyValuePair{{Name: aws.String("A"), Value: aws.String("1")}}}
	in := fargateTaskDef("web", app)
	in.Tags = []types.Tag{{Key: aws.String("from"), Value: aws.String("td")}}
	e.client.RegisterTaskDefinition(ctx, in)
	out, err := e.client.RunTask(ctx, &awsecs.RunTaskInput{
		Cluster: aws.String("dev"), TaskDefinition: aws.String("web"), Count: aws.Int32(2), StartedBy: aws.String("me"),
		LaunchType:           types.LaunchTypeFargate,
		PropagateTags:        types.PropagateTagsTaskDefinition,
		NetworkConfiguration: &types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{Subnets: []string{"subnet-a"}}},
		Overrides: &types.TaskOverride{ContainerOverrides: []types.ContainerOverride{{Name: aws.String("app"),
			Command: []string{"exit", "3"}, Environment: []types.KeyValuePair{{Name: aws.String("A"), Value: aws.String("2")}}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Tasks) != 2 || aws.ToString(out.Tasks[0].LastStatus) != "PROVISIONING" || aws.ToString(out.Tasks[0].Group) != "family:web" {
		t.Fatalf("run: %+v", out.Tasks)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(e.node.startedSpecs()) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	specs := e.node.startedSpecs()
	if len(specs) != 2 {
		t.Fatalf("node got %d tasks, want 2", len(specs))
	}
	arn := aws.ToString(out.Tasks[0].TaskArn)
	if specs[0].TaskARN != arn {
		specs[0], specs[1] = specs[1], specs[0]
	}
	c := specs[0].Containers[0]
	if strings.Join(c.Command, " ") != "exit 3" {
		t.Errorf("command = %v", c.Command)
	}
	env := map[string]string{}
	for _, kv := range c.Environment {
		env[kv.Name] = kv.Value
	}
	if env["A"] != "2" || env["AWS_REGION"] != "us-east-1" || env["AWS_EXECUTION_ENV"] != "AWS_ECS_FARGATE" {
		t.Errorf("environment = %v", env)
	}
	if specs[0].CPU != 256 || specs[0].MemoryMB != 512 || specs[0].NetworkMode != "awsvpc" {
		t.Errorf("spec limits: %+v", specs[0])
	}
	e.node.updates <- node.TaskStatus{TaskID: specs[0].TaskID, Seq: 1, Status: node.StatusRunning, PrivateIPv4: "10.9.0.5", MACAddress: "0a:58:0a:09:00:05",
		Containers: []node.ContainerStatus{{Name: "app", Status: "RUNNING", RuntimeID: "r1"}}}
	desc := waitTask(t, e, "dev", arn, func(task types.Task) bool { return aws.ToString(task.LastStatus) == "RUNNING" })
	if len(desc.Tags) != 0 {
		t.Errorf("tags without include TAGS: %v", desc.Tags)
	}
	withTags, _ := e.client.DescribeTasks(ctx, &awsecs.DescribeTasksInput{Cluster: aws.String("dev"), Tasks: []string{arn, "0123"},
		Include: []types.TaskField{types.TaskFieldTags}})
	if len(withTags.Tasks[0].Tags) != 1 || len(withTags.Failures) != 1 || aws.ToString(withTags.Failures[0].Reason) != "MISSING" {
		t.Errorf("describe with tags: %+v failures %+v", withTags.Tasks[0].Tags, withTags.Failures)
	}
	listed, _ := e.client.ListTasks(ctx, &awsecs.ListTasksInput{Cluster: aws.String("dev"), StartedBy: aws.String("me"), Family: aws.String("web")})
	if len(listed.TaskArns) != 2 {
		t.Errorf("ListTasks = %v", listed.TaskArns)
	}
	if _, err := e.client.StopTask(ctx, &awsecs.StopTaskInput{Cluster: aws.String("dev"), Task: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	e.node.updates <- node.TaskStatus{TaskID: specs[0].TaskID, Seq: 2, Status: node.StatusStopped, StopCode: node.StopEssentialContainerExited,
		Containers: []node.ContainerStatus{{Name: "app", Status: "STOPPED", ExitCode: intPtr(143)}}}
	desc = waitTask(t, e, "dev", arn, func(task types.Task) bool { return aws.ToString(task.LastStatus) == "STOPPED" })
	if desc.StopCode != types.TaskStopCodeUserInitiated || aws.ToString(desc.StoppedReason) != "Task stopped by user" {
		t.Errorf("a user stop keeps its code and reason: %q %q", desc.StopCode, aws.ToString(desc.StoppedReason))
	}
	if *desc.Containers[0].ExitCode != 143 {
		t.Errorf("exit code %d", *desc.Containers[0].ExitCode)
	}
	stale := node.TaskStatus{TaskID: specs[0].TaskID, Seq: 1, Status: node.StatusRunning}
	e.node.updates <- stale
	time.Sleep(50 * time.Millisecond)
	if task := waitTask(t, e, "dev", arn, func(types.Task) bool { return true }); aws.ToString(task.LastStatus) != "STOPPED" {
		t.Errorf("a stale status moved a stopped task back to %s", aws.ToString(task.LastStatus))
	}
}

func intPtr(n int) *int { return &n }

func waitTask(t *testing.T, e *apiEnv, cluster, arn string, ok func(types.Task) bool) types.Task {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, err := e.client.DescribeTasks(context.Background(), &awsecs.DescribeTasksInput{Cluster: aws.String(cluster), Tasks: []string{arn}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Tasks) == 1 && ok(out.Tasks[0]) {
			return out.Tasks[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %s never reached the expected state", arn)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestTags(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	ctx := context.Background()
	out, _ := e.client.CreateCluster(ctx, &awsecs.CreateClusterInput{ClusterName: aws.String("dev")})
	arn := out.Cluster.ClusterArn
	if _, err := e.client.TagResource(ctx, &awsecs.TagResourceInput{ResourceArn: arn, Tags: []types.Tag{
		{Key: aws.String("a"), Value: aws.String("1")}, {Key: aws.String("b"), Value: aws.String("2")}}}); err != nil {
		t.Fatal(err)
	}
	e.client.UntagResource(ctx, &awsecs.UntagResourceInput{ResourceArn: arn, TagKeys: []string{"a"}})
	list, err := e.client.ListTagsForResource(ctx, &awsecs.ListTagsForResourceInput{ResourceArn: arn})
	if err != nil || len(list.Tags) != 1 || aws.ToString(list.Tags[0].Key) != "b" {
		t.Errorf("tags = %+v %v", list.Tags, err)
	}
	_, err = e.client.TagResource(ctx, &awsecs.TagResourceInput{ResourceArn: aws.String("arn:aws:ecs:us-east-1:000000000000:cluster/ghost"),
		Tags: []types.Tag{{Key: aws.String("a"), Value: aws.String("1")}}})
	if errorCode(err) != "ResourceNotFoundException" {
		t.Errorf("tag unknown cluster: %v", err)
	}
	_, err = e.client.TagResource(ctx, &awsecs.TagResourceInput{ResourceArn: arn, Tags: []types.Tag{{Key: aws.String("aws:x"), Value: aws.String("1")}}})
	if errorCode(err) != "InvalidParameterException" {
		t.Errorf("reserved tag key: %v", err)
	}
}

// TestWireErrors sends what no SDK would: the gateway must answer AWS's
// errors, never a panic or a half-stored change.
func TestWireErrors(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	cases := []struct {
		name, target, body string
		status             int
		code               string
	}{
		{"malformed JSON", "CreateCluster", `{"clusterName": `, 400, "SerializationException"},
		{"wrong type", "CreateCluster", `{"clusterName": 42}`, 400, "SerializationException"},
		{"missing required", "RegisterTaskDefinition", `{"family": "x"}`, 400, "InvalidParameterException"},
		{"unknown operation", "FlyToTheMoon", `{}`, 400, "UnknownOperationException"},
		{"not implemented", "CreateCapacityProvider", `{"name":"x","autoScalingGroupProvider":{"autoScalingGroupArn":"a"}}`, 501, "NotImplementedException"},
		{"integral float accepted", "RunTask", `{"taskDefinition":"x","count":1.0}`, 400, "ClusterNotFoundException"},
	}
	for _, c := range cases {
		req, _ := http.NewRequest("POST", e.url, bytes.NewBufferString(c.body))
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		req.Header.Set("X-Amz-Target", "AmazonEC2ContainerServiceV20141113."+c.target)
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/ecs/aws4_request, SignedHeaders=host, Signature=x")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status || !strings.Contains(string(body), `"__type":"`+c.code+`"`) || resp.Header.Get("x-amzn-RequestId") == "" {
			t.Errorf("%s: %d %s, want %d %s", c.name, resp.StatusCode, body, c.status, c.code)
		}
	}
}

// TestRunTaskClientToken: a RunTask retried with the same clientToken (the
// SDKs send one and retry on network errors) returns the same tasks and
// starts nothing new.
func TestRunTaskClientToken(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	ctx := context.Background()
	e.client.CreateCluster(ctx, &awsecs.CreateClusterInput{ClusterName: aws.String("dev")})
	e.client.RegisterTaskDefinition(ctx, fargateTaskDef("web"))
	in := &awsecs.RunTaskInput{Cluster: aws.String("dev"), TaskDefinition: aws.String("web"), Count: aws.Int32(2),
		ClientToken:          aws.String("retry-me"),
		NetworkConfiguration: &types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{Subnets: []string{"s"}}}}
	first, err := e.client.RunTask(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	again, err := e.client.RunTask(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Tasks) != 2 || aws.ToString(again.Tasks[0].TaskArn) != aws.ToString(first.Tasks[0].TaskArn) {
		t.Errorf("retry returned %d tasks, first %v", len(again.Tasks), again.Tasks)
	}
	in.ClientToken = aws.String("another")
	if other, _ := e.client.RunTask(ctx, in); len(other.Tasks) != 2 || aws.ToString(other.Tasks[0].TaskArn) == aws.ToString(first.Tasks[0].TaskArn) {
		t.Errorf("a new token did not start new tasks")
	}
	listed, _ := e.client.ListTasks(ctx, &awsecs.ListTasksInput{Cluster: aws.String("dev")})
	if len(listed.TaskArns) != 4 {
		t.Errorf("%d tasks, want 4 (2 per distinct token)", len(listed.TaskArns))
	}
}
