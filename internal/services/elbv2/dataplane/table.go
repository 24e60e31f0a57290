package dataplane

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// defaultIdleTimeout is ALB's default idle timeout.
const defaultIdleTimeout = 60 * time.Second

// table is an immutable compiled Config: what each socket serves.
type table struct {
	sockets map[socketKey]*socketRoutes
	groups  map[string]*group
	// inUse holds the target groups some listener forwards to; only
	// their targets are health checked and get traffic.
	inUse map[string]bool
}

// socketKey is an address and port kumo listens on.
type socketKey struct {
	addr netip.Addr
	port int
}

// socketRoutes is what one socket serves: a load balancer's own listener,
// or, on a host-routed address (127.0.0.1, the task bridge IP), the
// listeners of that port by DNS name.
type socketRoutes struct {
	protocol string
	http2    bool
	// idle is the client idle timeout: the load balancer's on its own
	// address, 60 s on a host-routed one.
	idle time.Duration
	// hostRouted says the socket routes by the Host header (byHost) and
	// has no dedicated listener.
	hostRouted bool
	dedicated  *listener
	byHost     map[string]*listener
}

// listener is a compiled listener.
type listener struct {
	lb  *lbRuntime
	cfg Listener
	// proto and port are X-Forwarded-Proto and -Port, formatted once.
	proto, port string
	rules       []compiledRule
	tls         *tls.Config
}

type compiledRule struct {
	matchers []matcher
	action   Action
}

// compile validates cfg and builds its table. Backends and per-LB runtimes
// come from the plane so they survive the swap.
func (p *Plane) compile(cfg Config) (*table, error) {
	t := &table{sockets: map[socketKey]*socketRoutes{}, groups: map[string]*group{}, inUse: map[string]bool{}}
	for _, tg := range cfg.TargetGroups {
		if err := validateGroup(tg); err != nil {
			return nil, fmt.Errorf("target group %s: %w", tg.ARN, err)
		}
		t.groups[tg.ARN] = p.groupFor(tg)
	}
	for _, lb := range cfg.LoadBalancers {
		if slices.Contains(p.hostRouted, lb.Address) {
			return nil, fmt.Errorf("load balancer %s: its address %s is shared, routed by Host", lb.ARN, lb.Address)
		}
		rt := p.runtimeFor(lb)
		for _, l := range lb.Listeners {
			cl, err := compileListener(rt, l, t)
			if err != nil {
				return nil, fmt.Errorf("listener %s: %w", l.ARN, err)
			}
			if err := t.addSocket(socketKey{lb.Address, l.Port}, cl, ""); err != nil {
				return nil, err
			}
			for _, addr := range p.hostRouted {
				// A clash on a shared address (another load balancer's
				// listener of this port has the other protocol) only
				// loses this Host route there.
				_ = t.addSocket(socketKey{addr, l.Port}, cl, strings.ToLower(lb.DNSName))
			}
		}
	}
	return t, nil
}

// addSocket adds a listener to the socket of key: as its dedicated
// listener when host is "", else routed to by that Host.
func (t *table) addSocket(key socketKey, l *listener, host string) error {
	routes := t.sockets[key]
	if routes == nil {
		routes = &socketRoutes{protocol: l.cfg.Protocol, http2: l.lb.cfg.HTTP2, idle: defaultIdleTimeout,
			hostRouted: host != "", byHost: map[string]*listener{}}
		t.sockets[key] = routes
	}
	if routes.protocol != l.cfg.Protocol {
		return fmt.Errorf("%s:%d serves %s, cannot also serve %s", key.addr, key.port, routes.protocol, l.cfg.Protocol)
	}
	if host == "" {
		if routes.dedicated != nil {
			return fmt.Errorf("two listeners on %s:%d", key.addr, key.port)
		}
		routes.dedicated = l
		routes.idle = l.lb.cfg.IdleTimeout
		return nil
	}
	routes.byHost[host] = l
	return nil
}

func compileListener(rt *lbRuntime, l Listener, t *table) (*listener, error) {
	if l.Protocol != "HTTP" && l.Protocol != "HTTPS" {
		return nil, fmt.Errorf("unsupported protocol %q", l.Protocol)
	}
	if len(l.Rules) == 0 {
		return nil, errors.New("no default rule")
	}
	cl := &listener{lb: rt, cfg: l, proto: strings.ToLower(l.Protocol), port: strconv.Itoa(l.Port)}
	if l.Protocol == "HTTPS" {
		if len(l.Certificates) == 0 {
			return nil, errors.New("HTTPS listener without a certificate")
		}
		if _, ok := LookupSSLPolicy(l.SSLPolicy); !ok {
			return nil, fmt.Errorf("unknown SSL policy %q", l.SSLPolicy)
		}
		cl.tls = listenerTLS(l, rt.cfg.HTTP2)
	}
	for _, r := range l.Rules {
		cr := compiledRule{action: r.Action}
		for _, c := range r.Conditions {
			m, err := compileCondition(c)
			if err != nil {
				return nil, fmt.Errorf("rule %s: %w", r.ARN, err)
			}
			cr.matchers = append(cr.matchers, m)
		}
		if err := validateAction(r.Action, t); err != nil {
			return nil, fmt.Errorf("rule %s: %w", r.ARN, err)
		}
		cl.rules = append(cl.rules, cr)
	}
	return cl, nil
}

func validateAction(a Action, t *table) error {
	switch a.Type {
	case ActionForward:
		if len(a.Forward) == 0 {
			return errors.New("forward without target groups")
		}
		for _, g := range a.Forward {
			if t.groups[g.ARN] == nil {
				return fmt.Errorf("unknown target group %s", g.ARN)
			}
			t.inUse[g.ARN] = true
		}
	case ActionRedirect:
		if a.Redirect == nil || (a.Redirect.StatusCode != 301 && a.Redirect.StatusCode != 302) {
			return errors.New("redirect needs status 301 or 302")
		}
	case ActionFixedResponse:
		if a.Fixed == nil || a.Fixed.StatusCode < 200 || a.Fixed.StatusCode > 599 {
			return errors.New("fixed-response needs a status code 2XX-5XX")
		}
	default:
		return fmt.Errorf("unsupported action type %q", a.Type)
	}
	return nil
}

func validateGroup(tg TargetGroup) error {
	hc := tg.Health
	if hc.Enabled && (hc.Interval <= 0 || hc.Timeout <= 0 || hc.HealthyThreshold < 1 || hc.UnhealthyThreshold < 1) {
		return errors.New("health check needs an interval, a timeout and thresholds")
	}
	if tg.Algorithm != RoundRobin && tg.Algorithm != LeastOutstandingRequests {
		return fmt.Errorf("unknown algorithm %q", tg.Algorithm)
	}
	seen := map[string]bool{}
	for _, tgt := range tg.Targets {
		if seen[tgt.Key] || !tgt.Addr.IsValid() {
			return fmt.Errorf("target %q is duplicated or has no address", tgt.Key)
		}
		seen[tgt.Key] = true
	}
	return nil
}
