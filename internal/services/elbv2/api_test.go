package elbv2

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsacm "github.com/aws/aws-sdk-go-v2/service/acm"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go"

	"github.com/kumo-project/kumo/internal/clock"
	"github.com/kumo-project/kumo/internal/gateway"
	"github.com/kumo-project/kumo/internal/services/acm"
	"github.com/kumo-project/kumo/internal/store"
)

// fastClock is the wall clock with tickers 50 times faster, so health
// checks with AWS's minimum 5 s interval run every 100 ms in tests.
type fastClock struct{ clock.Real }

func (fastClock) NewTicker(d time.Duration) clock.Ticker { return clock.Real{}.NewTicker(d / 50) }

// apiEnv is ELBv2 and ACM behind the real gateway, driven by the real SDK,
// with the real data plane serving on this test's loopback addresses.
type apiEnv struct {
	elb *elb.Client
	acm *awsacm.Client
	svc *Service
}

func newAPIEnv(t *testing.T) *apiEnv {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var svc *Service
	certs := acm.New(acm.Config{Store: st, Clock: clock.Real{}, Log: log, DataDir: dir,
		Users: func(ctx context.Context, a string) ([]string, error) { return svc.CertificateUsers(ctx, a) }})
	svc = New(Config{Store: st, Clock: fastClock{}, Log: log, Certificates: certs, InstanceID: t.Name(), DataDir: dir})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); svc.Wait() })
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	gw := gateway.New(gateway.AnyCredentials{AccountID: "000000000000", DefaultRegion: "us-east-1"}, log)
	gw.Register(svc.Gateway())
	gw.Register(certs.Gateway())
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	cfg := aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(srv.URL),
	}
	return &apiEnv{elb: elb.NewFromConfig(cfg), acm: awsacm.NewFromConfig(cfg), svc: svc}
}

func errorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

func (e *apiEnv) createLB(t *testing.T, name string) types.LoadBalancer {
	t.Helper()
	out, err := e.elb.CreateLoadBalancer(context.Background(), &elb.CreateLoadBalancerInput{
		Name: aws.String(name), Subnets: []string{"subnet-a", "subnet-b"}, Type: types.LoadBalancerTypeEnumApplication})
	if err != nil {
		t.Fatal(err)
	}
	return out.LoadBalancers[0]
}

func (e *apiEnv) createTG(t *testing.T, name string, port int32) types.TargetGroup {
	t.Helper()
	out, err := e.elb.CreateTargetGroup(context.Background(), &elb.CreateTargetGroupInput{
		Name: aws.String(name), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(port), VpcId: aws.String("vpc-local"),
		TargetType: types.TargetTypeEnumIp, HealthCheckPath: aws.String("/health"),
		HealthCheckIntervalSeconds: aws.Int32(5), HealthyThresholdCount: aws.Int32(2), UnhealthyThresholdCount: aws.Int32(2),
		HealthCheckTimeoutSeconds: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	return out.TargetGroups[0]
}

// backend is a target on 127.0.0.1 answering its name; /health answers
// the status held in health.
type backend struct {
	name   string
	port   int32
	health atomic.Int32
}

func newBackend(t *testing.T, name string) *backend {
	b := &backend{name: name}
	b.health.Store(200)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			w.WriteHeader(int(b.health.Load()))
			return
		}
		fmt.Fprintf(w, "%s %s", name, r.Header.Get("X-Forwarded-Proto"))
	}))
	t.Cleanup(srv.Close)
	var port int
	fmt.Sscanf(srv.URL[strings.LastIndex(srv.URL, ":")+1:], "%d", &port)
	b.port = int32(port)
	return b
}

func (e *apiEnv) register(t *testing.T, tg types.TargetGroup, bs ...*backend) {
	t.Helper()
	var targets []types.TargetDescription
	for _, b := range bs {
		targets = append(targets, types.TargetDescription{Id: aws.String("127.0.0.1"), Port: aws.Int32(b.port)})
	}
	if _, err := e.elb.RegisterTargets(context.Background(), &elb.RegisterTargetsInput{TargetGroupArn: tg.TargetGroupArn, Targets: targets}); err != nil {
		t.Fatal(err)
	}
}

func lbAddress(lb types.LoadBalancer) string {
	return *lb.AvailabilityZones[0].LoadBalancerAddresses[0].IpAddress
}

// eventually retries check for up to 5 s.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	var err error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if err = check(); err == nil {
			return
		}
	}
	t.Fatalf("%s: %v", what, err)
}

func httpGet(client *http.Client, url string, hdr ...string) (int, string, http.Header, error) {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header, nil
}

