package elbv2

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
)

func TestLoadBalancerAddresses(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	web, api := e.createLB(t, "web"), e.createLB(t, "api")
	got, err := e.svc.LoadBalancerAddresses(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[*web.DNSName].String() != lbAddress(web) || got[*api.DNSName].String() != lbAddress(api) {
		t.Fatalf("addresses %v; want %s → %s and %s → %s", got, *web.DNSName, lbAddress(web), *api.DNSName, lbAddress(api))
	}
	if _, err := e.elb.DeleteLoadBalancer(context.Background(), &elb.DeleteLoadBalancerInput{LoadBalancerArn: web.LoadBalancerArn}); err != nil {
		t.Fatal(err)
	}
	got, err = e.svc.LoadBalancerAddresses(context.Background())
	if err != nil || len(got) != 1 || got[aws.ToString(api.DNSName)].String() != lbAddress(api) {
		t.Fatalf("after deleting web: %v, %v; want only api", got, err)
	}
}
