package elbv2

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/netip"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/kumo-project/kumo/internal/arn"
	"github.com/kumo-project/kumo/internal/services/elbv2/dataplane"
	"github.com/kumo-project/kumo/internal/store"
	"github.com/kumo-project/kumo/internal/wire/elbv2wire"
)

// syncInterval bounds how long a finished drain or a retry of an unbound
// listener waits when nothing nudges the syncer.
const syncInterval = time.Second

// syncLoop keeps the data plane serving what the store holds.
func (s *Service) syncLoop(ctx context.Context) {
	ticker := s.clock.NewTicker(syncInterval)
	defer ticker.Stop()
	for {
		s.syncOnce()
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-ticker.C():
		}
	}
}

// syncOnce applies the stored state to the data plane, then ends the
// drains that are over.
func (s *Service) syncOnce() {
	cfg, err := s.buildConfig()
	if err != nil {
		s.log.Error("build load balancer table", "error", err)
		return
	}
	if s.applied == nil || !reflect.DeepEqual(*s.applied, cfg) {
		if err := s.plane.Apply(cfg); err != nil {
			s.log.Error("load balancer table rejected; the previous one keeps serving", "error", err)
			return
		}
		s.applied = &cfg
	} else {
		s.plane.RetrySockets()
	}
	done, err := s.finishDrains()
	if err != nil {
		s.log.Error("finish draining targets", "error", err)
	}
	if done {
		s.nudge()
	}
}

// finishDrains removes the draining targets whose deregistration delay is
// over or whose in-flight requests have ended. It writes only when there
// is something to remove.
func (s *Service) finishDrains() (changed bool, err error) {
	now := s.clock.Now()
	err = s.store.View(func(tx *store.Tx) error {
		tgs, err := store.List[tgRecord](tx, tableTargetGroups, "")
		for _, r := range tgs {
			changed = changed || len(s.stillRegistered(r, now)) != len(r.Targets)
		}
		return err
	})
	if err != nil || !changed {
		return false, err
	}
	err = s.store.Update(func(tx *store.Tx) error {
		tgs, err := store.List[tgRecord](tx, tableTargetGroups, "")
		if err != nil {
			return err
		}
		for _, r := range tgs {
			kept := s.stillRegistered(r, now)
			if len(kept) == len(r.Targets) {
				continue
			}
			r.Targets = kept
			if err := tx.Put(tableTargetGroups, r.TargetGroup.TargetGroupArn, r); err != nil {
				return err
			}
		}
		return nil
	})
	return err == nil, err
}

// stillRegistered returns a group's targets without those whose drain is
// over: the data plane shows them draining and their delay has passed or
// their in-flight requests are done (or the plane never served them and
// the delay has passed).
func (s *Service) stillRegistered(r tgRecord, now time.Time) []targetRecord {
	arn := r.TargetGroup.TargetGroupArn
	health := s.plane.TargetHealth(arn)
	var kept []targetRecord
	for _, t := range r.Targets {
		key := targetKey(t.ID, t.Port)
		expired := t.draining() && !now.Before(t.DrainUntil)
		state := health[key].State
		drained := (state == dataplane.StateDraining && (expired || s.plane.InFlight(arn, key) == 0)) ||
			(state == "" && expired)
		if !drained {
			kept = append(kept, t)
		}
	}
	return kept
}

// snapshot is the stored state the data plane is built from.
type snapshot struct {
	lbs       []lbRecord
	listeners []listenerRecord
	rules     map[string][]ruleRecord // by listener ARN, in evaluation order
	tgs       []tgRecord
}

func (s *Service) readSnapshot() (snapshot, error) {
	snap := snapshot{rules: map[string][]ruleRecord{}}
	err := s.store.View(func(tx *store.Tx) (err error) {
		if snap.lbs, err = store.List[lbRecord](tx, tableLoadBalancers, ""); err != nil {
			return err
		}
		if snap.listeners, err = store.List[listenerRecord](tx, tableListeners, ""); err != nil {
			return err
		}
		for _, l := range snap.listeners {
			if snap.rules[l.Listener.ListenerArn], err = listenerRules(tx, l.Listener.ListenerArn); err != nil {
				return err
			}
		}
		snap.tgs, err = store.List[tgRecord](tx, tableTargetGroups, "")
		return err
	})
	return snap, err
}

