package network

import (
	"fmt"

	"github.com/kumo-project/kumo/internal/node"
	"github.com/vishvananda/netlink"
)

// TrafficStats are a task's network byte counters, as the task sees them:
// RxBytes arrived at the task, TxBytes left it.
type TrafficStats struct {
	RxBytes uint64
	TxBytes uint64
}

// Stats reads the task's network counters, for the network part of task
// stats. A none mode task has no traffic to count and reports zeros; a host
// mode task shares the host's interfaces and has no counters of its own.
func (m *Manager) Stats(taskID string) (TrafficStats, error) {
	m.mu.Lock()
	a, ok := m.allocs[taskID]
	m.mu.Unlock()
	switch {
	case !ok:
		return TrafficStats{}, fmt.Errorf("network stats of task %q: %w", taskID, node.ErrNotFound)
	case a.Mode == node.NetworkHost:
		return TrafficStats{}, fmt.Errorf("network stats of task %q: host mode tasks have no network counters of their own", taskID)
	case a.Mode == node.NetworkNone:
		return TrafficStats{}, nil
	}
	link, err := netlink.LinkByName(a.VethName)
	if err != nil {
		return TrafficStats{}, fmt.Errorf("network stats of task %q: %w", taskID, err)
	}
	s := link.Attrs().Statistics
	if s == nil {
		return TrafficStats{}, fmt.Errorf("network stats of task %q: the kernel reported no counters", taskID)
	}
	// The host end of the veth receives what the task sends.
	return TrafficStats{RxBytes: s.TxBytes, TxBytes: s.RxBytes}, nil
}
