package elbv2_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/kumo-project/kumo/internal/kumotest"
	"github.com/kumo-project/kumo/internal/testimages"
)

// TestTaskReachesALBByName runs a real kumo with an ALB whose HTTP listener
// forwards to an HTTP server of the test, and an awsvpc task that fetches
// through the ALB by its DNS name with busybox wget. kumo's DNS answers the
// task with the bridge IP, where the data plane routes by Host: the target
// sees the request with the ALB's name and the task's address, and a Host
// that names no load balancer gets ALB's 503 there.
func TestTaskReachesALBByName(t *testing.T) {
	target, requests := recordingTarget(t)
	busybox, err := testimages.Busybox()
	if err != nil {
		t.Fatal(err)
	}
	image := testimages.Push(t, busybox, testimages.StartRegistry(t)+"/kumo/busybox:latest")
	k := kumotest.Start(t)
	ctx := kumotest.Context(t, 3*time.Minute)
	lbs := elb.NewFromConfig(k.AWSConfig())

	lb, err := lbs.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{
		Name: aws.String("from-tasks"), Subnets: []string{"subnet-a", "subnet-b"}, Type: types.LoadBalancerTypeEnumApplication})
	if err != nil {
		t.Fatal(err)
	}
	tg, err := lbs.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{
		Name: aws.String("from-tasks"), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(int32(target.Port())),
		VpcId: aws.String("vpc-local"), TargetType: types.TargetTypeEnumIp})
	if err != nil {
		t.Fatal(err)
	}
	tgARN := tg.TargetGroups[0].TargetGroupArn
	if _, err := lbs.RegisterTargets(ctx, &elb.RegisterTargetsInput{TargetGroupArn: tgARN, Targets: []types.TargetDescription{
		{Id: aws.String(target.Addr().String()), Port: aws.Int32(int32(target.Port()))}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := lbs.CreateListener(ctx, &elb.CreateListenerInput{LoadBalancerArn: lb.LoadBalancers[0].LoadBalancerArn,
		Protocol: types.ProtocolEnumHttp, Port: aws.Int32(8080),
		DefaultActions: []types.Action{{Type: types.ActionTypeEnumForward, TargetGroupArn: tgARN}}}); err != nil {
		t.Fatal(err)
	}

	name := aws.ToString(lb.LoadBalancers[0].DNSName)
	// Each check exits with its own code; the bridge IP is the task's
	// gateway. The data plane applies a new listener within a moment, so
	// the first fetch is retried for a few seconds.
	script := fmt.Sprintf(`for i in 1 2 3 4 5 6 7 8 9 10; do out=$(timeout 5 wget -q -O - http://%s:8080/via-alb) && break; sleep 1; done
[ -n "$out" ] || exit 3
[ "$out" = "target answered /via-alb" ] || exit 4
gw=$(ip route | awk '/^default/ {print $3}')
timeout 5 wget -O /dev/null http://$gw:8080/ 2>&1 | grep -q 'HTTP/1.1 503 ' || exit 5
exit 0`, name)
	task := k.RunScript(t, "alb", image, script)
	if code := task.Containers[0].ExitCode; code == nil || *code != 0 {
		t.Fatalf("task exited %v (%s) (3: no answer through the ALB's name, 4: not the target's answer, "+
			"5: a Host of no load balancer did not get ALB's 503), want 0", aws.ToInt32(code), aws.ToString(task.StoppedReason))
	}
	want := name + ":8080 from " + taskIP(task)
	if got := requests(); !strings.Contains(got, want) {
		t.Errorf("target saw %q, want a request for %q", got, want)
	}
}

// recordingTarget is an HTTP server on 127.0.0.1 that answers the path it
// was asked and records each request's Host and X-Forwarded-For.
func recordingTarget(t *testing.T) (netip.AddrPort, func() string) {
	t.Helper()
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Host+" from "+r.Header.Get("X-Forwarded-For"))
		mu.Unlock()
		fmt.Fprintf(w, "target answered %s", r.URL.Path)
	}))
	t.Cleanup(srv.Close)
	return netip.MustParseAddrPort(strings.TrimPrefix(srv.URL, "http://")), func() string {
		mu.Lock()
		defer mu.Unlock()
		return strings.Join(seen, "; ")
	}
}

// taskIP is the private IPv4 address of an awsvpc task.
func taskIP(task ecstypes.Task) string {
	for _, a := range task.Attachments {
		for _, d := range a.Details {
			if aws.ToString(d.Name) == "privateIPv4Address" {
				return aws.ToString(d.Value)
			}
		}
	}
	return ""
}
