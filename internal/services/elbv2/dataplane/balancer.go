package dataplane

import (
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// backend is a registered target with the state that outlives table swaps:
// its health and its in-flight request count.
type backend struct {
	key      string
	inflight atomic.Int64
	// conns are the idle keep-alive connections of the direct path.
	conns *connPool

	// state is read by every request without a lock; the rare writers
	// (table swaps, health checks) replace it under mu.
	state atomic.Pointer[backendState]
	mu    sync.Mutex
}

// backendState is a snapshot of a backend's target and health; never
// changed once stored.
type backendState struct {
	t       Target
	host    string // t.Addr as text, made once
	health  healthState
	checked bool // at least one health check ran
}

func newTargetBackend(key string, t Target, health healthState) *backend {
	b := &backend{key: key, conns: newConnPool()}
	b.state.Store(&backendState{t: t, host: t.Addr.String(), health: health})
	return b
}

// update replaces the state with a changed copy.
func (b *backend) update(change func(*backendState)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := *b.state.Load()
	change(&s)
	b.state.Store(&s)
}

func (b *backend) target() Target { return b.state.Load().t }

func (b *backend) setTarget(t Target) {
	b.update(func(s *backendState) {
		if t.Addr != s.t.Addr {
			s.host = t.Addr.String()
		}
		s.t = t
	})
}

// address is where requests to the target go, as an address and as text.
func (b *backend) address() (netip.AddrPort, string) {
	s := b.state.Load()
	return s.t.Addr, s.host
}

func (b *backend) observe(r checkResult, hc HealthCheck, now time.Time) {
	b.update(func(s *backendState) {
		s.health = s.health.observe(r, hc, now)
		s.checked = true
	})
}

func (b *backend) wasChecked() bool { return b.state.Load().checked }

func (b *backend) healthState() healthState { return b.state.Load().health }

// group is a target group in a compiled table.
type group struct {
	cfg      TargetGroup
	backends []*backend
	byKey    map[string]*backend
	// next is the round-robin position, kept across table swaps.
	next *atomic.Uint64
}

// usable reports whether a target may get a new request: it is not
// draining, and it is healthy unless failOpen (no target is healthy).
func (g *group) usable(b *backend, failOpen bool) bool {
	s := b.state.Load()
	return !s.t.Draining && (failOpen || !g.cfg.Health.Enabled || s.health.State == StateHealthy)
}

// candidates counts the targets that may get a new request and says
// whether that is by failing open: healthy, not draining targets; when
// none is healthy, every target that is not draining (ALB fails open).
func (g *group) candidates() (n int, failOpen bool) {
	for _, b := range g.backends {
		if g.usable(b, false) {
			n++
		}
	}
	if n > 0 {
		return n, false
	}
	for _, b := range g.backends {
		if g.usable(b, true) {
			n++
		}
	}
	return n, true
}

// nth returns the i-th usable target.
func (g *group) nth(i int, failOpen bool) *backend {
	for _, b := range g.backends {
		if g.usable(b, failOpen) {
			if i == 0 {
				return b
			}
			i--
		}
	}
	return nil
}

// pick chooses the target for a request: the sticky one when it is still
// usable, otherwise by the group's algorithm. It returns nil when the
// group has no target to send to.
func (g *group) pick(sticky string, now time.Time) *backend {
	n, failOpen := g.candidates()
	if n == 0 {
		return nil
	}
	if b := g.byKey[sticky]; sticky != "" && b != nil && g.usable(b, failOpen) {
		return b
	}
	if g.cfg.Algorithm == LeastOutstandingRequests {
		return g.leastOutstanding(n, failOpen)
	}
	return g.roundRobin(n, failOpen, now)
}

// roundRobin takes the targets in turn; a target in slow start is skipped
// with the probability of the share of its ramp still ahead.
func (g *group) roundRobin(n int, failOpen bool, now time.Time) *backend {
	for range n {
		b := g.nth(int(g.next.Add(1)%uint64(n)), failOpen)
		if g.cfg.SlowStart <= 0 || rand.Float64() < g.slowStartWeight(b, now) {
			return b
		}
	}
	return g.nth(int(g.next.Add(1)%uint64(n)), failOpen)
}

// slowStartWeight is the share of traffic a target takes: it ramps linearly
// from 0 to 1 over the slow start duration after the target became healthy.
func (g *group) slowStartWeight(b *backend, now time.Time) float64 {
	if g.cfg.SlowStart <= 0 {
		return 1
	}
	since := b.healthState().healthySince
	if since.IsZero() {
		return 1
	}
	w := float64(now.Sub(since)) / float64(g.cfg.SlowStart)
	return min(max(w, 0.05), 1)
}

// leastOutstanding takes the target with the fewest in-flight requests,
// starting the scan at a rotating position so ties spread.
func (g *group) leastOutstanding(n int, failOpen bool) *backend {
	start := int(g.next.Add(1) % uint64(n))
	var best *backend
	for k := range len(g.backends) {
		b := g.backends[(start+k)%len(g.backends)]
		if !g.usable(b, failOpen) {
			continue
		}
		if best == nil || b.inflight.Load() < best.inflight.Load() {
			best = b
		}
	}
	return best
}

// pickGroup chooses among a forward action's weighted groups: the sticky
// group when set and still part of the action, otherwise at random by weight.
func pickGroup(groups []WeightedGroup, sticky string) string {
	if len(groups) == 1 {
		return groups[0].ARN
	}
	total := 0
	for _, g := range groups {
		if sticky != "" && g.ARN == sticky && g.Weight > 0 {
			return g.ARN
		}
		total += g.Weight
	}
	if total == 0 {
		return groups[0].ARN
	}
	n := rand.IntN(total)
	for _, g := range groups {
		if n < g.Weight {
			return g.ARN
		}
		n -= g.Weight
	}
	return groups[len(groups)-1].ARN
}
