package dataplane

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// backend is a registered target with the state that outlives table swaps:
// its health and its in-flight request count.
type backend struct {
	key      string
	inflight atomic.Int64

	mu     sync.Mutex
	t      Target
	health healthState
}

func (b *backend) target() Target {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.t
}

func (b *backend) setTarget(t Target) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.t = t
}

func (b *backend) observe(r checkResult, hc HealthCheck, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.health = b.health.observe(r, hc, now)
}

func (b *backend) healthState() healthState {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.health
}

// group is a target group in a compiled table.
type group struct {
	cfg      TargetGroup
	backends []*backend
	byKey    map[string]*backend
	// next is the round-robin position, kept across table swaps.
	next *atomic.Uint64
}

// eligible returns the targets that may get a new request: healthy,
// not draining targets; when none is healthy, every target that is not
// draining (ALB fails open).
func (g *group) eligible() []*backend {
	var healthy, open []*backend
	for _, b := range g.backends {
		b.mu.Lock()
		draining, state := b.t.Draining, b.health.State
		b.mu.Unlock()
		if draining {
			continue
		}
		open = append(open, b)
		if !g.cfg.Health.Enabled || state == StateHealthy {
			healthy = append(healthy, b)
		}
	}
	if len(healthy) > 0 {
		return healthy
	}
	return open
}

// pick chooses the target for a request: the sticky one when it is still
// eligible, otherwise by the group's algorithm. It returns nil when the
// group has no target to send to.
func (g *group) pick(sticky string, now time.Time) *backend {
	candidates := g.eligible()
	if len(candidates) == 0 {
		return nil
	}
	if sticky != "" {
		for _, b := range candidates {
			if b.key == sticky {
				return b
			}
		}
	}
	if g.cfg.Algorithm == LeastOutstandingRequests {
		return g.leastOutstanding(candidates)
	}
	return g.roundRobin(candidates, now)
}

// roundRobin takes the targets in turn; a target in slow start is skipped
// with the probability of the share of its ramp still ahead.
func (g *group) roundRobin(candidates []*backend, now time.Time) *backend {
	for range len(candidates) {
		b := candidates[g.next.Add(1)%uint64(len(candidates))]
		if rand.Float64() < g.slowStartWeight(b, now) {
			return b
		}
	}
	return candidates[g.next.Add(1)%uint64(len(candidates))]
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
func (g *group) leastOutstanding(candidates []*backend) *backend {
	start := int(g.next.Add(1) % uint64(len(candidates)))
	best := candidates[start]
	for i := 1; i < len(candidates); i++ {
		b := candidates[(start+i)%len(candidates)]
		if b.inflight.Load() < best.inflight.Load() {
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
