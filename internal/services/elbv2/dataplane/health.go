package dataplane

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/kumo-project/kumo/internal/clock"
)

// Target health states and reason codes, as DescribeTargetHealth reports them.
const (
	StateInitial     = "initial"
	StateHealthy     = "healthy"
	StateUnhealthy   = "unhealthy"
	StateUnused      = "unused"
	StateDraining    = "draining"
	StateUnavailable = "unavailable"

	ReasonInitialHealthChecking   = "Elb.InitialHealthChecking"
	ReasonResponseCodeMismatch    = "Target.ResponseCodeMismatch"
	ReasonTimeout                 = "Target.Timeout"
	ReasonFailedHealthChecks      = "Target.FailedHealthChecks"
	ReasonNotInUse                = "Target.NotInUse"
	ReasonDeregistrationInProgres = "Target.DeregistrationInProgress"
	ReasonHealthCheckDisabled     = "Target.HealthCheckDisabled"
)

// Health is a target's health as DescribeTargetHealth shows it.
type Health struct {
	State       string
	Reason      string
	Description string
}

// healthState is the health check state machine of one target: consecutive
// results move it between initial, healthy and unhealthy.
type healthState struct {
	Health
	successes, failures int
	// healthySince is when the target last became healthy (slow start).
	healthySince time.Time
}

func newHealthState() healthState {
	return healthState{Health: Health{State: StateInitial, Reason: ReasonInitialHealthChecking,
		Description: "Initial health checks in progress"}}
}

// checkResult is the outcome of one health check; fail is empty on success.
type checkResult struct {
	fail Health
}

// observe applies one check result: healthyThreshold consecutive passes make
// a target healthy, unhealthyThreshold consecutive failures unhealthy.
func (h healthState) observe(r checkResult, hc HealthCheck, now time.Time) healthState {
	if r.fail.Reason == "" {
		h.failures = 0
		h.successes++
		if h.State != StateHealthy && h.successes >= hc.HealthyThreshold {
			h.Health = Health{State: StateHealthy}
			h.healthySince = now
		}
		return h
	}
	h.successes = 0
	h.failures++
	if h.State == StateUnhealthy || h.failures >= hc.UnhealthyThreshold {
		h.Health = Health{State: StateUnhealthy, Reason: r.fail.Reason, Description: r.fail.Description}
	}
	return h
}

// checkTarget runs one HTTP(S) health check against a target.
func checkTarget(ctx context.Context, client *http.Client, hc HealthCheck, t Target) checkResult {
	port := int(t.Addr.Port())
	if hc.Port != 0 {
		port = hc.Port
	}
	scheme := "http"
	if hc.Protocol == "HTTPS" {
		scheme = "https"
	}
	url := scheme + "://" + net.JoinHostPort(t.Addr.Addr().String(), strconv.Itoa(port)) + hc.Path
	ctx, cancel := context.WithTimeout(ctx, hc.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return checkResult{fail: Health{Reason: ReasonFailedHealthChecks, Description: "Health checks failed"}}
	}
	req.Header.Set("User-Agent", "ELB-HealthChecker/2.0")
	resp, err := client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return checkResult{fail: Health{Reason: ReasonTimeout, Description: "Request timed out"}}
		}
		return checkResult{fail: Health{Reason: ReasonFailedHealthChecks, Description: "Health checks failed"}}
	}
	resp.Body.Close()
	if !codeMatches(hc.Matcher, resp.StatusCode) {
		return checkResult{fail: Health{Reason: ReasonResponseCodeMismatch,
			Description: fmt.Sprintf("Health checks failed with these codes: [%d]", resp.StatusCode)}}
	}
	return checkResult{}
}

func codeMatches(ranges []CodeRange, code int) bool {
	for _, r := range ranges {
		if code >= r.From && code <= r.To {
			return true
		}
	}
	return false
}

// healthClient is the HTTP client of health checks: no keep-alive (each
// check opens a connection, as ALB's do) and no certificate verification.
func healthClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			DisableKeepAlives: true,
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// checker runs the health checks of one target group until stopped.
type checker struct {
	cancel context.CancelFunc
	done   chan struct{}
	hc     HealthCheck
	// kick asks for an immediate check of targets never checked yet.
	kick chan struct{}
}

// runChecks checks every target of group tg once per interval, in parallel,
// and records the results on the plane's backends. A kick checks newly
// registered targets at once, as ALB does on registration.
func (p *Plane) runChecks(ctx context.Context, tgARN string, hc HealthCheck, kick <-chan struct{}) {
	ticker := p.clock.NewTicker(hc.Interval)
	defer ticker.Stop()
	for {
		p.checkGroup(ctx, tgARN, hc, false)
		if !p.untilTick(ctx, ticker, func() { p.checkGroup(ctx, tgARN, hc, true) }, kick) {
			return
		}
	}
}

// untilTick waits for the next tick, running onKick for each kick
// meanwhile; false means ctx ended.
func (p *Plane) untilTick(ctx context.Context, ticker clock.Ticker, onKick func(), kick <-chan struct{}) bool {
	for {
		select {
		case <-ctx.Done():
			return false
		case <-kick:
			onKick()
		case <-ticker.C():
			return true
		}
	}
}

// checkGroup checks the targets of a group (only those never checked when
// onlyNew is set).
func (p *Plane) checkGroup(ctx context.Context, tgARN string, hc HealthCheck, onlyNew bool) {
	var wg sync.WaitGroup
	for _, b := range p.backendsOf(tgARN) {
		if onlyNew && b.wasChecked() {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := checkTarget(ctx, p.healthClient, hc, b.target())
			if ctx.Err() != nil {
				return
			}
			b.observe(r, hc, p.clock.Now())
		}()
	}
	wg.Wait()
}
