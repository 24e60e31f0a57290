package elbv2wire

import (
	"net/url"
	"reflect"
	"testing"

	"github.com/kumo-project/kumo/internal/protocol"
)

// Form bodies as botocore 1.43.11's Query serializer writes them (the
// serializer the aws CLI uses), for inputs nested several levels deep.
func TestDecodeBotocoreForms(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		form string
		into protocol.Validatable
		want protocol.Validatable
	}{
		{"CreateRule with conditions, weighted forward and tags",
			"Action=CreateRule&Version=2015-12-01&ListenerArn=arn%3Al&Priority=10&Conditions.member.1.Field=host-header&Conditions.member.1.HostHeaderConfig.Values.member.1=a.example.com&Conditions.member.1.HostHeaderConfig.Values.member.2=b.example.com&Conditions.member.2.Field=http-header&Conditions.member.2.HttpHeaderConfig.HttpHeaderName=X-Env&Conditions.member.2.HttpHeaderConfig.Values.member.1=dev&Actions.member.1.Type=forward&Actions.member.1.Order=1&Actions.member.1.ForwardConfig.TargetGroups.member.1.TargetGroupArn=arn%3Atg1&Actions.member.1.ForwardConfig.TargetGroups.member.1.Weight=80&Actions.member.1.ForwardConfig.TargetGroups.member.2.TargetGroupArn=arn%3Atg2&Actions.member.1.ForwardConfig.TargetGroups.member.2.Weight=20&Actions.member.1.ForwardConfig.TargetGroupStickinessConfig.Enabled=true&Actions.member.1.ForwardConfig.TargetGroupStickinessConfig.DurationSeconds=60&Tags.member.1.Key=env&Tags.member.1.Value=dev",
			&CreateRuleInput{},
			&CreateRuleInput{
				ListenerArn: "arn:l",
				Priority:    ptr[int32](10),
				Conditions: []RuleCondition{
					{Field: "host-header", HostHeaderConfig: &HostHeaderConditionConfig{Values: []string{"a.example.com", "b.example.com"}}},
					{Field: "http-header", HttpHeaderConfig: &HttpHeaderConditionConfig{HttpHeaderName: "X-Env", Values: []string{"dev"}}},
				},
				Actions: []Action{{
					Type:  "forward",
					Order: ptr[int32](1),
					ForwardConfig: &ForwardActionConfig{
						TargetGroups: []TargetGroupTuple{
							{TargetGroupArn: "arn:tg1", Weight: ptr[int32](80)},
							{TargetGroupArn: "arn:tg2", Weight: ptr[int32](20)},
						},
						TargetGroupStickinessConfig: &TargetGroupStickinessConfig{Enabled: ptr(true), DurationSeconds: ptr[int32](60)},
					},
				}},
				Tags: []Tag{{Key: "env", Value: ptr("dev")}},
			}},
		{"ModifyTargetGroupAttributes",
			"Action=ModifyTargetGroupAttributes&Version=2015-12-01&TargetGroupArn=arn%3Atg1&Attributes.member.1.Key=deregistration_delay.timeout_seconds&Attributes.member.1.Value=5&Attributes.member.2.Key=stickiness.enabled&Attributes.member.2.Value=false",
			&ModifyTargetGroupAttributesInput{},
			&ModifyTargetGroupAttributesInput{
				TargetGroupArn: "arn:tg1",
				Attributes: []TargetGroupAttribute{
					{Key: "deregistration_delay.timeout_seconds", Value: ptr("5")},
					{Key: "stickiness.enabled", Value: ptr("false")},
				},
			}},
		{"DescribeLoadBalancers with an empty list",
			"Action=DescribeLoadBalancers&Version=2015-12-01&Names=",
			&DescribeLoadBalancersInput{},
			&DescribeLoadBalancersInput{Names: []string{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form, err := url.ParseQuery(tt.form)
			if err != nil {
				t.Fatal(err)
			}
			if err := protocol.DecodeQuery(form, tt.into); err != nil {
				t.Fatal(err)
			}
			var v protocol.Validator
			tt.into.Validate(&v, "")
			if err := v.Err("ValidationError"); err != nil {
				t.Error(err)
			}
			if !reflect.DeepEqual(tt.into, tt.want) {
				t.Errorf("got  %+v\nwant %+v", tt.into, tt.want)
			}
		})
	}
}

func TestValidationPathsAreLowerCamel(t *testing.T) {
	t.Parallel()
	in := &CreateRuleInput{Actions: []Action{{Type: "teleport"}}}
	var v protocol.Validator
	in.Validate(&v, "")
	want := "ValidationError: 4 validation errors detected: " +
		"Value null at 'listenerArn' failed to satisfy constraint: Member must not be null; " +
		"Value null at 'conditions' failed to satisfy constraint: Member must not be null; " +
		"Value null at 'priority' failed to satisfy constraint: Member must not be null; " +
		"Value 'teleport' at 'actions.1.member.type' failed to satisfy constraint: Member must satisfy enum value set: [forward, authenticate-oidc, authenticate-cognito, redirect, fixed-response, jwt-validation]"
	if err := v.Err("ValidationError"); err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
}

func ptr[T any](v T) *T { return &v }