var plainClient = &http.Client{Timeout: 5 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// expectBody waits until a request answers want (the data plane applies
// changes a moment after the API call returns).
func expectBody(t *testing.T, url, want string, hdr ...string) {
	t.Helper()
	eventually(t, "GET "+url, func() error {
		status, body, _, err := httpGet(plainClient, url, hdr...)
		if err != nil {
			return err
		}
		if fmt.Sprintf("%d %s", status, body) != want {
			return fmt.Errorf("got %d %q, want %q", status, body, want)
		}
		return nil
	})
}

func TestLoadBalancers(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	ctx := context.Background()
	lb := e.createLB(t, "web-alb")
	if !strings.HasPrefix(*lb.LoadBalancerArn, "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/web-alb/") ||
		!strings.HasPrefix(*lb.DNSName, "web-alb-") || !strings.HasSuffix(*lb.DNSName, ".us-east-1.elb.localhost") ||
		lb.State.Code != types.LoadBalancerStateEnumActive || lb.Scheme != types.LoadBalancerSchemeEnumInternetFacing ||
		len(lb.AvailabilityZones) != 2 || !strings.HasPrefix(lbAddress(lb), "127.") {
		t.Fatalf("load balancer %+v", lb)
	}
	if again := e.createLB(t, "web-alb"); *again.LoadBalancerArn != *lb.LoadBalancerArn {
		t.Fatal("same create request made a second load balancer")
	}
	if other := e.createLB(t, "other-alb"); lbAddress(other) == lbAddress(lb) {
		t.Fatal("two load balancers share an address")
	}
	errCases := []struct {
		name string
		in   *elb.CreateLoadBalancerInput
		code string
	}{
		{"duplicate name, other settings", &elb.CreateLoadBalancerInput{Name: aws.String("web-alb"), Subnets: []string{"subnet-x", "subnet-y"}}, "DuplicateLoadBalancerName"},
		{"bad name", &elb.CreateLoadBalancerInput{Name: aws.String("-bad"), Subnets: []string{"a", "b"}}, "ValidationError"},
		{"one subnet", &elb.CreateLoadBalancerInput{Name: aws.String("one"), Subnets: []string{"a"}}, "ValidationError"},
		{"network type", &elb.CreateLoadBalancerInput{Name: aws.String("nlb"), Subnets: []string{"a", "b"}, Type: types.LoadBalancerTypeEnumNetwork}, "ValidationError"},
	}
	for _, tc := range errCases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := e.elb.CreateLoadBalancer(ctx, tc.in); errorCode(err) != tc.code {
				t.Fatalf("error %v, want %s", err, tc.code)
			}
		})
	}
	t.Run("describe", func(t *testing.T) {
		out, err := e.elb.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{Names: []string{"web-alb"}})
		if err != nil || len(out.LoadBalancers) != 1 || *out.LoadBalancers[0].LoadBalancerArn != *lb.LoadBalancerArn {
			t.Fatalf("by name: %+v %v", out, err)
		}
		page, err := e.elb.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{PageSize: aws.Int32(1)})
		if err != nil || len(page.LoadBalancers) != 1 || page.NextMarker == nil {
			t.Fatalf("first page: %+v %v", page, err)
		}
		rest, err := e.elb.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{Marker: page.NextMarker})
		if err != nil || len(rest.LoadBalancers) != 1 || rest.NextMarker != nil {
			t.Fatalf("second page: %+v %v", rest, err)
		}
		_, err = e.elb.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{Names: []string{"missing"}})
		if errorCode(err) != "LoadBalancerNotFound" {
			t.Fatalf("missing: %v", err)
		}
	})
	t.Run("attributes", func(t *testing.T) {
		out, err := e.elb.ModifyLoadBalancerAttributes(ctx, &elb.ModifyLoadBalancerAttributesInput{LoadBalancerArn: lb.LoadBalancerArn,
			Attributes: []types.LoadBalancerAttribute{{Key: aws.String("idle_timeout.timeout_seconds"), Value: aws.String("30")},
				{Key: aws.String("deletion_protection.enabled"), Value: aws.String("true")}}})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, a := range out.Attributes {
			got[*a.Key] = aws.ToString(a.Value)
		}
		if got["idle_timeout.timeout_seconds"] != "30" || got["routing.http2.enabled"] != "true" {
			t.Fatalf("attributes %v", got)
		}
		for _, bad := range []types.LoadBalancerAttribute{{Key: aws.String("nope"), Value: aws.String("1")},
			{Key: aws.String("idle_timeout.timeout_seconds"), Value: aws.String("0")}} {
			_, err := e.elb.ModifyLoadBalancerAttributes(ctx, &elb.ModifyLoadBalancerAttributesInput{LoadBalancerArn: lb.LoadBalancerArn,
				Attributes: []types.LoadBalancerAttribute{bad}})
			if errorCode(err) != "ValidationError" {
				t.Fatalf("attribute %s=%s: %v", *bad.Key, *bad.Value, err)
			}
		}
	})
	t.Run("settings", func(t *testing.T) {
		sg, err := e.elb.SetSecurityGroups(ctx, &elb.SetSecurityGroupsInput{LoadBalancerArn: lb.LoadBalancerArn, SecurityGroups: []string{"sg-1"}})
		if err != nil || sg.SecurityGroupIds[0] != "sg-1" {
			t.Fatalf("security groups %+v %v", sg, err)
		}
		sn, err := e.elb.SetSubnets(ctx, &elb.SetSubnetsInput{LoadBalancerArn: lb.LoadBalancerArn, Subnets: []string{"subnet-a", "subnet-b", "subnet-c"}})
		if err != nil || len(sn.AvailabilityZones) != 3 || *sn.AvailabilityZones[2].LoadBalancerAddresses[0].IpAddress != lbAddress(lb) {
			t.Fatalf("subnets %+v %v", sn, err)
		}
		if _, err := e.elb.SetSubnets(ctx, &elb.SetSubnetsInput{LoadBalancerArn: lb.LoadBalancerArn, Subnets: []string{"subnet-a"}}); errorCode(err) != "ValidationError" {
			t.Fatalf("one subnet: %v", err)
		}
		ip, err := e.elb.SetIpAddressType(ctx, &elb.SetIpAddressTypeInput{LoadBalancerArn: lb.LoadBalancerArn, IpAddressType: types.IpAddressTypeDualstack})
		if err != nil || ip.IpAddressType != types.IpAddressTypeDualstack {
			t.Fatalf("ip address type %+v %v", ip, err)
		}
		limits, err := e.elb.DescribeAccountLimits(ctx, &elb.DescribeAccountLimitsInput{})
		if err != nil || len(limits.Limits) == 0 {
			t.Fatalf("limits %+v %v", limits, err)
		}
	})
	t.Run("delete", func(t *testing.T) {
		_, err := e.elb.DeleteLoadBalancer(ctx, &elb.DeleteLoadBalancerInput{LoadBalancerArn: lb.LoadBalancerArn})
		if errorCode(err) != "OperationNotPermitted" {
			t.Fatalf("delete with deletion protection: %v", err)
		}
		e.elb.ModifyLoadBalancerAttributes(ctx, &elb.ModifyLoadBalancerAttributesInput{LoadBalancerArn: lb.LoadBalancerArn,
			Attributes: []types.LoadBalancerAttribute{{Key: aws.String("deletion_protection.enabled"), Value: aws.String("false")}}})
		if _, err := e.elb.DeleteLoadBalancer(ctx, &elb.DeleteLoadBalancerInput{LoadBalancerArn: lb.LoadBalancerArn}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.elb.DeleteLoadBalancer(ctx, &elb.DeleteLoadBalancerInput{LoadBalancerArn: lb.LoadBalancerArn}); err != nil {
			t.Fatalf("deleting again should succeed: %v", err)
		}
		_, err = e.elb.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{LoadBalancerArns: []string{*lb.LoadBalancerArn}})
		if errorCode(err) != "LoadBalancerNotFound" {
			t.Fatalf("deleted load balancer: %v", err)
		}
	})
}