// buildConfig turns the stored state into the data plane's Config.
// Certificates are read after the store transaction ends.
func (s *Service) buildConfig() (dataplane.Config, error) {
	snap, err := s.readSnapshot()
	if err != nil {
		return dataplane.Config{}, err
	}
	var cfg dataplane.Config
	byLB := map[string][]listenerRecord{}
	for _, l := range snap.listeners {
		byLB[l.Listener.LoadBalancerArn] = append(byLB[l.Listener.LoadBalancerArn], l)
	}
	for _, r := range snap.lbs {
		lb, err := s.lbConfig(r, byLB[r.LoadBalancer.LoadBalancerArn], snap.rules)
		if err != nil {
			return cfg, err
		}
		cfg.LoadBalancers = append(cfg.LoadBalancers, lb)
	}
	for _, r := range snap.tgs {
		cfg.TargetGroups = append(cfg.TargetGroups, tgConfig(r))
	}
	return cfg, nil
}

func (s *Service) lbConfig(r lbRecord, listeners []listenerRecord, rules map[string][]ruleRecord) (dataplane.LoadBalancer, error) {
	lb := r.LoadBalancer
	addr, err := netip.ParseAddr(r.Address)
	if err != nil {
		return dataplane.LoadBalancer{}, err
	}
	idle, _ := strconv.Atoi(r.Attributes["idle_timeout.timeout_seconds"])
	out := dataplane.LoadBalancer{
		ARN: lb.LoadBalancerArn, Name: lb.LoadBalancerName, DNSName: lb.DNSName, Address: addr,
		IdleTimeout: time.Duration(idle) * time.Second, HTTP2: r.Attributes["routing.http2.enabled"] != "false",
		XFF: r.Attributes["routing.http.xff_header_processing.mode"], XFFClientPort: r.Attributes["routing.http.xff_client_port.enabled"] == "true",
	}
	if r.Attributes["access_logs.s3.enabled"] == "true" {
		out.AccessLogPath = s.accessLogPath(r)
	}
	for _, l := range listeners {
		dl, err := s.listenerConfig(l, rules[l.Listener.ListenerArn])
		if err != nil {
			return out, err
		}
		out.Listeners = append(out.Listeners, dl)
	}
	return out, nil
}

// accessLogPath is where a load balancer's access log goes: the layout of
// ALB's S3 keys, under the data dir, with the bucket as a folder.
func (s *Service) accessLogPath(r lbRecord) string {
	a, _ := arn.Parse(r.LoadBalancer.LoadBalancerArn)
	return filepath.Join(s.logDir, r.Attributes["access_logs.s3.bucket"], r.Attributes["access_logs.s3.prefix"],
		"AWSLogs", a.AccountID, "elasticloadbalancing", a.Region, r.LoadBalancer.LoadBalancerName+".log")
}

func (s *Service) listenerConfig(r listenerRecord, rules []ruleRecord) (dataplane.Listener, error) {
	l := r.Listener
	out := dataplane.Listener{ARN: l.ListenerArn, Port: int(*l.Port), Protocol: l.Protocol, SSLPolicy: l.SslPolicy}
	// ModifyListener drops the SNI certificates of a listener made HTTP.
	for _, a := range append(certificateARNs(l.Certificates), r.SNICertificates...) {
		cert, err := s.keyPair(a)
		if err != nil {
			return out, err
		}
		out.Certificates = append(out.Certificates, cert)
	}
	for _, r := range rules {
		out.Rules = append(out.Rules, ruleConfig(r.Rule))
	}
	return out, nil
}

func (s *Service) keyPair(certARN string) (*tls.Certificate, error) {
	if s.certs == nil {
		return nil, fmt.Errorf("no certificate source for %s", certARN)
	}
	return s.certs.KeyPair(context.Background(), certARN)
}

func ruleConfig(r elbv2wire.Rule) dataplane.Rule {
	out := dataplane.Rule{ARN: r.RuleArn}
	for _, c := range r.Conditions {
		out.Conditions = append(out.Conditions, conditionConfig(c))
	}
	for _, a := range r.Actions {
		out.Action = actionConfig(a)
	}
	return out
}

