package dataplane

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kumo-project/kumo/internal/clock"
)

// Options configure a Plane.
type Options struct {
	Clock clock.Clock
	Log   *slog.Logger
	// HostRouted are shared addresses that also serve every listener port,
	// routing by the Host header to the load balancer whose DNS name it
	// names: 127.0.0.1, so `curl http://<DNSName>/` works without DNS
	// set-up, and the task bridge IP, where tasks reach load balancers by
	// name. A port that cannot be bound on one of them (another program
	// holds it) only loses that route and is retried.
	HostRouted []netip.Addr
}

// Plane serves load balancers. Apply swaps what it serves; Close stops it.
type Plane struct {
	clock        clock.Clock
	log          *slog.Logger
	hostRouted   []netip.Addr
	healthClient *http.Client

	table atomic.Pointer[table]

	mu       sync.Mutex // serializes Apply and Close; guards the maps below
	closed   bool
	backends map[string]map[string]*backend // target group ARN → target key
	cursors  map[string]*atomic.Uint64      // target group ARN → round-robin position
	runtimes map[string]*lbRuntime          // load balancer ARN
	sockets  map[socketKey]*socket
	checkers map[string]*checker // target group ARN
	logs     map[string]*accessLog
	unbound  map[socketKey]bool // sockets whose bind failed, logged once
}

// New returns a plane that serves nothing until Apply.
func New(o Options) *Plane {
	p := &Plane{
		clock: o.Clock, log: o.Log, hostRouted: o.HostRouted, healthClient: healthClient(),
		backends: map[string]map[string]*backend{}, cursors: map[string]*atomic.Uint64{}, runtimes: map[string]*lbRuntime{},
		sockets: map[socketKey]*socket{}, checkers: map[string]*checker{}, logs: map[string]*accessLog{},
		unbound: map[socketKey]bool{},
	}
	p.table.Store(&table{sockets: map[socketKey]*socketRoutes{}, groups: map[string]*group{}})
	return p
}

// Apply compiles cfg and, when it is valid, makes it what the plane serves:
// the next request sees the new rules and targets; open connections stay
// open. On error the previous table keeps serving.
func (p *Plane) Apply(cfg Config) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errors.New("data plane is closed")
	}
	t, err := p.compile(cfg)
	if err != nil {
		return err
	}
	p.adopt(t)
	p.table.Store(t)
	p.reconcileSockets(t)
	p.reconcileCheckers(t)
	return nil
}

// RetrySockets binds the sockets of the current table that could not be
// bound before (an address or port that was taken).
func (p *Plane) RetrySockets() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.reconcileSockets(p.table.Load())
	}
}

// groupFor builds a table group, reusing the backends of targets that were
// already registered so their health and counters carry over.
func (p *Plane) groupFor(tg TargetGroup) *group {
	g := &group{cfg: tg, byKey: map[string]*backend{}, next: p.cursors[tg.ARN]}
	if g.next == nil {
		g.next = new(atomic.Uint64)
	}
	old := p.backends[tg.ARN]
	for _, t := range tg.Targets {
		b := old[t.Key]
		if b == nil {
			b = newTargetBackend(t.Key, t, newHealthState())
		}
		g.backends = append(g.backends, b)
		g.byKey[t.Key] = b
	}
	return g
}

// adopt records the backends of a table that is about to be served and
// updates their targets (draining flags).
func (p *Plane) adopt(t *table) {
	backends := map[string]map[string]*backend{}
	cursors := map[string]*atomic.Uint64{}
	for arn, g := range t.groups {
		backends[arn] = g.byKey
		cursors[arn] = g.next
		for _, tgt := range g.cfg.Targets {
			g.byKey[tgt.Key].setTarget(tgt)
		}
	}
	for arn, old := range p.backends {
		for key, b := range old {
			if backends[arn][key] != b {
				b.conns.retire()
			}
		}
	}
	p.backends, p.cursors = backends, cursors
	runtimes := map[string]*lbRuntime{}
	for _, routes := range t.sockets {
		for _, l := range routes.listeners() {
			runtimes[l.lb.cfg.ARN] = l.lb
		}
	}
	for arn, rt := range p.runtimes {
		if runtimes[arn] == nil || runtimes[arn].transport != rt.transport {
			rt.transport.CloseIdleConnections()
		}
	}
	p.runtimes = runtimes
	p.closeUnusedLogs()
}

