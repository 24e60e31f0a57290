package elbv2

import (
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"github.com/kumo-project/kumo/internal/protocol"
	"github.com/kumo-project/kumo/internal/store"
	"github.com/kumo-project/kumo/internal/wire/elbv2wire"
)

// checkActions validates a rule's (or listener's) actions for a listener
// of load balancer lbARN and returns them as AWS reports them: each with
// its Order, forwards with both TargetGroupArn (one group) and ForwardConfig.
func checkActions(tx *store.Tx, sc scope, lbARN string, actions []elbv2wire.Action) ([]elbv2wire.Action, error) {
	if len(actions) == 0 {
		return nil, validationError("At least one action must be specified")
	}
	terminal := 0
	out := make([]elbv2wire.Action, 0, len(actions))
	for i, a := range actions {
		var err error
		switch a.Type {
		case "forward":
			a, err = checkForward(tx, sc, lbARN, a)
		case "redirect":
			err = checkRedirect(a.RedirectConfig)
		case "fixed-response":
			err = checkFixedResponse(a.FixedResponseConfig)
		default:
			err = validationError("Action type '%s' is not supported by kumo", a.Type)
		}
		if err != nil {
			return nil, err
		}
		terminal++
		if a.Order == nil {
			order := int32(i + 1)
			a.Order = &order
		}
		out = append(out, a)
	}
	if terminal != 1 {
		return nil, invalidAction("A rule must have exactly one forward, redirect or fixed-response action")
	}
	return out, nil
}

func checkForward(tx *store.Tx, sc scope, lbARN string, a elbv2wire.Action) (elbv2wire.Action, error) {
	fc := a.ForwardConfig
	if fc == nil || len(fc.TargetGroups) == 0 {
		if a.TargetGroupArn == "" {
			return a, validationError("A target group ARN must be specified for a forward action")
		}
		fc = &elbv2wire.ForwardActionConfig{TargetGroups: []elbv2wire.TargetGroupTuple{{TargetGroupArn: a.TargetGroupArn}}}
	} else if a.TargetGroupArn != "" && (len(fc.TargetGroups) != 1 || fc.TargetGroups[0].TargetGroupArn != a.TargetGroupArn) {
		return a, validationError("You cannot specify both a target group ARN and a forward config with different target groups")
	}
	if len(fc.TargetGroups) > 5 {
		return a, validationError("A forward action can have at most 5 target groups")
	}
	groups := make([]elbv2wire.TargetGroupTuple, 0, len(fc.TargetGroups))
	for _, g := range fc.TargetGroups {
		if err := checkForwardGroup(tx, sc, lbARN, g.TargetGroupArn); err != nil {
			return a, err
		}
		weight := int32(1)
		if g.Weight != nil {
			weight = *g.Weight
		}
		if weight < 0 || weight > 999 {
			return a, validationError("Target group weight must be between 0 and 999")
		}
		groups = append(groups, elbv2wire.TargetGroupTuple{TargetGroupArn: g.TargetGroupArn, Weight: &weight})
	}
	sticky := &elbv2wire.TargetGroupStickinessConfig{Enabled: boolOr(nil, false)}
	if fc.TargetGroupStickinessConfig != nil && fc.TargetGroupStickinessConfig.Enabled != nil && *fc.TargetGroupStickinessConfig.Enabled {
		d := fc.TargetGroupStickinessConfig.DurationSeconds
		if d == nil || *d < 1 || *d > 604800 {
			return a, validationError("Target group stickiness duration must be between 1 and 604800 seconds")
		}
		sticky = &elbv2wire.TargetGroupStickinessConfig{Enabled: boolOr(nil, true), DurationSeconds: d}
	}
	a.ForwardConfig = &elbv2wire.ForwardActionConfig{TargetGroups: groups, TargetGroupStickinessConfig: sticky}
	a.TargetGroupArn = ""
	if len(groups) == 1 {
		a.TargetGroupArn = groups[0].TargetGroupArn
	}
	return a, nil
}

