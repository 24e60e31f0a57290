package elbv2

import (
	"context"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/kumo-project/kumo/internal/protocol"
	"github.com/kumo-project/kumo/internal/store"
	"github.com/kumo-project/kumo/internal/wire/elbv2wire"
)

var tgNamePattern = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]{0,30}[a-zA-Z0-9])?$`)

// CreateTargetGroup creates an HTTP(S) target group with ALB's health check
// defaults, or returns the existing one of that name when the settings match.
func (s *Service) CreateTargetGroup(ctx context.Context, in *elbv2wire.CreateTargetGroupInput) (*elbv2wire.CreateTargetGroupOutput, error) {
	sc := scopeOf(ctx)
	tg, err := newTargetGroup(in)
	if err != nil {
		return nil, err
	}
	if err := validateNewTags(in.Tags); err != nil {
		return nil, err
	}
	var out elbv2wire.TargetGroup
	err = s.store.Update(func(tx *store.Tx) error {
		all, err := store.List[tgRecord](tx, tableTargetGroups, sc.prefix(resTargetGroup))
		if err != nil {
			return internalError(err)
		}
		for _, r := range all {
			if r.TargetGroup.TargetGroupName != in.Name {
				continue
			}
			existing := r.TargetGroup
			tg.TargetGroupArn = existing.TargetGroupArn
			if sameTargetGroup(existing, tg) {
				out = existing
				return nil
			}
			return protocol.ClientError("DuplicateTargetGroupName", "A target group with the same name '%s' exists, but with different settings", in.Name)
		}
		tg.TargetGroupArn = sc.tgARN(in.Name, newResourceID())
		out = tg
		return tx.Put(tableTargetGroups, tg.TargetGroupArn, tgRecord{TargetGroup: tg, Attributes: defaultTGAttributes(), Tags: in.Tags})
	})
	if err != nil {
		return nil, err
	}
	return &elbv2wire.CreateTargetGroupOutput{TargetGroups: []elbv2wire.TargetGroup{out}}, nil
}

func sameTargetGroup(a, b elbv2wire.TargetGroup) bool {
	return a.Protocol == b.Protocol && *a.Port == *b.Port && a.TargetType == b.TargetType && a.VpcId == b.VpcId &&
		a.HealthCheckPath == b.HealthCheckPath && a.HealthCheckPort == b.HealthCheckPort
}

// newTargetGroup validates a create request and fills in AWS's defaults.
func newTargetGroup(in *elbv2wire.CreateTargetGroupInput) (elbv2wire.TargetGroup, error) {
	var tg elbv2wire.TargetGroup
	if !tgNamePattern.MatchString(in.Name) {
		return tg, validationError("Target group name '%s' can have a maximum of 32 characters, can contain only alphanumeric characters or hyphens, and must not begin or end with a hyphen", in.Name)
	}
	targetType := cmpOr(in.TargetType, "instance")
	if targetType != "instance" && targetType != "ip" {
		return tg, validationError("Target type '%s' is not supported by kumo; use 'ip' or 'instance'", targetType)
	}
	switch {
	case in.Protocol == "":
		return tg, validationError("A protocol must be specified")
	case in.Protocol != "HTTP" && in.Protocol != "HTTPS":
		return tg, validationError("Protocol '%s' is not supported by kumo; application load balancers use HTTP or HTTPS", in.Protocol)
	case in.Port == nil:
		return tg, validationError("A port must be specified")
	case in.VpcId == "":
		return tg, validationError("A VPC ID must be specified")
	case in.ProtocolVersion != "" && in.ProtocolVersion != "HTTP1":
		return tg, validationError("Protocol version '%s' is not supported by kumo; targets are reached over HTTP1", in.ProtocolVersion)
	}
	tg = elbv2wire.TargetGroup{
		TargetGroupName:            in.Name,
		Protocol:                   in.Protocol,
		ProtocolVersion:            cmpOr(in.ProtocolVersion, "HTTP1"),
		Port:                       in.Port,
		VpcId:                      in.VpcId,
		TargetType:                 targetType,
		IpAddressType:              cmpOr(in.IpAddressType, "ipv4"),
		HealthCheckProtocol:        cmpOr(in.HealthCheckProtocol, in.Protocol),
		HealthCheckPort:            cmpOr(in.HealthCheckPort, "traffic-port"),
		HealthCheckEnabled:         boolOr(in.HealthCheckEnabled, true),
		HealthCheckPath:            cmpOr(in.HealthCheckPath, "/"),
		HealthCheckIntervalSeconds: int32Or(in.HealthCheckIntervalSeconds, 30),
		HealthCheckTimeoutSeconds:  int32Or(in.HealthCheckTimeoutSeconds, 5),
		HealthyThresholdCount:      int32Or(in.HealthyThresholdCount, 5),
		UnhealthyThresholdCount:    int32Or(in.UnhealthyThresholdCount, 2),
		Matcher:                    &elbv2wire.Matcher{HttpCode: "200"},
	}
	if in.Matcher != nil && in.Matcher.HttpCode != "" {
		tg.Matcher = &elbv2wire.Matcher{HttpCode: in.Matcher.HttpCode}
	}
	return tg, validateHealthCheck(tg)
}

func validateHealthCheck(tg elbv2wire.TargetGroup) error {
	interval, timeout := *tg.HealthCheckIntervalSeconds, *tg.HealthCheckTimeoutSeconds
	switch {
	case tg.HealthCheckProtocol != "HTTP" && tg.HealthCheckProtocol != "HTTPS":
		return validationError("Health check protocol '%s' is not supported for target groups with the '%s' protocol", tg.HealthCheckProtocol, tg.Protocol)
	case interval < 5 || interval > 300:
		return validationError("Health check interval must be between 5 and 300 seconds")
	case timeout < 2 || timeout > 120:
		return validationError("Health check timeout must be between 2 and 120 seconds")
	case timeout >= interval:
		return validationError("Health check timeout '%d' must be smaller than the interval '%d'", timeout, interval)
	case *tg.HealthyThresholdCount < 2 || *tg.HealthyThresholdCount > 10:
		return validationError("Healthy threshold count must be between 2 and 10")
	case *tg.UnhealthyThresholdCount < 2 || *tg.UnhealthyThresholdCount > 10:
		return validationError("Unhealthy threshold count must be between 2 and 10")
	case !strings.HasPrefix(tg.HealthCheckPath, "/"):
		return validationError("Health check path must begin with a '/' character")
	}
	if tg.HealthCheckPort != "traffic-port" {
		if p, err := strconv.Atoi(tg.HealthCheckPort); err != nil || p < 1 || p > 65535 {
			return validationError("Health check port '%s' must be 'traffic-port' or a port between 1 and 65535", tg.HealthCheckPort)
		}
	}
	if _, err := parseMatcher(tg.Matcher.HttpCode); err != nil {
		return err
	}
	return nil
}

// codeRange is an inclusive range of HTTP codes of a matcher.
type codeRange struct{ from, to int }

// parseMatcher reads a matcher's HttpCode: codes and ranges separated by
// commas ("200", "200,202", "200-299"), each between 200 and 499.
func parseMatcher(s string) ([]codeRange, error) {
	var out []codeRange
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		if !isRange {
			hi = lo
		}
		from, err1 := strconv.Atoi(lo)
		to, err2 := strconv.Atoi(hi)
		if err1 != nil || err2 != nil || from < 200 || to > 499 || from > to {
			return nil, validationError("Health check matcher HTTP code '%s' must be a code or a range of codes between 200 and 499", s)
		}
		out = append(out, codeRange{from, to})
	}
	return out, nil
}

// DescribeTargetGroups lists target groups: of a load balancer, by ARN, by
// name, or all.
func (s *Service) DescribeTargetGroups(ctx context.Context, in *elbv2wire.DescribeTargetGroupsInput) (*elbv2wire.DescribeTargetGroupsOutput, error) {
	sc := scopeOf(ctx)
	var tgs []elbv2wire.TargetGroup
	err := s.store.View(func(tx *store.Tx) error {
		if in.LoadBalancerArn != "" {
			if _, err := getLB(tx, sc, in.LoadBalancerArn); err != nil {
				return err
			}
		}
		all, err := store.List[tgRecord](tx, tableTargetGroups, sc.prefix(resTargetGroup))
		if err != nil {
			return internalError(err)
		}
		usage, err := tgUsage(tx, sc)
		if err != nil {
			return err
		}
		for _, r := range all {
			tg := r.TargetGroup
			tg.LoadBalancerArns = usage[tg.TargetGroupArn]
			if in.LoadBalancerArn == "" || slices.Contains(tg.LoadBalancerArns, in.LoadBalancerArn) {
				tgs = append(tgs, tg)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	tgs, err = selectNamed(tgs, in.TargetGroupArns, in.Names,
		func(tg elbv2wire.TargetGroup) (string, string) { return tg.TargetGroupArn, tg.TargetGroupName }, targetGroupNotFound)
	if err != nil {
		return nil, err
	}
	page, next, err := pageOf(tgs, in.Marker, in.PageSize, func(tg elbv2wire.TargetGroup) string { return tg.TargetGroupName + " " + tg.TargetGroupArn })
	if err != nil {
		return nil, err
	}
	return &elbv2wire.DescribeTargetGroupsOutput{TargetGroups: page, NextMarker: next}, nil
}

// tgUsage maps each target group of the scope that a rule forwards to onto
// the load balancers of those rules.
func tgUsage(tx *store.Tx, sc scope) (map[string][]string, error) {
	rules, err := store.List[ruleRecord](tx, tableRules, sc.prefix(resRule))
	if err != nil {
		return nil, internalError(err)
	}
	out := map[string][]string{}
	for _, r := range rules {
		lb := lbARNOfListener(r.ListenerArn)
		for _, tg := range forwardGroups(r.Rule.Actions) {
			if !slices.Contains(out[tg], lb) {
				out[tg] = append(out[tg], lb)
				sort.Strings(out[tg])
			}
		}
	}
	return out, nil
}

// ModifyTargetGroup changes a target group's health check.
func (s *Service) ModifyTargetGroup(ctx context.Context, in *elbv2wire.ModifyTargetGroupInput) (*elbv2wire.ModifyTargetGroupOutput, error) {
	sc := scopeOf(ctx)
	var out elbv2wire.TargetGroup
	err := s.store.Update(func(tx *store.Tx) error {
		r, err := getTG(tx, sc, in.TargetGroupArn)
		if err != nil {
			return err
		}
		tg := r.TargetGroup
		tg.HealthCheckProtocol = cmpOr(in.HealthCheckProtocol, tg.HealthCheckProtocol)
		tg.HealthCheckPort = cmpOr(in.HealthCheckPort, tg.HealthCheckPort)
		tg.HealthCheckPath = cmpOr(in.HealthCheckPath, tg.HealthCheckPath)
		tg.HealthCheckEnabled = orKeep(in.HealthCheckEnabled, tg.HealthCheckEnabled)
		tg.HealthCheckIntervalSeconds = orKeep(in.HealthCheckIntervalSeconds, tg.HealthCheckIntervalSeconds)
		tg.HealthCheckTimeoutSeconds = orKeep(in.HealthCheckTimeoutSeconds, tg.HealthCheckTimeoutSeconds)
		tg.HealthyThresholdCount = orKeep(in.HealthyThresholdCount, tg.HealthyThresholdCount)
		tg.UnhealthyThresholdCount = orKeep(in.UnhealthyThresholdCount, tg.UnhealthyThresholdCount)
		if in.Matcher != nil && in.Matcher.HttpCode != "" {
			tg.Matcher = &elbv2wire.Matcher{HttpCode: in.Matcher.HttpCode}
		}
		if err := validateHealthCheck(tg); err != nil {
			return err
		}
		r.TargetGroup = tg
		usage, err := tgUsage(tx, sc)
		if err != nil {
			return err
		}
		out = tg
		out.LoadBalancerArns = usage[tg.TargetGroupArn]
		return tx.Put(tableTargetGroups, tg.TargetGroupArn, r)
	})
	if err != nil {
		return nil, err
	}
	s.nudge()
	return &elbv2wire.ModifyTargetGroupOutput{TargetGroups: []elbv2wire.TargetGroup{out}}, nil
}

// DeleteTargetGroup deletes a target group no rule forwards to. Deleting
// one that does not exist succeeds, as in AWS.
func (s *Service) DeleteTargetGroup(ctx context.Context, in *elbv2wire.DeleteTargetGroupInput) (*elbv2wire.DeleteTargetGroupOutput, error) {
	sc := scopeOf(ctx)
	err := s.store.Update(func(tx *store.Tx) error {
		if _, err := getTG(tx, sc, in.TargetGroupArn); err != nil {
			return nil
		}
		usage, err := tgUsage(tx, sc)
		if err != nil {
			return err
		}
		if len(usage[in.TargetGroupArn]) > 0 {
			return protocol.ClientError("ResourceInUse", "Target group '%s' is currently in use by a listener or a rule", in.TargetGroupArn)
		}
		return tx.Delete(tableTargetGroups, in.TargetGroupArn)
	})
	if err != nil {
		return nil, err
	}
	s.nudge()
	return &elbv2wire.DeleteTargetGroupOutput{}, nil
}

// getTG reads a target group of the scope or answers TargetGroupNotFound.
func getTG(tx *store.Tx, sc scope, tgARN string) (tgRecord, error) {
	if !sc.inScope(tgARN, resTargetGroup) {
		return tgRecord{}, targetGroupNotFound()
	}
	r, ok, err := store.Get[tgRecord](tx, tableTargetGroups, tgARN)
	if err != nil {
		return r, internalError(err)
	}
	if !ok {
		return r, targetGroupNotFound()
	}
	return r, nil
}

func boolOr(v *bool, def bool) *bool {
	if v == nil {
		return &def
	}
	return v
}

func int32Or(v *int32, def int32) *int32 {
	if v == nil {
		return &def
	}
	return v
}

func orKeep[T any](v, keep *T) *T {
	if v == nil {
		return keep
	}
	return v
}