func TestTargetGroups(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	ctx := context.Background()
	out, err := e.elb.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{Name: aws.String("web-tg"), Protocol: types.ProtocolEnumHttp,
		Port: aws.Int32(8080), VpcId: aws.String("vpc-local"), TargetType: types.TargetTypeEnumIp})
	if err != nil {
		t.Fatal(err)
	}
	tg := out.TargetGroups[0]
	if !strings.HasPrefix(*tg.TargetGroupArn, "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/web-tg/") ||
		*tg.HealthCheckPath != "/" || *tg.HealthCheckIntervalSeconds != 30 || *tg.HealthCheckTimeoutSeconds != 5 ||
		*tg.HealthyThresholdCount != 5 || *tg.UnhealthyThresholdCount != 2 || *tg.Matcher.HttpCode != "200" ||
		*tg.HealthCheckPort != "traffic-port" || tg.HealthCheckProtocol != types.ProtocolEnumHttp {
		t.Fatalf("defaults %+v", tg)
	}
	create := func(mod func(*elb.CreateTargetGroupInput)) error {
		in := &elb.CreateTargetGroupInput{Name: aws.String("other-tg"), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(80),
			VpcId: aws.String("vpc-local"), TargetType: types.TargetTypeEnumIp}
		mod(in)
		_, err := e.elb.CreateTargetGroup(ctx, in)
		return err
	}
	errCases := []struct {
		name string
		mod  func(*elb.CreateTargetGroupInput)
		code string
	}{
		{"duplicate name", func(in *elb.CreateTargetGroupInput) { in.Name = aws.String("web-tg") }, "DuplicateTargetGroupName"},
		{"timeout not below interval", func(in *elb.CreateTargetGroupInput) {
			in.HealthCheckIntervalSeconds, in.HealthCheckTimeoutSeconds = aws.Int32(5), aws.Int32(5)
		}, "ValidationError"},
		{"bad matcher", func(in *elb.CreateTargetGroupInput) { in.Matcher = &types.Matcher{HttpCode: aws.String("600")} }, "ValidationError"},
		{"no port", func(in *elb.CreateTargetGroupInput) { in.Port = nil }, "ValidationError"},
		{"tcp", func(in *elb.CreateTargetGroupInput) { in.Protocol = types.ProtocolEnumTcp }, "ValidationError"},
	}
	for _, tc := range errCases {
		t.Run(tc.name, func(t *testing.T) {
			if code := errorCode(create(tc.mod)); code != tc.code {
				t.Fatalf("error %q, want %q", code, tc.code)
			}
		})
	}
	t.Run("matcher ranges", func(t *testing.T) {
		if err := create(func(in *elb.CreateTargetGroupInput) { in.Matcher = &types.Matcher{HttpCode: aws.String("200-299,301")} }); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("targets", func(t *testing.T) {
		_, err := e.elb.RegisterTargets(ctx, &elb.RegisterTargetsInput{TargetGroupArn: tg.TargetGroupArn,
			Targets: []types.TargetDescription{{Id: aws.String("10.0.0.5")}, {Id: aws.String("10.0.0.6"), Port: aws.Int32(9090)}}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.elb.RegisterTargets(ctx, &elb.RegisterTargetsInput{TargetGroupArn: tg.TargetGroupArn,
			Targets: []types.TargetDescription{{Id: aws.String("not-an-ip")}}})
		if errorCode(err) != "InvalidTarget" {
			t.Fatalf("bad IP: %v", err)
		}
		h, err := e.elb.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: tg.TargetGroupArn})
		if err != nil || len(h.TargetHealthDescriptions) != 2 {
			t.Fatalf("health %+v %v", h, err)
		}
		eventually(t, "unused state", func() error {
			h, _ := e.elb.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: tg.TargetGroupArn})
			th := h.TargetHealthDescriptions[0].TargetHealth
			if th.State != types.TargetHealthStateEnumUnused || th.Reason != types.TargetHealthReasonEnumNotInUse {
				return fmt.Errorf("target in a group no load balancer uses: %s %s", th.State, th.Reason)
			}
			return nil
		})
		if *h.TargetHealthDescriptions[0].Target.Port != 8080 || *h.TargetHealthDescriptions[0].HealthCheckPort != "8080" {
			t.Fatalf("default port %+v", h.TargetHealthDescriptions[0])
		}
		h, err = e.elb.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: tg.TargetGroupArn,
			Targets: []types.TargetDescription{{Id: aws.String("10.9.9.9")}}})
		if err != nil || h.TargetHealthDescriptions[0].TargetHealth.Reason != types.TargetHealthReasonEnumNotRegistered {
			t.Fatalf("unregistered target %+v %v", h, err)
		}
		_, err = e.elb.DeregisterTargets(ctx, &elb.DeregisterTargetsInput{TargetGroupArn: tg.TargetGroupArn,
			Targets: []types.TargetDescription{{Id: aws.String("10.9.9.9")}}})
		if errorCode(err) != "InvalidTarget" {
			t.Fatalf("deregister unknown: %v", err)
		}
	})
	t.Run("attributes", func(t *testing.T) {
		out, err := e.elb.ModifyTargetGroupAttributes(ctx, &elb.ModifyTargetGroupAttributesInput{TargetGroupArn: tg.TargetGroupArn,
			Attributes: []types.TargetGroupAttribute{
				{Key: aws.String("load_balancing.algorithm.type"), Value: aws.String("least_outstanding_requests")},
				{Key: aws.String("stickiness.enabled"), Value: aws.String("true")},
				{Key: aws.String("deregistration_delay.timeout_seconds"), Value: aws.String("5")},
				{Key: aws.String("slow_start.duration_seconds"), Value: aws.String("30")}}})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, a := range out.Attributes {
			got[*a.Key] = aws.ToString(a.Value)
		}
		if got["stickiness.type"] != "lb_cookie" || got["stickiness.lb_cookie.duration_seconds"] != "86400" || got["deregistration_delay.timeout_seconds"] != "5" {
			t.Fatalf("attributes %v", got)
		}
		_, err = e.elb.ModifyTargetGroupAttributes(ctx, &elb.ModifyTargetGroupAttributesInput{TargetGroupArn: tg.TargetGroupArn,
			Attributes: []types.TargetGroupAttribute{{Key: aws.String("load_balancing.algorithm.type"), Value: aws.String("random")}}})
		if errorCode(err) != "ValidationError" {
			t.Fatalf("bad algorithm: %v", err)
		}
	})
	t.Run("modify", func(t *testing.T) {
		out, err := e.elb.ModifyTargetGroup(ctx, &elb.ModifyTargetGroupInput{TargetGroupArn: tg.TargetGroupArn,
			HealthCheckPath: aws.String("/health"), Matcher: &types.Matcher{HttpCode: aws.String("200-399")}})
		if err != nil || *out.TargetGroups[0].HealthCheckPath != "/health" || *out.TargetGroups[0].Matcher.HttpCode != "200-399" {
			t.Fatalf("modify %+v %v", out, err)
		}
	})
	t.Run("not found", func(t *testing.T) {
		missing := "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/nope/0123456789abcdef"
		_, err := e.elb.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(missing)})
		if errorCode(err) != "TargetGroupNotFound" {
			t.Fatalf("health of missing group: %v", err)
		}
		_, err = e.elb.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{Names: []string{"nope"}})
		if errorCode(err) != "TargetGroupNotFound" {
			t.Fatalf("describe missing: %v", err)
		}
	})
}

