package elbv2

import (
	"context"
	"sort"
	"strconv"

	"github.com/kumo-project/kumo/internal/store"
	"github.com/kumo-project/kumo/internal/wire/elbv2wire"
)

// attributeRule checks one attribute value; nil accepts any value.
type attributeRule func(string) bool

func isBool(v string) bool { return v == "true" || v == "false" }

func intIn(lo, hi int) attributeRule {
	return func(v string) bool {
		n, err := strconv.Atoi(v)
		return err == nil && n >= lo && n <= hi
	}
}

func oneOf(values ...string) attributeRule {
	return func(v string) bool {
		for _, a := range values {
			if v == a {
				return true
			}
		}
		return false
	}
}

// attributeSpec is an attribute's default and the values it accepts.
type attributeSpec struct {
	def   string
	valid attributeRule
}

// lbAttributes are an ALB's attributes. access_logs.s3.* write to a local
// file under the data dir (see docs/elbv2.md); the others are stored and
// reported, and idle_timeout and routing.http2 act on the data plane.
var lbAttributes = map[string]attributeSpec{
	"access_logs.s3.enabled":                                   {"false", isBool},
	"access_logs.s3.bucket":                                    {"", nil},
	"access_logs.s3.prefix":                                    {"", nil},
	"deletion_protection.enabled":                              {"false", isBool},
	"idle_timeout.timeout_seconds":                             {"60", intIn(1, 4000)},
	"routing.http2.enabled":                                    {"true", isBool},
	"routing.http.drop_invalid_header_fields.enabled":          {"false", isBool},
	"routing.http.preserve_host_header.enabled":                {"false", isBool},
	"routing.http.x_amzn_tls_version_and_cipher_suite.enabled": {"false", isBool},
	"routing.http.xff_client_port.enabled":                     {"false", isBool},
	"routing.http.xff_header_processing.mode":                  {"append", oneOf("append", "preserve", "remove")},
	"routing.http.desync_mitigation_mode":                      {"defensive", oneOf("monitor", "defensive", "strictest")},
	"waf.fail_open.enabled":                                    {"false", isBool},
	"client_keep_alive.seconds":                                {"3600", intIn(60, 604800)},
	"connection_logs.s3.enabled":                               {"false", isBool},
	"connection_logs.s3.bucket":                                {"", nil},
	"connection_logs.s3.prefix":                                {"", nil},
	"load_balancing.cross_zone.enabled":                        {"true", isBool},
}

// tgAttributes are an HTTP(S) target group's attributes.
var tgAttributes = map[string]attributeSpec{
	"deregistration_delay.timeout_seconds":                                           {"300", intIn(0, 3600)},
	"stickiness.enabled":                                                             {"false", isBool},
	"stickiness.type":                                                                {"lb_cookie", oneOf("lb_cookie", "app_cookie")},
	"stickiness.lb_cookie.duration_seconds":                                          {"86400", intIn(1, 604800)},
	"stickiness.app_cookie.cookie_name":                                              {"", nil},
	"stickiness.app_cookie.duration_seconds":                                         {"86400", intIn(1, 604800)},
	"slow_start.duration_seconds":                                                    {"0", func(v string) bool { return v == "0" || intIn(30, 900)(v) }},
	"load_balancing.algorithm.type":                                                  {"round_robin", oneOf("round_robin", "least_outstanding_requests")},
	"load_balancing.algorithm.anomaly_mitigation":                                    {"off", oneOf("on", "off")},
	"load_balancing.cross_zone.enabled":                                              {"use_load_balancer_configuration", oneOf("true", "false", "use_load_balancer_configuration")},
	"target_group_health.dns_failover.minimum_healthy_targets.count":                 {"1", nil},
	"target_group_health.dns_failover.minimum_healthy_targets.percentage":            {"off", nil},
	"target_group_health.unhealthy_state_routing.minimum_healthy_targets.count":      {"1", nil},
	"target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage": {"off", nil},
}

func defaults(specs map[string]attributeSpec) map[string]string {
	out := map[string]string{}
	for k, s := range specs {
		out[k] = s.def
	}
	return out
}

func defaultLBAttributes() map[string]string { return defaults(lbAttributes) }
func defaultTGAttributes() map[string]string { return defaults(tgAttributes) }

// applyAttributes validates changes and merges them into current.
func applyAttributes(specs map[string]attributeSpec, current map[string]string, changes map[string]string, kind string) (map[string]string, error) {
	out := map[string]string{}
	for k, v := range current {
		out[k] = v
	}
	for k, v := range changes {
		spec, ok := specs[k]
		if !ok {
			return nil, validationError("%s attribute key '%s' is not recognized", kind, k)
		}
		if spec.valid != nil && !spec.valid(v) {
			return nil, validationError("%s attribute value '%s' is not valid for attribute key '%s'", kind, v, k)
		}
		out[k] = v
	}
	return out, nil
}

