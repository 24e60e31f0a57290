package elbv2

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// TestDrainingWaitsForInFlightRequests deregisters a target while it serves
// a slow request: the target is draining until the request is done, the
// request succeeds, and the target leaves before the deregistration delay.
func TestDrainingWaitsForInFlightRequests(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	ctx := context.Background()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(700 * time.Millisecond)
		}
		fmt.Fprint(w, "done")
	}))
	t.Cleanup(slow.Close)
	var port int32
	fmt.Sscanf(slow.URL[strings.LastIndex(slow.URL, ":")+1:], "%d", &port)
	lb := e.createLB(t, "drain")
	tg := e.createTG(t, "drain-tg", 8080)
	_, err := e.elb.CreateListener(ctx, &elb.CreateListenerInput{LoadBalancerArn: lb.LoadBalancerArn, Protocol: types.ProtocolEnumHttp,
		Port: aws.Int32(80), DefaultActions: []types.Action{{Type: types.ActionTypeEnumForward, TargetGroupArn: tg.TargetGroupArn}}})
	if err != nil {
		t.Fatal(err)
	}
	target := []types.TargetDescription{{Id: aws.String("127.0.0.1"), Port: aws.Int32(port)}}
	if _, err := e.elb.RegisterTargets(ctx, &elb.RegisterTargetsInput{TargetGroupArn: tg.TargetGroupArn, Targets: target}); err != nil {
		t.Fatal(err)
	}
	base := "http://" + lbAddress(lb)
	expectBody(t, base+"/", "200 done")
	result := make(chan string, 1)
	go func() {
		status, body, _, err := httpGet(plainClient, base+"/slow")
		result <- fmt.Sprintf("%d %s %v", status, body, err)
	}()
	key := targetKey("127.0.0.1", port)
	eventually(t, "request in flight", func() error {
		if e.svc.plane.InFlight(*tg.TargetGroupArn, key) == 0 {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	if _, err := e.elb.DeregisterTargets(ctx, &elb.DeregisterTargetsInput{TargetGroupArn: tg.TargetGroupArn, Targets: target}); err != nil {
		t.Fatal(err)
	}
	h, err := e.elb.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: tg.TargetGroupArn})
	if err != nil || len(h.TargetHealthDescriptions) != 1 {
		t.Fatalf("health while draining %+v %v", h, err)
	}
	if th := h.TargetHealthDescriptions[0].TargetHealth; th.State != types.TargetHealthStateEnumDraining || th.Reason != types.TargetHealthReasonEnumDeregistrationInProgress {
		t.Fatalf("state while a request is in flight: %s %s", th.State, th.Reason)
	}
	if got := <-result; got != "200 done <nil>" {
		t.Fatalf("in-flight request: %s", got)
	}
	eventually(t, "drain over well before the 300 s delay", func() error {
		h, _ := e.elb.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: tg.TargetGroupArn})
		if len(h.TargetHealthDescriptions) != 0 {
			return fmt.Errorf("still %s", h.TargetHealthDescriptions[0].TargetHealth.State)
		}
		return nil
	})
}