func conditionConfig(c elbv2wire.RuleCondition) dataplane.Condition {
	out := dataplane.Condition{Field: c.Field, Values: c.Values}
	switch {
	case c.HttpHeaderConfig != nil:
		out.HeaderName, out.Values = c.HttpHeaderConfig.HttpHeaderName, c.HttpHeaderConfig.Values
	case c.HttpRequestMethodConfig != nil:
		out.Values = c.HttpRequestMethodConfig.Values
	case c.SourceIpConfig != nil:
		out.Values = c.SourceIpConfig.Values
	case c.QueryStringConfig != nil:
		for _, p := range c.QueryStringConfig.Values {
			out.QueryPairs = append(out.QueryPairs, dataplane.QueryPair{Key: p.Key, Value: p.Value})
		}
	}
	return out
}

func actionConfig(a elbv2wire.Action) dataplane.Action {
	out := dataplane.Action{Type: a.Type}
	switch a.Type {
	case "forward":
		for _, g := range a.ForwardConfig.TargetGroups {
			out.Forward = append(out.Forward, dataplane.WeightedGroup{ARN: g.TargetGroupArn, Weight: int(*g.Weight)})
		}
		if st := a.ForwardConfig.TargetGroupStickinessConfig; st != nil && st.Enabled != nil && *st.Enabled && st.DurationSeconds != nil {
			out.GroupStickiness = time.Duration(*st.DurationSeconds) * time.Second
		}
	case "redirect":
		rc := a.RedirectConfig
		code, _ := strconv.Atoi(strings.TrimPrefix(rc.StatusCode, "HTTP_"))
		out.Redirect = &dataplane.Redirect{Protocol: rc.Protocol, Host: rc.Host, Port: rc.Port, Path: rc.Path, Query: rc.Query, StatusCode: code}
	case "fixed-response":
		fc := a.FixedResponseConfig
		code, _ := strconv.Atoi(fc.StatusCode)
		out.Fixed = &dataplane.FixedResponse{StatusCode: code, ContentType: fc.ContentType, Body: fc.MessageBody}
	}
	return out
}

func tgConfig(r tgRecord) dataplane.TargetGroup {
	tg := r.TargetGroup
	attr := func(k string) int { n, _ := strconv.Atoi(r.Attributes[k]); return n }
	out := dataplane.TargetGroup{
		ARN: tg.TargetGroupArn, Protocol: tg.Protocol, Algorithm: r.Attributes["load_balancing.algorithm.type"],
		SlowStart: time.Duration(attr("slow_start.duration_seconds")) * time.Second,
		Health:    healthConfig(tg),
	}
	if r.Attributes["stickiness.enabled"] == "true" {
		out.Stickiness = time.Duration(attr("stickiness.lb_cookie.duration_seconds")) * time.Second
	}
	for _, t := range r.Targets {
		out.Targets = append(out.Targets, dataplane.Target{Key: targetKey(t.ID, t.Port), Addr: targetAddr(t.ID, t.Port), Draining: t.draining()})
	}
	return out
}

func healthConfig(tg elbv2wire.TargetGroup) dataplane.HealthCheck {
	port, _ := strconv.Atoi(tg.HealthCheckPort) // 0 for traffic-port
	ranges, _ := parseMatcher(tg.Matcher.HttpCode)
	hc := dataplane.HealthCheck{
		Enabled: *tg.HealthCheckEnabled, Protocol: tg.HealthCheckProtocol, Port: port, Path: tg.HealthCheckPath,
		Interval:           time.Duration(*tg.HealthCheckIntervalSeconds) * time.Second,
		Timeout:            time.Duration(*tg.HealthCheckTimeoutSeconds) * time.Second,
		HealthyThreshold:   int(*tg.HealthyThresholdCount),
		UnhealthyThreshold: int(*tg.UnhealthyThresholdCount),
	}
	for _, r := range ranges {
		hc.Matcher = append(hc.Matcher, dataplane.CodeRange{From: r.from, To: r.to})
	}
	return hc
}
