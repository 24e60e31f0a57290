package dns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/kumo-project/kumo/internal/clock"
)

// Defaults of Config.
const (
	DefaultRefreshInterval = time.Second
	DefaultForwardTimeout  = 2 * time.Second
)

// buildTimeout bounds one table build (its sources read the store).
const buildTimeout = 5 * time.Second

// Config configures a Server.
type Config struct {
	// Listen are the addresses (host:port) that must be served, each on UDP
	// and TCP; port 0 picks a free port, the same for both.
	Listen []string
	// ListenOneOf, when not empty, adds the first of these addresses that
	// can be bound: a per-instance loopback address and its fallbacks.
	ListenOneOf []string
	// Upstreams are the resolvers (host:port) that names outside kumo's
	// zones are forwarded to, tried in order; none means such queries get
	// SERVFAIL.
	Upstreams []string
	// Sources own kumo's names; the table is built from them.
	Sources []Source
	// Clock times table refreshes; default the wall clock.
	Clock clock.Clock
	// Log; default slog.Default().
	Log *slog.Logger
	// RefreshInterval is how often the table is rebuilt; default 1s.
	RefreshInterval time.Duration
	// ForwardTimeout bounds the wait for each upstream; default 2s.
	ForwardTimeout time.Duration
}

// Server answers DNS queries from its table and forwards the rest.
type Server struct {
	cfg   Config
	table atomic.Pointer[Table]

	buildMu sync.Mutex    // one build at a time
	builds  atomic.Uint64 // builds started, to tell whether one began after a query
	lastErr string        // the last build error logged (under buildMu)
	servers []*dns.Server
	addrs   []string
	// shared are the server's specific non-loopback IPv4 addresses, where
	// the services of loopback-only records are also reachable by name.
	// Set before serving; handlers read it without a lock.
	shared   map[netip.Addr]bool
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	closeErr error
	closed   sync.Once
}

// New returns a server with an empty table; Start binds and serves.
func New(cfg Config) *Server {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.RefreshInterval <= 0 {
		cfg.RefreshInterval = DefaultRefreshInterval
	}
	if cfg.ForwardTimeout <= 0 {
		cfg.ForwardTimeout = DefaultForwardTimeout
	}
	s := &Server{cfg: cfg}
	s.table.Store(&Table{a: map[string][]ARecord{}})
	return s
}

// Start builds the first table, binds every address and serves until ctx
// ends or Close. A failing first build is logged and served empty (the
// refresh loop retries); a failing bind is an error.
func (s *Server) Start(ctx context.Context) error {
	if err := s.Refresh(ctx); err != nil {
		s.cfg.Log.Warn("dns table build failed; serving an empty one", "error", err)
	}
	socks, err := s.bindAll()
	if err == nil {
		// Before serving: handlers read the upstreams and the shared
		// addresses without a lock.
		s.dropOwnAddressesFromUpstreams(socks)
		s.shared = sharedAddrsOf(localAddrs(socks))
		err = s.serveAll(socks)
	}
	if err != nil {
		closeAll(socks)
		s.shutdownServers()
		return err
	}
	ctx, s.cancel = context.WithCancel(ctx)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.refreshLoop(ctx)
	}()
	return nil
}

// Addrs are the bound addresses (host:port), in Config order.
func (s *Server) Addrs() []string { return append([]string(nil), s.addrs...) }

// Close stops serving and the refresh loop.
func (s *Server) Close() error {
	s.closed.Do(func() {
		if s.cancel != nil {
			s.cancel()
		}
		s.closeErr = s.shutdownServers()
		s.wg.Wait()
	})
	return s.closeErr
}

// Refresh rebuilds the table from the sources now. On error the old table
// stays.
func (s *Server) Refresh(ctx context.Context) error {
	s.buildMu.Lock()
	defer s.buildMu.Unlock()
	return s.rebuild(ctx)
}

// rebuild builds and swaps the table; buildMu is held.
func (s *Server) rebuild(ctx context.Context) error {
	s.builds.Add(1)
	ctx, cancel := context.WithTimeout(ctx, buildTimeout)
	defer cancel()
	t, err := Build(ctx, s.cfg.Sources...)
	if err != nil {
		return err
	}
	s.table.Store(t)
	return nil
}

// refreshAfterMiss rebuilds the table for a query that missed under one of
// kumo's zones, so a name created just before the query resolves. builds
// is the count of builds begun when the query arrived: a build begun since
// already saw the name, so concurrent misses share one build.
func (s *Server) refreshAfterMiss(ctx context.Context, builds uint64) {
	s.buildMu.Lock()
	defer s.buildMu.Unlock()
	if s.builds.Load() > builds {
		return
	}
	if err := s.rebuild(ctx); err != nil {
		s.cfg.Log.Debug("dns table build after a miss failed", "error", err)
	}
}

// refreshLoop rebuilds the table every RefreshInterval.
func (s *Server) refreshLoop(ctx context.Context) {
	ticker := s.cfg.Clock.NewTicker(s.cfg.RefreshInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C():
		}
		s.buildMu.Lock()
		if err := s.rebuild(ctx); ctx.Err() == nil {
			s.logBuildResult(err)
		}
		s.buildMu.Unlock()
	}
}