// TestListenersRulesAndTraffic is the flow: a load balancer, two
// target groups with real backends, a listener, rules; then real requests.
func TestListenersRulesAndTraffic(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	ctx := context.Background()
	lb := e.createLB(t, "web-alb")
	web, api := e.createTG(t, "web-tg", 8080), e.createTG(t, "api-tg", 8080)
	w1, w2, a1 := newBackend(t, "w1"), newBackend(t, "w2"), newBackend(t, "a1")
	e.register(t, web, w1, w2)
	e.register(t, api, a1)
	forward := func(tg types.TargetGroup) []types.Action {
		return []types.Action{{Type: types.ActionTypeEnumForward, TargetGroupArn: tg.TargetGroupArn}}
	}
	lout, err := e.elb.CreateListener(ctx, &elb.CreateListenerInput{LoadBalancerArn: lb.LoadBalancerArn,
		Protocol: types.ProtocolEnumHttp, Port: aws.Int32(80), DefaultActions: forward(web)})
	if err != nil {
		t.Fatal(err)
	}
	listener := lout.Listeners[0]
	if !strings.Contains(*listener.ListenerArn, ":listener/app/web-alb/") || *listener.DefaultActions[0].ForwardConfig.TargetGroups[0].Weight != 1 {
		t.Fatalf("listener %+v", listener)
	}
	rout, err := e.elb.CreateRule(ctx, &elb.CreateRuleInput{ListenerArn: listener.ListenerArn, Priority: aws.Int32(10),
		Conditions: []types.RuleCondition{{Field: aws.String("path-pattern"), Values: []string{"/api/*"}}}, Actions: forward(api)})
	if err != nil {
		t.Fatal(err)
	}
	apiRule := rout.Rules[0]
	base := "http://" + lbAddress(lb)
	expectBody(t, base+"/api/x", "200 a1 http")

	t.Run("targets become healthy", func(t *testing.T) {
		eventually(t, "healthy", func() error {
			h, err := e.elb.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: web.TargetGroupArn})
			if err != nil {
				return err
			}
			for _, d := range h.TargetHealthDescriptions {
				if d.TargetHealth.State != types.TargetHealthStateEnumHealthy {
					return fmt.Errorf("%d: %s", *d.Target.Port, d.TargetHealth.State)
				}
			}
			return nil
		})
		tgs, err := e.elb.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{LoadBalancerArn: lb.LoadBalancerArn})
		if err != nil || len(tgs.TargetGroups) != 2 || tgs.TargetGroups[0].LoadBalancerArns[0] != *lb.LoadBalancerArn {
			t.Fatalf("groups of the load balancer %+v %v", tgs, err)
		}
	})
	t.Run("round robin over the two web targets", func(t *testing.T) {
		seen := map[string]int{}
		for range 6 {
			_, body, _, err := httpGet(plainClient, base+"/")
			if err != nil {
				t.Fatal(err)
			}
			seen[body]++
		}
		if seen["w1 http"] != 3 || seen["w2 http"] != 3 {
			t.Fatalf("spread %v", seen)
		}
	})
	t.Run("an unhealthy target gets no traffic", func(t *testing.T) {
		w2.health.Store(503)
		eventually(t, "unhealthy", func() error {
			h, _ := e.elb.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: web.TargetGroupArn,
				Targets: []types.TargetDescription{{Id: aws.String("127.0.0.1"), Port: aws.Int32(w2.port)}}})
			th := h.TargetHealthDescriptions[0].TargetHealth
			if th.State != types.TargetHealthStateEnumUnhealthy || th.Reason != types.TargetHealthReasonEnumResponseCodeMismatch ||
				*th.Description != "Health checks failed with these codes: [503]" {
				return fmt.Errorf("%s %s", th.State, th.Reason)
			}
			return nil
		})
		for range 4 {
			if _, body, _, _ := httpGet(plainClient, base+"/"); body != "w1 http" {
				t.Fatalf("traffic went to %q", body)
			}
		}
		w2.health.Store(200)
	})
	t.Run("rule errors", func(t *testing.T) {
		cases := []struct {
			name string
			in   *elb.CreateRuleInput
			code string
		}{
			{"priority in use", &elb.CreateRuleInput{ListenerArn: listener.ListenerArn, Priority: aws.Int32(10),
				Conditions: []types.RuleCondition{{Field: aws.String("path-pattern"), Values: []string{"/b"}}}, Actions: forward(api)}, "PriorityInUse"},
			{"unknown target group", &elb.CreateRuleInput{ListenerArn: listener.ListenerArn, Priority: aws.Int32(11),
				Conditions: []types.RuleCondition{{Field: aws.String("path-pattern"), Values: []string{"/b"}}},
				Actions:    []types.Action{{Type: types.ActionTypeEnumForward, TargetGroupArn: aws.String(strings.Replace(*api.TargetGroupArn, "api-tg", "zzz", 1))}}}, "TargetGroupNotFound"},
			{"unknown field", &elb.CreateRuleInput{ListenerArn: listener.ListenerArn, Priority: aws.Int32(12),
				Conditions: []types.RuleCondition{{Field: aws.String("cookie"), Values: []string{"a"}}}, Actions: forward(api)}, "ValidationError"},
			{"too many values", &elb.CreateRuleInput{ListenerArn: listener.ListenerArn, Priority: aws.Int32(13),
				Conditions: []types.RuleCondition{{Field: aws.String("path-pattern"), Values: []string{"/1", "/2", "/3", "/4", "/5", "/6"}}}, Actions: forward(api)}, "ValidationError"},
			{"bad source ip", &elb.CreateRuleInput{ListenerArn: listener.ListenerArn, Priority: aws.Int32(14),
				Conditions: []types.RuleCondition{{Field: aws.String("source-ip"), SourceIpConfig: &types.SourceIpConditionConfig{Values: []string{"nope"}}}}, Actions: forward(api)}, "ValidationError"},
			{"redirect to itself", &elb.CreateRuleInput{ListenerArn: listener.ListenerArn, Priority: aws.Int32(15),
				Conditions: []types.RuleCondition{{Field: aws.String("path-pattern"), Values: []string{"/r"}}},
				Actions:    []types.Action{{Type: types.ActionTypeEnumRedirect, RedirectConfig: &types.RedirectActionConfig{StatusCode: types.RedirectActionStatusCodeEnumHttp301}}}}, "InvalidLoadBalancerAction"},
			{"missing listener", &elb.CreateRuleInput{ListenerArn: aws.String(*listener.ListenerArn + "0"), Priority: aws.Int32(16),
				Conditions: []types.RuleCondition{{Field: aws.String("path-pattern"), Values: []string{"/b"}}}, Actions: forward(api)}, "ListenerNotFound"},
		}
		for _, tc := range cases {
			if _, err := e.elb.CreateRule(ctx, tc.in); errorCode(err) != tc.code {
				t.Errorf("%s: error %v, want %s", tc.name, err, tc.code)
			}
		}
	})
	t.Run("conditions and actions", func(t *testing.T) {
		rules := []*elb.CreateRuleInput{
			{Priority: aws.Int32(20), Conditions: []types.RuleCondition{{Field: aws.String("host-header"), HostHeaderConfig: &types.HostHeaderConditionConfig{Values: []string{"api.*"}}}}, Actions: forward(api)},
			{Priority: aws.Int32(21), Conditions: []types.RuleCondition{{Field: aws.String("http-header"), HttpHeaderConfig: &types.HttpHeaderConditionConfig{HttpHeaderName: aws.String("X-Beta"), Values: []string{"on"}}}}, Actions: forward(api)},
			{Priority: aws.Int32(22), Conditions: []types.RuleCondition{{Field: aws.String("http-request-method"), HttpRequestMethodConfig: &types.HttpRequestMethodConditionConfig{Values: []string{"POST"}}}},
				Actions: []types.Action{{Type: types.ActionTypeEnumFixedResponse, FixedResponseConfig: &types.FixedResponseActionConfig{StatusCode: aws.String("405"), MessageBody: aws.String("read only")}}}},
			{Priority: aws.Int32(23), Conditions: []types.RuleCondition{{Field: aws.String("query-string"), QueryStringConfig: &types.QueryStringConditionConfig{Values: []types.QueryStringKeyValuePair{{Key: aws.String("beta"), Value: aws.String("1")}}}}}, Actions: forward(api)},
			{Priority: aws.Int32(24), Conditions: []types.RuleCondition{{Field: aws.String("source-ip"), SourceIpConfig: &types.SourceIpConditionConfig{Values: []string{"192.0.2.0/24"}}}}, Actions: forward(api)},
			{Priority: aws.Int32(25), Conditions: []types.RuleCondition{{Field: aws.String("path-pattern"), Values: []string{"/old/*"}}},
				Actions: []types.Action{{Type: types.ActionTypeEnumRedirect, RedirectConfig: &types.RedirectActionConfig{Protocol: aws.String("HTTPS"), Port: aws.String("443"), Path: aws.String("/new/#{path}"), StatusCode: types.RedirectActionStatusCodeEnumHttp301}}}},
		}
		for _, in := range rules {
			in.ListenerArn = listener.ListenerArn
			if _, err := e.elb.CreateRule(ctx, in); err != nil {
				t.Fatalf("priority %d: %v", *in.Priority, err)
			}
		}
		expectBody(t, base+"/", "200 a1 http", "Host", "api.example.test")
		expectBody(t, base+"/", "200 a1 http", "X-Beta", "on")
		expectBody(t, base+"/?beta=1", "200 a1 http")
		eventually(t, "redirect", func() error {
			status, _, h, err := httpGet(plainClient, base+"/old/page?q=1", "Host", "shop.test")
			if err != nil || status != 301 || h.Get("Location") != "https://shop.test:443/new/old/page?q=1" {
				return fmt.Errorf("%d %q %v", status, h.Get("Location"), err)
			}
			return nil
		})
		resp, err := plainClient.Post(base+"/x", "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 405 || string(body) != "read only" {
			t.Fatalf("POST got %d %q", resp.StatusCode, body)
		}
		d, err := e.elb.DescribeRules(ctx, &elb.DescribeRulesInput{ListenerArn: listener.ListenerArn})
		if err != nil || len(d.Rules) != 8 || *d.Rules[0].Priority != "10" || *d.Rules[7].Priority != "default" || !*d.Rules[7].IsDefault {
			t.Fatalf("rules %+v %v", d, err)
		}
		page, err := e.elb.DescribeRules(ctx, &elb.DescribeRulesInput{ListenerArn: listener.ListenerArn, PageSize: aws.Int32(5)})
		if err != nil || len(page.Rules) != 5 || page.NextMarker == nil {
			t.Fatalf("first page of rules %+v %v", page, err)
		}
		rest, err := e.elb.DescribeRules(ctx, &elb.DescribeRulesInput{ListenerArn: listener.ListenerArn, Marker: page.NextMarker})
		if err != nil || len(rest.Rules) != 3 || *rest.Rules[2].Priority != "default" {
			t.Fatalf("second page of rules %+v %v", rest, err)
		}
		if hc := d.Rules[1].Conditions[0]; hc.Values[0] != "api.*" || hc.HostHeaderConfig.Values[0] != "api.*" {
			t.Fatalf("host condition as described %+v", hc)
		}
		_, err = e.elb.DeleteRule(ctx, &elb.DeleteRuleInput{RuleArn: d.Rules[7].RuleArn})
		if errorCode(err) != "OperationNotPermitted" {
			t.Fatalf("delete of the default rule: %v", err)
		}
	})
	t.Run("sorry page switched on by a priority change", func(t *testing.T) {
		sorry, err := e.elb.CreateRule(ctx, &elb.CreateRuleInput{ListenerArn: listener.ListenerArn, Priority: aws.Int32(100),
			Conditions: []types.RuleCondition{{Field: aws.String("path-pattern"), Values: []string{"/*"}}},
			Actions: []types.Action{{Type: types.ActionTypeEnumFixedResponse, FixedResponseConfig: &types.FixedResponseActionConfig{
				StatusCode: aws.String("503"), ContentType: aws.String("text/html"), MessageBody: aws.String("<h1>maintenance</h1>")}}}})
		if err != nil {
			t.Fatal(err)
		}
		expectBody(t, base+"/api/x", "200 a1 http")
		_, err = e.elb.SetRulePriorities(ctx, &elb.SetRulePrioritiesInput{RulePriorities: []types.RulePriorityPair{
			{RuleArn: sorry.Rules[0].RuleArn, Priority: aws.Int32(10)}, {RuleArn: apiRule.RuleArn, Priority: aws.Int32(100)}}})
		if err != nil {
			t.Fatal(err)
		}
		expectBody(t, base+"/api/x", "503 <h1>maintenance</h1>")
		_, err = e.elb.SetRulePriorities(ctx, &elb.SetRulePrioritiesInput{RulePriorities: []types.RulePriorityPair{
			{RuleArn: sorry.Rules[0].RuleArn, Priority: aws.Int32(20)}}})
		if errorCode(err) != "PriorityInUse" {
			t.Fatalf("clashing priority: %v", err)
		}
		if _, err := e.elb.DeleteRule(ctx, &elb.DeleteRuleInput{RuleArn: sorry.Rules[0].RuleArn}); err != nil {
			t.Fatal(err)
		}
		expectBody(t, base+"/api/x", "200 a1 http")
	})
	t.Run("modify rule", func(t *testing.T) {
		_, err := e.elb.ModifyRule(ctx, &elb.ModifyRuleInput{RuleArn: apiRule.RuleArn, Actions: forward(web)})
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, "rule change", func() error {
			if _, body, _, _ := httpGet(plainClient, base+"/api/x"); !strings.HasPrefix(body, "w") {
				return fmt.Errorf("answered by %q", body)
			}
			return nil
		})
	})
	t.Run("listener errors", func(t *testing.T) {
		cases := []struct {
			name string
			in   *elb.CreateListenerInput
			code string
		}{
			{"duplicate port", &elb.CreateListenerInput{Protocol: types.ProtocolEnumHttp, Port: aws.Int32(80), DefaultActions: forward(web)}, "DuplicateListener"},
			{"https without certificate", &elb.CreateListenerInput{Protocol: types.ProtocolEnumHttps, Port: aws.Int32(443), DefaultActions: forward(web)}, "ValidationError"},
			{"unknown certificate", &elb.CreateListenerInput{Protocol: types.ProtocolEnumHttps, Port: aws.Int32(443), DefaultActions: forward(web),
				Certificates: []types.Certificate{{CertificateArn: aws.String("arn:aws:acm:us-east-1:000000000000:certificate/none")}}}, "CertificateNotFound"},
			{"tcp", &elb.CreateListenerInput{Protocol: types.ProtocolEnumTcp, Port: aws.Int32(81), DefaultActions: forward(web)}, "UnsupportedProtocol"},
		}
		for _, tc := range cases {
			tc.in.LoadBalancerArn = lb.LoadBalancerArn
			if _, err := e.elb.CreateListener(ctx, tc.in); errorCode(err) != tc.code {
				t.Errorf("%s: error %v, want %s", tc.name, err, tc.code)
			}
		}
		_, err := e.elb.DeleteTargetGroup(ctx, &elb.DeleteTargetGroupInput{TargetGroupArn: web.TargetGroupArn})
		if errorCode(err) != "ResourceInUse" {
			t.Fatalf("delete of a used target group: %v", err)
		}
	})
	t.Run("tags", func(t *testing.T) {
		arns := []string{*lb.LoadBalancerArn, *web.TargetGroupArn, *listener.ListenerArn, *apiRule.RuleArn}
		_, err := e.elb.AddTags(ctx, &elb.AddTagsInput{ResourceArns: arns, Tags: []types.Tag{{Key: aws.String("env"), Value: aws.String("dev")}, {Key: aws.String("x"), Value: aws.String("1")}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.elb.RemoveTags(ctx, &elb.RemoveTagsInput{ResourceArns: arns, TagKeys: []string{"x"}}); err != nil {
			t.Fatal(err)
		}
		d, err := e.elb.DescribeTags(ctx, &elb.DescribeTagsInput{ResourceArns: arns})
		if err != nil || len(d.TagDescriptions) != 4 {
			t.Fatalf("tags %+v %v", d, err)
		}
		for _, td := range d.TagDescriptions {
			if len(td.Tags) != 1 || *td.Tags[0].Key != "env" {
				t.Fatalf("tags of %s: %+v", *td.ResourceArn, td.Tags)
			}
		}
		_, err = e.elb.AddTags(ctx, &elb.AddTagsInput{ResourceArns: arns[:1], Tags: []types.Tag{{Key: aws.String("a"), Value: aws.String("1")}, {Key: aws.String("a"), Value: aws.String("2")}}})
		if errorCode(err) != "DuplicateTagKeys" {
			t.Fatalf("duplicate keys: %v", err)
		}
	})
	t.Run("deregistered target drains and leaves", func(t *testing.T) {
		_, err := e.elb.DeregisterTargets(ctx, &elb.DeregisterTargetsInput{TargetGroupArn: api.TargetGroupArn,
			Targets: []types.TargetDescription{{Id: aws.String("127.0.0.1"), Port: aws.Int32(a1.port)}}})
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, "drained", func() error {
			h, err := e.elb.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: api.TargetGroupArn})
			if err != nil || len(h.TargetHealthDescriptions) != 0 {
				return fmt.Errorf("still registered: %+v %v", h, err)
			}
			return nil
		})
		expectBody(t, base+"/?beta=1", "503 <html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n</body>\r\n</html>\r\n")
	})
	t.Run("delete listener", func(t *testing.T) {
		if _, err := e.elb.DeleteListener(ctx, &elb.DeleteListenerInput{ListenerArn: listener.ListenerArn}); err != nil {
			t.Fatal(err)
		}
		_, err := e.elb.DescribeRules(ctx, &elb.DescribeRulesInput{RuleArns: []string{*apiRule.RuleArn}})
		if errorCode(err) != "RuleNotFound" {
			t.Fatalf("rule of a deleted listener: %v", err)
		}
		eventually(t, "listener closed", func() error {
			if _, err := plainClient.Get(base + "/"); err == nil {
				return errors.New("still answering")
			}
			return nil
		})
	})
}

