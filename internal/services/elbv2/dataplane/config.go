// Package dataplane is the ALB data plane: the HTTP(S) listeners on each load
// balancer's loopback address, rule matching, target selection, health
// checks and draining.
//
//	control plane ──Apply(Config)──► compile + validate ──► atomic table swap
//	                                                            │
//	client ──► socket (127.a.b.c:port, or 127.0.0.1:port by Host) ──► listener
//	    ──► rules (priority order) ──► action: forward | redirect | fixed-response
//	    ──► target group ──► healthy target (round robin / least outstanding)
//
// Config is plain data built by the control plane from its store; the plane
// never reads the store. A Config that fails to compile leaves the running
// table in place.
package dataplane

import (
	"crypto/tls"
	"net/netip"
	"time"
)

// Config is everything the data plane serves, as the control plane stores it.
type Config struct {
	LoadBalancers []LoadBalancer
	TargetGroups  []TargetGroup
}

// LoadBalancer is one application load balancer.
type LoadBalancer struct {
	ARN     string
	Name    string
	DNSName string
	// Address is the loopback address the load balancer's listeners bind.
	Address     netip.Addr
	IdleTimeout time.Duration
	HTTP2       bool
	// AccessLogPath is the file access logs are appended to; empty when off.
	AccessLogPath string
	// XFF is how X-Forwarded-For is treated: XFFAppend (default),
	// XFFPreserve or XFFRemove.
	XFF string
	// XFFClientPort appends the client's port to its address in X-Forwarded-For.
	XFFClientPort bool
	Listeners     []Listener
}

// X-Forwarded-For processing modes (routing.http.xff_header_processing.mode).
const (
	XFFAppend   = "append"
	XFFPreserve = "preserve"
	XFFRemove   = "remove"
)

// Listener is one port of a load balancer.
type Listener struct {
	ARN      string
	Port     int
	Protocol string // HTTP or HTTPS
	// SSLPolicy names the ELB security policy limiting TLS versions (HTTPS).
	SSLPolicy string
	// Certificates are served by SNI; the first is the default (HTTPS).
	Certificates []*tls.Certificate
	// Rules in evaluation order: ascending priority, the default rule last.
	Rules []Rule
}

// Rule is a listener rule: all conditions must match for its action to run.
type Rule struct {
	ARN        string
	Conditions []Condition
	Action     Action
}

// Condition fields.
const (
	FieldPathPattern       = "path-pattern"
	FieldHostHeader        = "host-header"
	FieldHTTPHeader        = "http-header"
	FieldHTTPRequestMethod = "http-request-method"
	FieldQueryString       = "query-string"
	FieldSourceIP          = "source-ip"
)

// Condition is one rule condition; any of its values may match.
type Condition struct {
	Field  string
	Values []string
	// HeaderName is the header an http-header condition reads.
	HeaderName string
	// QueryPairs are the key/value patterns of a query-string condition
	// (an empty key matches any key).
	QueryPairs []QueryPair
}

// QueryPair is one query-string pattern.
type QueryPair struct{ Key, Value string }

// Action types.
const (
	ActionForward       = "forward"
	ActionRedirect      = "redirect"
	ActionFixedResponse = "fixed-response"
)

// Action is what a matched rule does.
type Action struct {
	Type string
	// Forward lists the target groups with their weights (forward).
	Forward []WeightedGroup
	// GroupStickiness keeps a client on one group of a weighted forward for
	// this long; zero is off.
	GroupStickiness time.Duration
	Redirect        *Redirect
	Fixed           *FixedResponse
}

// WeightedGroup is a target group of a forward action.
type WeightedGroup struct {
	ARN    string
	Weight int
}

// Redirect is a redirect action; fields may use #{protocol}, #{host},
// #{port}, #{path} and #{query}.
type Redirect struct {
	Protocol, Host, Port, Path, Query string
	StatusCode                        int // 301 or 302
}

// FixedResponse is a fixed-response action.
type FixedResponse struct {
	StatusCode  int
	ContentType string
	Body        string
}

// Load balancing algorithms.
const (
	RoundRobin               = "round_robin"
	LeastOutstandingRequests = "least_outstanding_requests"
)

// TargetGroup is a set of targets and how traffic reaches them.
type TargetGroup struct {
	ARN       string
	Protocol  string // HTTP or HTTPS
	Algorithm string
	// Stickiness is the lb_cookie duration; zero is off.
	Stickiness time.Duration
	SlowStart  time.Duration
	Health     HealthCheck
	Targets    []Target
}

// HealthCheck is a target group's health check.
type HealthCheck struct {
	Enabled  bool
	Protocol string // HTTP or HTTPS
	// Port is the port checked; zero means each target's traffic port.
	Port               int
	Path               string
	Interval, Timeout  time.Duration
	HealthyThreshold   int
	UnhealthyThreshold int
	// Matcher lists the HTTP codes that count as healthy.
	Matcher []CodeRange
}

// CodeRange is an inclusive range of HTTP status codes.
type CodeRange struct{ From, To int }

// Target is a registered target.
type Target struct {
	// Key identifies the target in its group: "id:port".
	Key  string
	Addr netip.AddrPort
	// Draining targets get no new requests; in-flight ones finish.
	Draining bool
}