// closeUnusedLogs closes the access log files no load balancer writes to.
func (p *Plane) closeUnusedLogs() {
	used := map[*accessLog]bool{}
	for _, rt := range p.runtimes {
		used[rt.accessLog] = true
	}
	for path, l := range p.logs {
		if !used[l] {
			l.close()
			delete(p.logs, path)
		}
	}
}

func (r *socketRoutes) listeners() []*listener {
	var ls []*listener
	if r.dedicated != nil {
		ls = append(ls, r.dedicated)
	}
	for _, l := range r.byHost {
		ls = append(ls, l)
	}
	return ls
}

// backendsOf returns the targets of a group in the table being served. It
// takes no lock: Apply may be waiting, holding p.mu, for a health checker
// that calls it to stop.
func (p *Plane) backendsOf(tgARN string) []*backend {
	if g := p.table.Load().groups[tgARN]; g != nil {
		return g.backends
	}
	return nil
}

// TargetHealth reports the health of every target registered in a target
// group, by target key.
func (p *Plane) TargetHealth(tgARN string) map[string]Health {
	t := p.table.Load()
	g := t.groups[tgARN]
	out := map[string]Health{}
	if g == nil {
		return out
	}
	for _, b := range g.backends {
		tgt := b.target()
		switch {
		case tgt.Draining:
			out[b.key] = Health{State: StateDraining, Reason: ReasonDeregistrationInProgres,
				Description: "Target deregistration is in progress"}
		case !t.inUse[tgARN]:
			out[b.key] = Health{State: StateUnused, Reason: ReasonNotInUse,
				Description: "Target group is not configured to receive traffic from the load balancer"}
		case !g.cfg.Health.Enabled:
			out[b.key] = Health{State: StateUnavailable, Reason: ReasonHealthCheckDisabled,
				Description: "Health checks are disabled"}
		default:
			out[b.key] = b.healthState().Health
		}
	}
	return out
}

// InFlight is the number of requests a target is serving now.
func (p *Plane) InFlight(tgARN, key string) int64 {
	g := p.table.Load().groups[tgARN]
	if g == nil || g.byKey[key] == nil {
		return 0
	}
	return g.byKey[key].inflight.Load()
}

// Close stops every socket and health check.
func (p *Plane) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for key, s := range p.sockets {
		s.close()
		delete(p.sockets, key)
	}
	for arn, c := range p.checkers {
		c.stop()
		delete(p.checkers, arn)
	}
	for _, l := range p.logs {
		l.close()
	}
	for _, rt := range p.runtimes {
		rt.transport.CloseIdleConnections()
	}
	for _, group := range p.backends {
		for _, b := range group {
			b.conns.retire()
		}
	}
}

// socket is one listening address with its front, which serves direct
// requests, and the HTTP server it hands the other connections to.
type socket struct {
	protocol string
	http2    bool
	idle     time.Duration
	ln       net.Listener
	srv      *http.Server
	front    *front
}

// retire stops accepting at once (so the address can be bound again) and
// lets open connections finish their requests.
func (s *socket) retire() {
	s.ln.Close()
	s.front.shutdown(false)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if s.srv.Shutdown(ctx) != nil {
			s.srv.Close()
		}
	}()
}

// close closes the socket and all its connections at once.
func (s *socket) close() {
	s.ln.Close()
	s.front.shutdown(true)
	s.srv.Close()
}

// reconcileSockets opens the sockets a table needs and retires the others,
// and those whose protocol, HTTP/2 or idle timeout changed.
// A socket that cannot be bound is logged once and retried.
func (p *Plane) reconcileSockets(t *table) {
	for key, s := range p.sockets {
		routes := t.sockets[key]
		if routes == nil || routes.protocol != s.protocol || routes.http2 != s.http2 || routes.idle != s.idle {
			s.retire()
			delete(p.sockets, key)
		}
	}
	for key, routes := range t.sockets {
		if p.sockets[key] != nil {
			continue
		}
		s, err := p.openSocket(key, routes)
		if err != nil {
			if !p.unbound[key] {
				p.log.Warn("load balancer listener not bound; retrying", "address", key.addr, "port", key.port, "error", err)
			}
			p.unbound[key] = true
			continue
		}
		delete(p.unbound, key)
		p.sockets[key] = s
	}
}

