package protocol_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/kumo-project/kumo/internal/protocol"
	"github.com/kumo-project/kumo/internal/wire/elbv2wire"
)

// queryServer serves the operations of h the way kumo's router does for
// the Query protocol: decode the form, validate, call, encode XML.
func queryServer(t *testing.T, h *elbv2wire.Handlers) *elb.Client {
	t.Helper()
	ops := h.Operations()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		const requestID = "req-1"
		if err := r.ParseForm(); err != nil {
			protocol.EncodeQueryError(w, protocol.ClientError("MalformedQueryString", "%v", err), requestID)
			return
		}
		action := r.PostForm.Get("Action")
		op := ops[action]
		if op == nil {
			protocol.EncodeQueryError(w, protocol.ErrNotImplemented("elasticloadbalancing", action), requestID)
			return
		}
		in := op.NewInput()
		if err := protocol.DecodeQuery(r.PostForm, in); err != nil {
			protocol.EncodeQueryError(w, protocol.AsError(err), requestID)
			return
		}
		var v protocol.Validator
		in.(protocol.Validatable).Validate(&v, "")
		if err := v.Err("ValidationError"); err != nil {
			protocol.EncodeQueryError(w, protocol.AsError(err), requestID)
			return
		}
		out, err := op.Call(r.Context(), in)
		if err != nil {
			protocol.EncodeQueryError(w, protocol.AsError(err), requestID)
			return
		}
		var body bytes.Buffer
		if err := protocol.EncodeQueryResponse(&body, action, elbv2wire.XMLNamespace, requestID, out); err != nil {
			t.Errorf("encode %s: %v", action, err)
		}
		w.Header().Set("Content-Type", "text/xml")
		_, _ = w.Write(body.Bytes())
	}))
	t.Cleanup(srv.Close)
	return elb.New(elb.Options{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		BaseEndpoint:     aws.String(srv.URL),
		RetryMaxAttempts: 1,
	})
}