// valueOf is the value an attribute change sets: a change without a Value
// sets the attribute to "".
func valueOf(v *string) string {
	if v == nil {
		return ""
	}
	return *v
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func lbAttributeList(m map[string]string) []elbv2wire.LoadBalancerAttribute {
	var out []elbv2wire.LoadBalancerAttribute
	for _, k := range sortedKeys(m) {
		out = append(out, elbv2wire.LoadBalancerAttribute{Key: k, Value: new(m[k])})
	}
	return out
}

func tgAttributeList(m map[string]string) []elbv2wire.TargetGroupAttribute {
	var out []elbv2wire.TargetGroupAttribute
	for _, k := range sortedKeys(m) {
		out = append(out, elbv2wire.TargetGroupAttribute{Key: k, Value: new(m[k])})
	}
	return out
}

// DescribeLoadBalancerAttributes reports a load balancer's attributes.
func (s *Service) DescribeLoadBalancerAttributes(ctx context.Context, in *elbv2wire.DescribeLoadBalancerAttributesInput) (*elbv2wire.DescribeLoadBalancerAttributesOutput, error) {
	var r lbRecord
	err := s.store.View(func(tx *store.Tx) (err error) {
		r, err = getLB(tx, scopeOf(ctx), in.LoadBalancerArn)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &elbv2wire.DescribeLoadBalancerAttributesOutput{Attributes: lbAttributeList(r.Attributes)}, nil
}

// ModifyLoadBalancerAttributes changes attributes and returns all of them.
func (s *Service) ModifyLoadBalancerAttributes(ctx context.Context, in *elbv2wire.ModifyLoadBalancerAttributesInput) (*elbv2wire.ModifyLoadBalancerAttributesOutput, error) {
	changes := map[string]string{}
	for _, a := range in.Attributes {
		changes[a.Key] = valueOf(a.Value)
	}
	var attrs map[string]string
	err := s.store.Update(func(tx *store.Tx) error {
		r, err := getLB(tx, scopeOf(ctx), in.LoadBalancerArn)
		if err != nil {
			return err
		}
		if attrs, err = applyAttributes(lbAttributes, r.Attributes, changes, "Load balancer"); err != nil {
			return err
		}
		if attrs["access_logs.s3.enabled"] == "true" && attrs["access_logs.s3.bucket"] == "" {
			return validationError("The value of 'access_logs.s3.bucket' cannot be empty when access logs are enabled")
		}
		r.Attributes = attrs
		return tx.Put(tableLoadBalancers, in.LoadBalancerArn, r)
	})
	if err != nil {
		return nil, err
	}
	s.nudge()
	return &elbv2wire.ModifyLoadBalancerAttributesOutput{Attributes: lbAttributeList(attrs)}, nil
}

// DescribeTargetGroupAttributes reports a target group's attributes.
func (s *Service) DescribeTargetGroupAttributes(ctx context.Context, in *elbv2wire.DescribeTargetGroupAttributesInput) (*elbv2wire.DescribeTargetGroupAttributesOutput, error) {
	var r tgRecord
	err := s.store.View(func(tx *store.Tx) (err error) {
		r, err = getTG(tx, scopeOf(ctx), in.TargetGroupArn)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &elbv2wire.DescribeTargetGroupAttributesOutput{Attributes: tgAttributeList(r.Attributes)}, nil
}

// ModifyTargetGroupAttributes changes attributes and returns all of them.
func (s *Service) ModifyTargetGroupAttributes(ctx context.Context, in *elbv2wire.ModifyTargetGroupAttributesInput) (*elbv2wire.ModifyTargetGroupAttributesOutput, error) {
	changes := map[string]string{}
	for _, a := range in.Attributes {
		changes[a.Key] = valueOf(a.Value)
	}
	var attrs map[string]string
	err := s.store.Update(func(tx *store.Tx) error {
		r, err := getTG(tx, scopeOf(ctx), in.TargetGroupArn)
		if err != nil {
			return err
		}
		if attrs, err = applyAttributes(tgAttributes, r.Attributes, changes, "Target group"); err != nil {
			return err
		}
		if attrs["stickiness.enabled"] == "true" && attrs["stickiness.type"] != "lb_cookie" {
			return validationError("Stickiness type '%s' is not supported by kumo; use 'lb_cookie'", attrs["stickiness.type"])
		}
		r.Attributes = attrs
		return tx.Put(tableTargetGroups, in.TargetGroupArn, r)
	})
	if err != nil {
		return nil, err
	}
	s.nudge()
	return &elbv2wire.ModifyTargetGroupAttributesOutput{Attributes: tgAttributeList(attrs)}, nil
}
