package elbv2_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/kumo-project/kumo/internal/kumotest"
)

// TestEmptyValuesOnKumo checks against a real kumo that values set to ""
// come back as "" (<Value></Value>), not as missing, as AWS answers them:
// the aws CLI shows "Value": "".
func TestEmptyValuesOnKumo(t *testing.T) {
	k := kumotest.Start(t)
	client := elb.NewFromConfig(k.AWSConfig())
	ctx := kumotest.Context(t, 2*time.Minute)

	lbs, err := client.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{
		Name: aws.String("empty-values"), Subnets: []string{"subnet-a", "subnet-b"}, Type: types.LoadBalancerTypeEnumApplication,
		Tags: []types.Tag{{Key: aws.String("owner"), Value: aws.String("")}, {Key: aws.String("env"), Value: aws.String("dev")}}})
	if err != nil {
		t.Fatal(err)
	}
	lbARN := lbs.LoadBalancers[0].LoadBalancerArn

	t.Run("load balancer attribute set to empty", func(t *testing.T) {
		for _, prefix := range []string{"logs/", ""} {
			_, err := client.ModifyLoadBalancerAttributes(ctx, &elb.ModifyLoadBalancerAttributesInput{LoadBalancerArn: lbARN,
				Attributes: []types.LoadBalancerAttribute{{Key: aws.String("access_logs.s3.prefix"), Value: aws.String(prefix)}}})
			if err != nil {
				t.Fatalf("set prefix %q: %v", prefix, err)
			}
		}
		out, err := client.DescribeLoadBalancerAttributes(ctx, &elb.DescribeLoadBalancerAttributesInput{LoadBalancerArn: lbARN})
		if err != nil {
			t.Fatal(err)
		}
		values := lbAttributeValues(out.Attributes)
		for _, key := range []string{"access_logs.s3.prefix", "access_logs.s3.bucket"} {
			if v, ok := values[key]; !ok || v == nil || *v != "" {
				t.Errorf("%s = %v (present %v), want \"\"", key, v, ok)
			}
		}
	})

	t.Run("target group attribute set to empty", func(t *testing.T) {
		tgs, err := client.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{Name: aws.String("empty-values"),
			Protocol: types.ProtocolEnumHttp, Port: aws.Int32(80), VpcId: aws.String("vpc-local"), TargetType: types.TargetTypeEnumIp})
		if err != nil {
			t.Fatal(err)
		}
		out, err := client.ModifyTargetGroupAttributes(ctx, &elb.ModifyTargetGroupAttributesInput{TargetGroupArn: tgs.TargetGroups[0].TargetGroupArn,
			Attributes: []types.TargetGroupAttribute{{Key: aws.String("stickiness.app_cookie.cookie_name"), Value: aws.String("")}}})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range out.Attributes {
			if aws.ToString(a.Key) == "stickiness.app_cookie.cookie_name" && (a.Value == nil || *a.Value != "") {
				t.Errorf("cookie name = %v, want \"\"", a.Value)
			}
		}
	})

	t.Run("tag with an empty value", func(t *testing.T) {
		out, err := client.DescribeTags(ctx, &elb.DescribeTagsInput{ResourceArns: []string{*lbARN}})
		if err != nil || len(out.TagDescriptions) != 1 {
			t.Fatalf("tags %+v %v", out, err)
		}
		tags := out.TagDescriptions[0].Tags
		if len(tags) != 2 || aws.ToString(tags[0].Key) != "owner" || tags[0].Value == nil || *tags[0].Value != "" ||
			aws.ToString(tags[1].Value) != "dev" {
			t.Errorf("tags %+v", tags)
		}
	})
}

func lbAttributeValues(attrs []types.LoadBalancerAttribute) map[string]*string {
	values := map[string]*string{}
	for _, a := range attrs {
		values[aws.ToString(a.Key)] = a.Value
	}
	return values
}