func TestQueryWithSDKDescribeLoadBalancers(t *testing.T) {
	t.Parallel()
	created := time.Date(2026, 1, 2, 3, 4, 5, 678e6, time.UTC)
	var got elbv2wire.DescribeLoadBalancersInput
	client := queryServer(t, &elbv2wire.Handlers{
		DescribeLoadBalancers: func(ctx context.Context, in *elbv2wire.DescribeLoadBalancersInput) (*elbv2wire.DescribeLoadBalancersOutput, error) {
			got = *in
			out := &elbv2wire.DescribeLoadBalancersOutput{NextMarker: "next"}
			for _, name := range in.Names {
				out.LoadBalancers = append(out.LoadBalancers, elbv2wire.LoadBalancer{
					LoadBalancerName: name,
					LoadBalancerArn:  "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/" + name + "/1",
					DNSName:          name + ".elb.localhost",
					CreatedTime:      protocol.NewTimestamp(created),
					Type:             "application",
					State:            &elbv2wire.LoadBalancerState{Code: "active"},
					SecurityGroups:   []string{"sg-1", "sg-2"},
					AvailabilityZones: []elbv2wire.AvailabilityZone{{
						ZoneName:              "us-east-1a",
						LoadBalancerAddresses: []elbv2wire.LoadBalancerAddress{{IpAddress: "127.0.0.2"}},
					}},
				})
			}
			return out, nil
		},
	})
	out, err := client.DescribeLoadBalancers(context.Background(), &elb.DescribeLoadBalancersInput{
		Names:    []string{"web", "api & <admin>"},
		PageSize: aws.Int32(20),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Names) != 2 || got.Names[1] != "api & <admin>" || got.PageSize == nil || *got.PageSize != 20 {
		t.Errorf("server decoded %+v", got)
	}
	if len(out.LoadBalancers) != 2 || aws.ToString(out.NextMarker) != "next" {
		t.Fatalf("client decoded %+v", out)
	}
	lb := out.LoadBalancers[1]
	if aws.ToString(lb.LoadBalancerName) != "api & <admin>" || lb.State.Code != elbtypes.LoadBalancerStateEnumActive ||
		!aws.ToTime(lb.CreatedTime).Equal(created) || len(lb.SecurityGroups) != 2 ||
		aws.ToString(lb.AvailabilityZones[0].LoadBalancerAddresses[0].IpAddress) != "127.0.0.2" {
		t.Errorf("load balancer %+v", lb)
	}
}

func TestQueryWithSDKCreateTargetGroup(t *testing.T) {
	t.Parallel()
	client := queryServer(t, &elbv2wire.Handlers{
		CreateTargetGroup: func(ctx context.Context, in *elbv2wire.CreateTargetGroupInput) (*elbv2wire.CreateTargetGroupOutput, error) {
			tg := elbv2wire.TargetGroup{
				TargetGroupName:            in.Name,
				Protocol:                   in.Protocol,
				Port:                       in.Port,
				HealthCheckEnabled:         in.HealthCheckEnabled,
				HealthCheckIntervalSeconds: in.HealthCheckIntervalSeconds,
				HealthCheckPath:            in.HealthCheckPath,
				Matcher:                    in.Matcher,
				TargetType:                 in.TargetType,
			}
			// Tags come back through the target group's ARN, to see them decoded.
			tg.TargetGroupArn = "arn:tg/" + in.Name
			for _, tag := range in.Tags {
				tg.TargetGroupArn += "/" + tag.Key + "=" + aws.ToString(tag.Value)
			}
			return &elbv2wire.CreateTargetGroupOutput{TargetGroups: []elbv2wire.TargetGroup{tg}}, nil
		},
	})
	out, err := client.CreateTargetGroup(context.Background(), &elb.CreateTargetGroupInput{
		Name:                       aws.String("web"),
		Protocol:                   elbtypes.ProtocolEnumHttp,
		Port:                       aws.Int32(8080),
		HealthCheckEnabled:         aws.Bool(false),
		HealthCheckIntervalSeconds: aws.Int32(5),
		HealthCheckPath:            aws.String("/health"),
		Matcher:                    &elbtypes.Matcher{HttpCode: aws.String("200-299")},
		TargetType:                 elbtypes.TargetTypeEnumIp,
		Tags:                       []elbtypes.Tag{{Key: aws.String("env"), Value: aws.String("dev")}, {Key: aws.String("team"), Value: aws.String("a")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	tg := out.TargetGroups[0]
	if aws.ToString(tg.TargetGroupArn) != "arn:tg/web/env=dev/team=a" || tg.Protocol != elbtypes.ProtocolEnumHttp ||
		aws.ToInt32(tg.Port) != 8080 || tg.HealthCheckEnabled == nil || *tg.HealthCheckEnabled ||
		aws.ToInt32(tg.HealthCheckIntervalSeconds) != 5 || aws.ToString(tg.Matcher.HttpCode) != "200-299" ||
		tg.TargetType != elbtypes.TargetTypeEnumIp {
		t.Errorf("target group %+v", tg)
	}
}

// TestQueryWithSDKEmptyValues checks that a value the handler sets to ""
// reaches the SDK as "" and one it leaves nil as nil, both ways.
func TestQueryWithSDKEmptyValues(t *testing.T) {
	t.Parallel()
	var got []elbv2wire.LoadBalancerAttribute
	client := queryServer(t, &elbv2wire.Handlers{
		ModifyLoadBalancerAttributes: func(ctx context.Context, in *elbv2wire.ModifyLoadBalancerAttributesInput) (*elbv2wire.ModifyLoadBalancerAttributesOutput, error) {
			got = in.Attributes
			return &elbv2wire.ModifyLoadBalancerAttributesOutput{Attributes: in.Attributes}, nil
		},
	})
	out, err := client.ModifyLoadBalancerAttributes(context.Background(), &elb.ModifyLoadBalancerAttributesInput{
		LoadBalancerArn: aws.String("arn:lb"),
		Attributes: []elbtypes.LoadBalancerAttribute{
			{Key: aws.String("access_logs.s3.prefix"), Value: aws.String("")},
			{Key: aws.String("no.value")},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Value == nil || *got[0].Value != "" || got[1].Value != nil {
		t.Errorf("server decoded %+v", got)
	}
	if len(out.Attributes) != 2 || out.Attributes[0].Value == nil || *out.Attributes[0].Value != "" || out.Attributes[1].Value != nil {
		t.Errorf("client decoded %+v", out.Attributes)
	}
}

func TestQueryWithSDKErrors(t *testing.T) {
	t.Parallel()
	client := queryServer(t, &elbv2wire.Handlers{
		DescribeLoadBalancers: func(ctx context.Context, in *elbv2wire.DescribeLoadBalancersInput) (*elbv2wire.DescribeLoadBalancersOutput, error) {
			return nil, protocol.ClientError("LoadBalancerNotFound", "load balancers %v not found", in.Names)
		},
		CreateTargetGroup: func(ctx context.Context, in *elbv2wire.CreateTargetGroupInput) (*elbv2wire.CreateTargetGroupOutput, error) {
			return &elbv2wire.CreateTargetGroupOutput{}, nil
		},
	})
	ctx := context.Background()
	tests := []struct {
		name     string
		call     func() error
		wantCode string
	}{
		{"typed error from handler", func() error {
			_, err := client.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{Names: []string{"nope"}})
			var notFound *elbtypes.LoadBalancerNotFoundException
			if err != nil && !errors.As(err, &notFound) {
				t.Errorf("want LoadBalancerNotFoundException, got %T", err)
			}
			return err
		}, "LoadBalancerNotFound"},
		{"validation of the model's range", func() error {
			_, err := client.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{PageSize: aws.Int32(1000)})
			return err
		}, "ValidationError"},
		{"enum value outside the model's set", func() error {
			_, err := client.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{Name: aws.String("a"), Protocol: "BOGUS"})
			return err
		}, "ValidationError"},
		{"not implemented", func() error {
			_, err := client.DeleteLoadBalancer(ctx, &elb.DeleteLoadBalancerInput{LoadBalancerArn: aws.String("x")})
			return err
		}, "NotImplementedException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			var apiErr interface{ ErrorCode() string }
			if !errors.As(err, &apiErr) || apiErr.ErrorCode() != tt.wantCode {
				t.Errorf("error %v, want code %s", err, tt.wantCode)
			}
		})
	}
}