// TestHTTPSListenerWithACM serves HTTPS with a certificate issued by
// kumo's ACM, swaps it for an imported one, and keeps ACM from deleting a
// certificate in use.
func TestHTTPSListenerWithACM(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	ctx := context.Background()
	lb := e.createLB(t, "secure")
	tg := e.createTG(t, "secure-tg", 8080)
	e.register(t, tg, newBackend(t, "s1"))
	cert, err := e.acm.RequestCertificate(ctx, &awsacm.RequestCertificateInput{DomainName: aws.String(*lb.DNSName)})
	if err != nil {
		t.Fatal(err)
	}
	lout, err := e.elb.CreateListener(ctx, &elb.CreateListenerInput{LoadBalancerArn: lb.LoadBalancerArn, Protocol: types.ProtocolEnumHttps,
		Port: aws.Int32(443), SslPolicy: aws.String("ELBSecurityPolicy-TLS-1-2-2017-01"),
		Certificates:   []types.Certificate{{CertificateArn: cert.CertificateArn}},
		DefaultActions: []types.Action{{Type: types.ActionTypeEnumForward, TargetGroupArn: tg.TargetGroupArn}}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.acm.GetCertificate(ctx, &awsacm.GetCertificateInput{CertificateArn: cert.CertificateArn})
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM([]byte(*got.CertificateChain))
	addr := lbAddress(lb) + ":443"
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: *lb.DNSName}, ForceAttemptHTTP2: true}}
	expectBody := func(want string) {
		t.Helper()
		eventually(t, "HTTPS", func() error {
			resp, err := client.Get("https://" + addr + "/")
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if string(b) != want || resp.ProtoMajor != 2 {
				return fmt.Errorf("got %s %q", resp.Proto, b)
			}
			return nil
		})
	}
	expectBody("s1 https")
	_, err = tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS11})
	if err == nil {
		t.Fatal("TLS 1.1 accepted under ELBSecurityPolicy-TLS-1-2-2017-01")
	}
	_, err = e.acm.DeleteCertificate(ctx, &awsacm.DeleteCertificateInput{CertificateArn: cert.CertificateArn})
	if errorCode(err) != "ResourceInUseException" {
		t.Fatalf("delete of a certificate in use: %v", err)
	}
	d, _ := e.acm.DescribeCertificate(ctx, &awsacm.DescribeCertificateInput{CertificateArn: cert.CertificateArn})
	if len(d.Certificate.InUseBy) != 1 || d.Certificate.InUseBy[0] != *lb.LoadBalancerArn {
		t.Fatalf("InUseBy %v", d.Certificate.InUseBy)
	}
	second, err := e.acm.RequestCertificate(ctx, &awsacm.RequestCertificateInput{DomainName: aws.String(*lb.DNSName)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.elb.ModifyListener(ctx, &elb.ModifyListenerInput{ListenerArn: lout.Listeners[0].ListenerArn,
		Certificates: []types.Certificate{{CertificateArn: second.CertificateArn}}, SslPolicy: aws.String("ELBSecurityPolicy-2016-08")})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "certificate swapped", func() error {
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: *lb.DNSName})
		if err != nil {
			return err
		}
		defer conn.Close()
		if sn := conn.ConnectionState().PeerCertificates[0].SerialNumber; fmt.Sprintf("%x", sn.Bytes()) == "" {
			return errors.New("no serial")
		}
		d, _ := e.acm.DescribeCertificate(ctx, &awsacm.DescribeCertificateInput{CertificateArn: second.CertificateArn})
		if want := strings.ReplaceAll(*d.Certificate.Serial, ":", ""); fmt.Sprintf("%x", conn.ConnectionState().PeerCertificates[0].SerialNumber.Bytes()) != want {
			return errors.New("still the old certificate")
		}
		return nil
	})
	if _, err := e.acm.DeleteCertificate(ctx, &awsacm.DeleteCertificateInput{CertificateArn: cert.CertificateArn}); err != nil {
		t.Fatalf("delete of the certificate no longer used: %v", err)
	}
	t.Run("certificate list served by SNI", func(t *testing.T) {
		other, err := e.acm.RequestCertificate(ctx, &awsacm.RequestCertificateInput{DomainName: aws.String("other.example.test")})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.elb.AddListenerCertificates(ctx, &elb.AddListenerCertificatesInput{ListenerArn: lout.Listeners[0].ListenerArn,
			Certificates: []types.Certificate{{CertificateArn: other.CertificateArn}}}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "SNI", func() error {
			conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: "other.example.test"})
			if err != nil {
				return err
			}
			return conn.Close()
		})
		d, err := e.elb.DescribeListenerCertificates(ctx, &elb.DescribeListenerCertificatesInput{ListenerArn: lout.Listeners[0].ListenerArn})
		if err != nil || len(d.Certificates) != 2 || !*d.Certificates[0].IsDefault || *d.Certificates[1].IsDefault {
			t.Fatalf("certificates %+v %v", d, err)
		}
		_, err = e.elb.RemoveListenerCertificates(ctx, &elb.RemoveListenerCertificatesInput{ListenerArn: lout.Listeners[0].ListenerArn,
			Certificates: []types.Certificate{{CertificateArn: d.Certificates[0].CertificateArn}}})
		if errorCode(err) != "OperationNotPermitted" {
			t.Fatalf("removing the default certificate: %v", err)
		}
		_, err = e.acm.DeleteCertificate(ctx, &awsacm.DeleteCertificateInput{CertificateArn: other.CertificateArn})
		if errorCode(err) != "ResourceInUseException" {
			t.Fatalf("delete of an SNI certificate in use: %v", err)
		}
		if _, err := e.elb.RemoveListenerCertificates(ctx, &elb.RemoveListenerCertificatesInput{ListenerArn: lout.Listeners[0].ListenerArn,
			Certificates: []types.Certificate{{CertificateArn: other.CertificateArn}}}); err != nil {
			t.Fatal(err)
		}
	})
	pol, err := e.elb.DescribeSSLPolicies(ctx, &elb.DescribeSSLPoliciesInput{Names: []string{"ELBSecurityPolicy-TLS-1-2-2017-01"}})
	if err != nil || len(pol.SslPolicies) != 1 || len(pol.SslPolicies[0].SslProtocols) != 1 || pol.SslPolicies[0].SslProtocols[0] != "TLSv1.2" {
		t.Fatalf("policies %+v %v", pol, err)
	}
	_, err = e.elb.ModifyListener(ctx, &elb.ModifyListenerInput{ListenerArn: lout.Listeners[0].ListenerArn, SslPolicy: aws.String("Nope")})
	if errorCode(err) != "SSLPolicyNotFound" {
		t.Fatalf("unknown policy: %v", err)
	}
}

