package agent

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// cgroupRoot is where the cgroup hierarchies are mounted.
const cgroupRoot = "/sys/fs/cgroup"

// cfsPeriod is the CPU quota period, in microseconds.
const cfsPeriod = 100000

// cgroups manages the cgroup v1 tree of one kumo instance:
//
//	/kumo-<instance>/<taskID>/<container>
//
// The task level carries the task's cpu and memory limits; runc creates the
// container level with each container's own limits.
type cgroups struct {
	root string // "kumo-<instance>"
}

// v1 reports whether the host uses cgroup v1 (one mount per controller).
func (c cgroups) v1() bool {
	_, err := os.Stat(filepath.Join(cgroupRoot, "memory", "memory.limit_in_bytes"))
	return err == nil
}

func (c cgroups) taskPath(taskID string) string { return "/" + c.root + "/" + taskID }

// containerPath is the cgroupsPath runc gets for a container.
func (c cgroups) containerPath(taskID, name string) string {
	return c.taskPath(taskID) + "/" + name
}

// createTask creates the task cgroup with the task's limits: cpu.shares =
// CPU units and a CFS quota of units/1024 cores; the memory hard limit. On
// cgroup v2 hosts it does nothing (container limits still apply).
func (c cgroups) createTask(taskID string, cpuUnits, memoryMB int) error {
	if !c.v1() {
		return nil
	}
	cpu := filepath.Join(cgroupRoot, "cpu", c.taskPath(taskID))
	mem := filepath.Join(cgroupRoot, "memory", c.taskPath(taskID))
	for _, dir := range []string{cpu, mem} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create task cgroup: %w", err)
		}
	}
	var writes [][2]string
	if cpuUnits > 0 {
		writes = append(writes,
			[2]string{filepath.Join(cpu, "cpu.shares"), strconv.Itoa(max(cpuUnits, 2))},
			[2]string{filepath.Join(cpu, "cpu.cfs_period_us"), strconv.Itoa(cfsPeriod)},
			[2]string{filepath.Join(cpu, "cpu.cfs_quota_us"), strconv.Itoa(cpuUnits * cfsPeriod / 1024)})
	}
	if memoryMB > 0 {
		writes = append(writes, [2]string{filepath.Join(mem, "memory.limit_in_bytes"), strconv.FormatInt(int64(memoryMB)<<20, 10)})
	}
	for _, w := range writes {
		if err := os.WriteFile(w[0], []byte(w[1]), 0o644); err != nil {
			return fmt.Errorf("set task cgroup limit: %w", err)
		}
	}
	return nil
}

// removeTask removes the task's cgroups in every hierarchy, deepest first.
// Cgroups that still hold processes stay; the error says so.
func (c cgroups) removeTask(taskID string) error {
	hierarchies, err := os.ReadDir(cgroupRoot)
	if err != nil {
		return nil
	}
	var errs []error
	for _, h := range hierarchies {
		dir := filepath.Join(cgroupRoot, h.Name(), c.taskPath(taskID))
		errs = append(errs, removeCgroupTree(dir))
		_ = os.Remove(filepath.Join(cgroupRoot, h.Name(), c.root)) // only succeeds once empty
	}
	return errors.Join(errs...)
}

// removeCgroupTree removes dir and its child cgroups (rmdir only: cgroup
// control files vanish with their directory).
func removeCgroupTree(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := removeCgroupTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove cgroup %s: %w", dir, err)
	}
	return nil
}

// oomKilled reports whether the kernel's OOM killer killed a process of the
// container (cgroup v1 memory.oom_control's oom_kill counter).
func (c cgroups) oomKilled(taskID, name string) bool {
	b, err := os.ReadFile(filepath.Join(cgroupRoot, "memory", c.containerPath(taskID, name), "memory.oom_control"))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "oom_kill "); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n > 0
		}
	}
	return false
}

// hostMemoryMB returns the machine's memory from /proc/meminfo.
func hostMemoryMB() int {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return kb / 1024
		}
	}
	return 0
}
