package agent

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	v1 "github.com/containerd/cgroups/stats/v1"
	v2 "github.com/containerd/cgroups/v2/stats"
	"github.com/containerd/typeurl/v2"

	"github.com/kumo-project/kumo/internal/node"
)

// sample is one reading of a container's resource use.
type sample struct {
	node.ContainerStats
	MemoryMaxBytes uint64
	Read           time.Time
}

// TaskStats samples the cgroup metrics of the task's running containers.
func (a *Agent) TaskStats(ctx context.Context, taskID string) (node.TaskStats, error) {
	t, err := a.task(taskID)
	if err != nil {
		return node.TaskStats{}, err
	}
	rec := a.snapshot(t)
	out := node.TaskStats{TaskID: taskID, Read: a.cfg.Clock.Now()}
	for _, c := range rec.Status.Containers {
		if c.Status != node.StatusRunning {
			continue
		}
		s, err := a.sampleContainer(ctx, taskID, c.Name)
		if err != nil {
			return node.TaskStats{}, fmt.Errorf("stats of container %s: %w", c.Name, err)
		}
		out.Containers = append(out.Containers, s.ContainerStats)
	}
	return out, nil
}

// sampleContainer reads the container's cgroup metrics through containerd
// and its network counters from its namespace.
func (a *Agent) sampleContainer(ctx context.Context, taskID, name string) (sample, error) {
	ctx = a.nsContext(ctx)
	s := sample{ContainerStats: node.ContainerStats{Name: name}, Read: a.cfg.Clock.Now()}
	cont, err := a.client.LoadContainer(ctx, containerID(taskID, name))
	if err != nil {
		return s, err
	}
	tk, err := cont.Task(ctx, nil)
	if err != nil {
		return s, err
	}
	m, err := tk.Metrics(ctx)
	if err != nil {
		return s, err
	}
	data, err := typeurl.UnmarshalAny(m.Data)
	if err != nil {
		return s, err
	}
	switch m := data.(type) {
	case *v1.Metrics:
		if m.CPU != nil && m.CPU.Usage != nil {
			s.CPUUsageNanos = m.CPU.Usage.Total
		}
		if m.Memory != nil && m.Memory.Usage != nil {
			s.MemoryUsageBytes, s.MemoryLimitBytes, s.MemoryMaxBytes = m.Memory.Usage.Usage, m.Memory.Usage.Limit, m.Memory.Usage.Max
		}
	case *v2.Metrics:
		if m.CPU != nil {
			s.CPUUsageNanos = m.CPU.UsageUsec * 1000
		}
		if m.Memory != nil {
			s.MemoryUsageBytes, s.MemoryLimitBytes = m.Memory.Usage, m.Memory.UsageLimit
		}
	}
	s.NetworkRxBytes, s.NetworkTxBytes = netDev(int(tk.Pid()))
	return s, nil
}

// netDev sums the non-loopback interface counters of a process's network
// namespace (/proc/<pid>/net/dev).
func netDev(pid int) (rx, tx uint64) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/net/dev")
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		iface, counters, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(iface) == "lo" {
			continue
		}
		f := strings.Fields(counters)
		if len(f) < 9 {
			continue
		}
		r, _ := strconv.ParseUint(f[0], 10, 64)
		w, _ := strconv.ParseUint(f[8], 10, 64)
		rx, tx = rx+r, tx+w
	}
	return rx, tx
}
