package server

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kumo-project/kumo/internal/agent/network"
	"github.com/kumo-project/kumo/internal/config"
)

// Purge removes every trace of a stopped kumo instance from the machine:
// its task processes, containerd and shims, mounts, task network and
// cgroups; with removeData also its data dir. Running tasks are killed.
// It is `kumo purge`, and how tests clean up after themselves.
func Purge(cfg config.Config, removeData bool) error {
	id := cfg.InstanceID()
	var errs []error
	killCgroupProcesses(id)
	killProcessesMentioning(cfg.DataDir, "/run/kumo-"+id+"/")
	errs = append(errs, unmountUnder(cfg.DataDir))
	if m, err := network.NewManager(network.Config{InstanceID: id, StateDir: filepath.Join(cfg.DataDir, "network"), Subnet: cfg.TaskSubnet}); err == nil {
		errs = append(errs, m.RemoveAll())
	}
	removeCgroups(id)
	os.RemoveAll("/run/kumo-" + id)
	if removeData {
		errs = append(errs, os.RemoveAll(cfg.DataDir))
	}
	return errors.Join(errs...)
}

// cgroupRoots are the cgroup v1 hierarchies (and the v2 root) where kumo
// creates its /kumo-<instance> parent.
func cgroupRoots(id string) []string {
	matches, _ := filepath.Glob("/sys/fs/cgroup/*/kumo-" + id)
	if _, err := os.Stat("/sys/fs/cgroup/kumo-" + id); err == nil {
		matches = append(matches, "/sys/fs/cgroup/kumo-"+id)
	}
	return matches
}

func killCgroupProcesses(id string) {
	for _, root := range cgroupRoots(id) {
		filepath.Walk(root, func(path string, info os.FileInfo, err error) error {
			if err != nil || info.Name() != "cgroup.procs" {
				return nil
			}
			data, _ := os.ReadFile(path)
			for _, f := range strings.Fields(string(data)) {
				if pid, err := strconv.Atoi(f); err == nil {
					syscall.Kill(pid, syscall.SIGKILL)
				}
			}
			return nil
		})
	}
}

// killProcessesMentioning kills every process whose command line contains
// one of the markers (containerd, shims and log drivers of the instance).
func killProcessesMentioning(markers ...string) {
	self := os.Getpid()
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		for _, m := range markers {
			if bytes.Contains(cmdline, []byte(m)) {
				syscall.Kill(pid, syscall.SIGKILL)
				break
			}
		}
	}
	time.Sleep(100 * time.Millisecond) // let the kernel reap before unmounting
}

// unmountUnder lazily unmounts every mount below dir, deepest first.
func unmountUnder(dir string) error {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	defer f.Close()
	var mounts []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && strings.HasPrefix(fields[4], dir+"/") {
			mounts = append(mounts, fields[4])
		}
	}
	sort.Slice(mounts, func(i, j int) bool { return len(mounts[i]) > len(mounts[j]) })
	var errs []error
	for _, m := range mounts {
		if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", m, err))
		}
	}
	return errors.Join(errs...)
}

// removeCgroups removes the instance's cgroup directories, deepest first.
func removeCgroups(id string) {
	for _, root := range cgroupRoots(id) {
		var dirs []string
		filepath.Walk(root, func(path string, info os.FileInfo, err error) error {
			if err == nil && info.IsDir() {
				dirs = append(dirs, path)
			}
			return nil
		})
		sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
		for _, d := range dirs {
			syscall.Rmdir(d)
		}
	}
}