func TestInternalAPIForECS(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	ctx := context.Background()
	tg := e.createTG(t, "svc-tg", 8080)
	if err := e.svc.RegisterTargetsInternal(ctx, "000000000000", "us-east-1", *tg.TargetGroupArn, []Target{{ID: "10.1.0.2", Port: 8080}}); err != nil {
		t.Fatal(err)
	}
	states, err := e.svc.TargetHealth(ctx, "000000000000", "us-east-1", *tg.TargetGroupArn, nil)
	if err != nil || len(states) != 1 || states[0].Target.ID != "10.1.0.2" {
		t.Fatalf("states %+v %v", states, err)
	}
	info, err := e.svc.TargetGroupInfo(ctx, "000000000000", "us-east-1", *tg.TargetGroupArn)
	if err != nil || info.Port != 8080 || info.TargetType != "ip" || info.DeregistrationDelay != 300*time.Second {
		t.Fatalf("info %+v %v", info, err)
	}
	if _, err := e.svc.TargetGroupInfo(ctx, "111111111111", "us-east-1", *tg.TargetGroupArn); errorCodeOf(err) != "TargetGroupNotFound" {
		t.Fatalf("other account sees the group: %v", err)
	}
	if err := e.svc.DeregisterTargetsInternal(ctx, "000000000000", "us-east-1", *tg.TargetGroupArn, []Target{{ID: "10.1.0.2", Port: 8080}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "deregistered", func() error {
		states, _ := e.svc.TargetHealth(ctx, "000000000000", "us-east-1", *tg.TargetGroupArn, nil)
		if len(states) != 0 {
			return fmt.Errorf("still %+v", states)
		}
		one, err := e.svc.TargetHealth(ctx, "000000000000", "us-east-1", *tg.TargetGroupArn, []Target{{ID: "10.1.0.2", Port: 8080}})
		if err != nil || len(one) != 1 || one[0].State != "unused" || one[0].Reason != "Target.NotRegistered" {
			return fmt.Errorf("deregistered target %+v %v", one, err)
		}
		return nil
	})
}

func errorCodeOf(err error) string {
	var pe interface{ Error() string }
	if errors.As(err, &pe) {
		return strings.SplitN(pe.Error(), ":", 2)[0]
	}
	return ""
}