// checkForwardGroup checks that a target group exists and serves no other
// load balancer (an ALB target group belongs to one load balancer).
func checkForwardGroup(tx *store.Tx, sc scope, lbARN, tgARN string) error {
	if _, err := getTG(tx, sc, tgARN); err != nil {
		return protocol.ClientError("TargetGroupNotFound", "Target group '%s' not found", tgARN)
	}
	usage, err := tgUsage(tx, sc)
	if err != nil {
		return err
	}
	for _, other := range usage[tgARN] {
		if other != lbARN {
			return protocol.ClientError("TargetGroupAssociationLimit",
				"The following target groups cannot be associated with more than one load balancer: %s", tgARN)
		}
	}
	return nil
}

var redirectProtocols = []string{"HTTP", "HTTPS", "#{protocol}"}

func checkRedirect(rc *elbv2wire.RedirectActionConfig) error {
	if rc == nil {
		return validationError("A redirect configuration must be specified for a redirect action")
	}
	if rc.StatusCode != "HTTP_301" && rc.StatusCode != "HTTP_302" {
		return validationError("Redirect status code must be 'HTTP_301' or 'HTTP_302'")
	}
	if rc.Protocol != "" && !slices.Contains(redirectProtocols, rc.Protocol) {
		return validationError("Redirect protocol must be HTTP, HTTPS or #{protocol}")
	}
	if rc.Path != "" && !strings.HasPrefix(rc.Path, "/") {
		return validationError("Redirect path must start with a '/'")
	}
	unchanged := func(v, keyword string) bool { return v == "" || v == keyword }
	if unchanged(rc.Protocol, "#{protocol}") && unchanged(rc.Host, "#{host}") && unchanged(rc.Port, "#{port}") &&
		(rc.Path == "" || rc.Path == "/#{path}") && unchanged(rc.Query, "#{query}") {
		return invalidAction("The redirect configuration is not valid: it would redirect to the same URL")
	}
	return nil
}

var fixedContentTypes = []string{"text/plain", "text/css", "text/html", "application/javascript", "application/json"}

var statusCodePattern = regexp.MustCompile(`^(2|4|5)\d\d$`)

func checkFixedResponse(fc *elbv2wire.FixedResponseActionConfig) error {
	switch {
	case fc == nil:
		return validationError("A fixed response configuration must be specified for a fixed-response action")
	case !statusCodePattern.MatchString(fc.StatusCode):
		return validationError("Fixed response status code must be 2XX, 4XX or 5XX")
	case fc.ContentType != "" && !slices.Contains(fixedContentTypes, fc.ContentType):
		return validationError("Fixed response content type must be one of %s", strings.Join(fixedContentTypes, ", "))
	case len(fc.MessageBody) > 1024:
		return validationError("Fixed response message body can be at most 1024 characters")
	}
	return nil
}

// forwardGroups lists the target groups actions forward to.
func forwardGroups(actions []elbv2wire.Action) []string {
	var out []string
	for _, a := range actions {
		if a.Type != "forward" {
			continue
		}
		if a.ForwardConfig != nil {
			for _, g := range a.ForwardConfig.TargetGroups {
				out = append(out, g.TargetGroupArn)
			}
		} else if a.TargetGroupArn != "" {
			out = append(out, a.TargetGroupArn)
		}
	}
	return out
}

var conditionFields = []string{"path-pattern", "host-header", "http-header", "http-request-method", "query-string", "source-ip"}

var methodPattern = regexp.MustCompile(`^[A-Z_-]{1,40}$`)