func (p *Plane) openSocket(key socketKey, routes *socketRoutes) (*socket, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(key.addr.String(), strconv.Itoa(key.port)))
	if err != nil {
		return nil, err
	}
	idle := routes.idle // the load balancer's, defaulted by runtimeFor, or 60 s
	srv := &http.Server{
		Handler:           p.socketHandler(key),
		ReadHeaderTimeout: idle,
		IdleTimeout:       idle,
		ErrorLog:          slog.NewLogLogger(p.log.Handler(), slog.LevelDebug),
		Protocols:         new(http.Protocols),
	}
	srv.Protocols.SetHTTP1(true)
	var tlsConfig *tls.Config // the front terminates TLS; srv gets sessions
	if routes.protocol == "HTTPS" {
		srv.Protocols.SetHTTP2(routes.http2) // for the sessions that chose h2
		tlsConfig = &tls.Config{GetConfigForClient: p.tlsConfigFor(key)}
	} else {
		srv.Protocols.SetUnencryptedHTTP2(routes.http2)
	}
	sock := &socket{protocol: routes.protocol, http2: routes.http2, idle: routes.idle, ln: ln, srv: srv}
	sock.front = newFront(p, key, idle, tlsConfig, ln.Addr())
	go sock.front.acceptLoop(ln)
	go func() {
		err := srv.Serve(sock.front.handoff)
		if err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			p.log.Error("load balancer listener stopped", "address", ln.Addr(), "error", err)
		}
	}()
	return sock, nil
}

// tlsConfigFor picks the TLS configuration of the listener a handshake is
// for from the current table, so a certificate swap applies to the next
// handshake and drops no connection.
func (p *Plane) tlsConfigFor(key socketKey) func(*tls.ClientHelloInfo) (*tls.Config, error) {
	return func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		routes := p.table.Load().sockets[key]
		if routes == nil {
			return nil, errors.New("listener is gone")
		}
		if l := routes.byHost[hello.ServerName]; l != nil {
			return l.tls, nil
		}
		if routes.dedicated != nil {
			return routes.dedicated.tls, nil
		}
		for _, l := range routes.byHost {
			return l.tls, nil
		}
		return nil, errors.New("no listener")
	}
}

// reconcileCheckers runs one health checker per target group in use with
// health checks enabled, restarting it when its settings change.
func (p *Plane) reconcileCheckers(t *table) {
	for arn, c := range p.checkers {
		g := t.groups[arn]
		if g == nil || !t.inUse[arn] || !g.cfg.Health.Enabled || g.cfg.Health.String() != c.hc.String() {
			c.stop()
			delete(p.checkers, arn)
		}
	}
	for arn, g := range t.groups {
		if c := p.checkers[arn]; c != nil {
			if hasUnchecked(g) {
				select {
				case c.kick <- struct{}{}:
				default:
				}
			}
			continue
		}
		if !t.inUse[arn] || !g.cfg.Health.Enabled {
			continue
		}
		ctx, cancel := context.WithCancel(context.Background())
		c := &checker{cancel: cancel, done: make(chan struct{}), hc: g.cfg.Health, kick: make(chan struct{}, 1)}
		go func() { defer close(c.done); p.runChecks(ctx, arn, c.hc, c.kick) }()
		p.checkers[arn] = c
	}
}

func hasUnchecked(g *group) bool {
	for _, b := range g.backends {
		if !b.wasChecked() {
			return true
		}
	}
	return false
}

func (c *checker) stop() {
	c.cancel()
	<-c.done
}

// String identifies a health check's settings, to notice changes.
func (hc HealthCheck) String() string {
	return strconv.Quote(hc.Protocol+" "+strconv.Itoa(hc.Port)+" "+hc.Path) + " " + hc.Interval.String() + " " +
		hc.Timeout.String() + " " + strconv.Itoa(hc.HealthyThreshold) + "/" + strconv.Itoa(hc.UnhealthyThreshold) +
		" " + strconv.Quote(rangesString(hc.Matcher))
}

func rangesString(rs []CodeRange) string {
	s := ""
	for _, r := range rs {
		s += strconv.Itoa(r.From) + "-" + strconv.Itoa(r.To) + ","
	}
	return s
}

// openAccessLog returns the shared writer of an access log file.
func (p *Plane) openAccessLog(path string) *accessLog {
	if l := p.logs[path]; l != nil {
		return l
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		p.log.Warn("access log", "path", path, "error", err)
		return nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		p.log.Warn("access log", "path", path, "error", err)
		return nil
	}
	l := &accessLog{f: f}
	p.logs[path] = l
	return l
}