// logBuildResult logs a periodic build's failure when it differs from the
// last one, and the recovery; buildMu is held.
func (s *Server) logBuildResult(err error) {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	if msg == s.lastErr {
		return
	}
	s.lastErr = msg
	if err != nil {
		s.cfg.Log.Error("dns table rejected; the previous one keeps serving", "error", err)
	} else {
		s.cfg.Log.Info("dns table builds again")
	}
}

// sockets are the UDP socket and TCP listener of one address.
type sockets struct {
	pc net.PacketConn
	ln net.Listener
}

// bindAll binds the required addresses, then the first free one of
// ListenOneOf. On error it closes what it bound.
func (s *Server) bindAll() (out []sockets, err error) {
	defer func() {
		if err != nil {
			closeAll(out)
			out = nil
		}
	}()
	for _, addr := range s.cfg.Listen {
		pc, ln, err := listenPair(addr)
		if err != nil {
			return out, fmt.Errorf("dns: listen on %s: %w", addr, err)
		}
		out = append(out, sockets{pc, ln})
	}
	if len(s.cfg.ListenOneOf) == 0 {
		return out, nil
	}
	var errs []error
	for _, addr := range s.cfg.ListenOneOf {
		pc, ln, err := listenPair(addr)
		if err == nil {
			return append(out, sockets{pc, ln}), nil
		}
		errs = append(errs, err)
	}
	return out, fmt.Errorf("dns: no free address among %v: %w", s.cfg.ListenOneOf, errors.Join(errs...))
}

// serveAll serves every socket; the bound addresses become Addrs.
func (s *Server) serveAll(socks []sockets) error {
	for _, sk := range socks {
		s.addrs = append(s.addrs, sk.pc.LocalAddr().String())
		for _, srv := range []*dns.Server{{PacketConn: sk.pc}, {Listener: sk.ln}} {
			if err := s.serve(srv); err != nil {
				return err
			}
		}
	}
	return nil
}

// closeAll closes sockets; closing ones a dns.Server already shut down is
// harmless.
func closeAll(socks []sockets) {
	for _, sk := range socks {
		sk.pc.Close()
		sk.ln.Close()
	}
}

// listenPair opens a UDP socket and a TCP listener on one address. With
// port 0 the TCP port follows the UDP one; a few tries cover a TCP port
// taken meanwhile.
func listenPair(addr string) (net.PacketConn, net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, err
	}
	tries := 1
	if port == "0" {
		tries = 10
	}
	for i := 0; ; i++ {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, err
		}
		_, bound, _ := net.SplitHostPort(pc.LocalAddr().String())
		ln, err := net.Listen("tcp", net.JoinHostPort(host, bound))
		if err == nil {
			return pc, ln, nil
		}
		pc.Close()
		if i+1 >= tries {
			return nil, nil, err
		}
	}
}

// serve starts srv in its own goroutine and returns once it is serving,
// so Close can always shut it down.
func (s *Server) serve(srv *dns.Server) error {
	started := make(chan struct{})
	failed := make(chan error, 1)
	srv.Handler = s
	srv.NotifyStartedFunc = func() { close(started) }
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := srv.ActivateAndServe(); err != nil {
			failed <- err
		}
	}()
	select {
	case <-started:
		s.servers = append(s.servers, srv)
		return nil
	case err := <-failed:
		return fmt.Errorf("dns: serve: %w", err)
	}
}

func (s *Server) shutdownServers() error {
	var errs []error
	for _, srv := range s.servers {
		errs = append(errs, srv.Shutdown())
	}
	s.servers = nil
	return errors.Join(errs...)
}

// sharedAddrsOf are the bound addresses that are specific (not a
// wildcard), non-loopback IPv4 addresses: the task bridge IP, or a host
// address given to --dns-listen.
func sharedAddrsOf(bound []net.Addr) map[netip.Addr]bool {
	out := map[netip.Addr]bool{}
	for _, a := range bound {
		ap, err := netip.ParseAddrPort(a.String())
		if addr := ap.Addr().Unmap(); err == nil && addr.Is4() && !addr.IsLoopback() && !addr.IsUnspecified() {
			out[addr] = true
		}
	}
	return out
}

// localAddrs are the addresses socks are bound to (TCP's is UDP's).
func localAddrs(socks []sockets) []net.Addr {
	out := make([]net.Addr, 0, len(socks))
	for _, sk := range socks {
		out = append(out, sk.pc.LocalAddr())
	}
	return out
}

// dropOwnAddressesFromUpstreams keeps kumo from forwarding to itself when
// an upstream is one of its own addresses.
func (s *Server) dropOwnAddressesFromUpstreams(socks []sockets) {
	own := map[string]bool{}
	for _, sk := range socks {
		own[sk.pc.LocalAddr().String()] = true
	}
	var kept []string
	for _, u := range s.cfg.Upstreams {
		if own[u] {
			s.cfg.Log.Warn("dns: not forwarding to an upstream that is kumo itself", "upstream", u)
			continue
		}
		kept = append(kept, u)
	}
	s.cfg.Upstreams = kept
}