// checkConditions validates rule conditions and returns them as AWS
// reports them: host-header and path-pattern with both Values and Config.
func checkConditions(conds []elbv2wire.RuleCondition) ([]elbv2wire.RuleCondition, error) {
	if len(conds) == 0 {
		return nil, validationError("At least one condition must be specified")
	}
	total := 0
	seen := map[string]bool{}
	out := make([]elbv2wire.RuleCondition, 0, len(conds))
	for _, c := range conds {
		if !slices.Contains(conditionFields, c.Field) {
			return nil, validationError("Condition field '%s' must be one of [%s]", c.Field, strings.Join(conditionFields, ", "))
		}
		if c.Field != "http-header" && c.Field != "query-string" && seen[c.Field] {
			return nil, validationError("A rule can only have one '%s' condition", c.Field)
		}
		seen[c.Field] = true
		c, n, err := checkCondition(c)
		if err != nil {
			return nil, err
		}
		total += n
		out = append(out, c)
	}
	if total > 5 {
		return nil, validationError("A rule can only have '5' condition values")
	}
	return out, nil
}

// checkCondition validates one condition; n is how many values it has.
func checkCondition(c elbv2wire.RuleCondition) (elbv2wire.RuleCondition, int, error) {
	values := func(cfg []string) ([]string, error) {
		if len(c.Values) > 0 && len(cfg) > 0 {
			return nil, validationError("You cannot specify both Values and a %s configuration", c.Field)
		}
		v := append(append([]string(nil), c.Values...), cfg...)
		if len(v) == 0 {
			return nil, validationError("A '%s' condition must have at least one value", c.Field)
		}
		return v, nil
	}
	if len(c.Values) > 0 && c.Field != "path-pattern" && c.Field != "host-header" {
		return c, 0, validationError("Values can only be used with 'path-pattern' and 'host-header' conditions; use the %s configuration", c.Field)
	}
	switch c.Field {
	case "path-pattern":
		v, err := values(cfgValues(c.PathPatternConfig != nil, func() []string { return c.PathPatternConfig.Values }))
		if err != nil {
			return c, 0, err
		}
		for _, p := range v {
			if len(p) > 128 {
				return c, 0, validationError("Path pattern '%s' is longer than 128 characters", p)
			}
		}
		c.Values, c.PathPatternConfig = v, &elbv2wire.PathPatternConditionConfig{Values: v}
		return c, len(v), nil
	case "host-header":
		v, err := values(cfgValues(c.HostHeaderConfig != nil, func() []string { return c.HostHeaderConfig.Values }))
		if err != nil {
			return c, 0, err
		}
		c.Values, c.HostHeaderConfig = v, &elbv2wire.HostHeaderConditionConfig{Values: v}
		return c, len(v), nil
	case "http-header":
		if c.HttpHeaderConfig == nil || c.HttpHeaderConfig.HttpHeaderName == "" || len(c.HttpHeaderConfig.Values) == 0 {
			return c, 0, validationError("An 'http-header' condition needs HttpHeaderConfig with a header name and values")
		}
		return c, len(c.HttpHeaderConfig.Values), nil
	case "http-request-method":
		if c.HttpRequestMethodConfig == nil || len(c.HttpRequestMethodConfig.Values) == 0 {
			return c, 0, validationError("An 'http-request-method' condition needs HttpRequestMethodConfig values")
		}
		for _, m := range c.HttpRequestMethodConfig.Values {
			if !methodPattern.MatchString(m) {
				return c, 0, validationError("HTTP request method '%s' is not valid", m)
			}
		}
		return c, len(c.HttpRequestMethodConfig.Values), nil
	case "query-string":
		if c.QueryStringConfig == nil || len(c.QueryStringConfig.Values) == 0 {
			return c, 0, validationError("A 'query-string' condition needs QueryStringConfig values")
		}
		return c, len(c.QueryStringConfig.Values), nil
	default: // source-ip
		if c.SourceIpConfig == nil || len(c.SourceIpConfig.Values) == 0 {
			return c, 0, validationError("A 'source-ip' condition needs SourceIpConfig values")
		}
		for _, v := range c.SourceIpConfig.Values {
			if _, err := netip.ParsePrefix(v); err != nil {
				return c, 0, validationError("Source IP '%s' is not a valid CIDR block", v)
			}
		}
		return c, len(c.SourceIpConfig.Values), nil
	}
}

func cfgValues(present bool, get func() []string) []string {
	if !present {
		return nil
	}
	return get()
}
