package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	containerd "github.com/containerd/containerd"
	"github.com/containerd/containerd/containers"
	"github.com/containerd/containerd/oci"
	"github.com/containerd/containerd/pkg/cap"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/kumo-project/kumo/internal/node"
)

// initPath is where initProcessEnabled containers find kumo's init.
const initPath = "/kumo-init"

// metadataHost is the link-local address of the task metadata endpoint.
const metadataHost = "169.254.170.2"

// processArgs merges the image's ENTRYPOINT and CMD with the container's
// overrides the way Docker (and so ECS) does: entryPoint replaces
// ENTRYPOINT and then the image's CMD is dropped too; command replaces CMD.
func processArgs(img ocispec.ImageConfig, c node.ContainerSpec) []string {
	entrypoint, cmd := img.Entrypoint, img.Cmd
	if c.EntryPoint != nil {
		entrypoint, cmd = c.EntryPoint, nil
	}
	if c.Command != nil {
		cmd = c.Command
	}
	return append(append([]string{}, entrypoint...), cmd...)
}

// containerEnv is the environment the agent adds to the container's own:
// the metadata endpoint URIs, unless the control plane set them already.
func (a *Agent) containerEnv(rec record, c node.ContainerSpec) []string {
	var env []string
	set := map[string]bool{}
	for _, kv := range c.Environment {
		env = append(env, kv.Name+"="+kv.Value)
		set[kv.Name] = true
	}
	base := "http://" + metadataHost
	if rec.Spec.NetworkMode == node.NetworkHost {
		base = "http://" + a.hostMetaAddr
	}
	id := containerID(rec.Spec.TaskID, c.Name)
	for name, value := range map[string]string{
		"ECS_CONTAINER_METADATA_URI_V4": base + "/v4/" + id,
		"ECS_CONTAINER_METADATA_URI":    base + "/v3/" + id,
	} {
		if !set[name] && rec.Spec.NetworkMode != node.NetworkNone {
			env = append(env, name+"="+value)
		}
	}
	return env
}

// hostname is the container's host name: its own, else ECS's ip-a-b-c-d
// form for tasks with an address, else the host's for host mode, else the
// start of the runtime ID (as Docker does).
func hostname(rec record, c node.ContainerSpec) string {
	switch {
	case c.Hostname != "":
		return c.Hostname
	case rec.Status.PrivateIPv4 != "":
		return "ip-" + strings.ReplaceAll(rec.Status.PrivateIPv4, ".", "-")
	case rec.Spec.NetworkMode == node.NetworkHost:
		h, _ := os.Hostname()
		return h
	}
	return containerID(rec.Spec.TaskID, c.Name)[:12]
}

// resolvConf is the container's /etc/resolv.conf: the task definition's
// dnsServers; else, for tasks on the task bridge (awsvpc and bridge modes),
// kumo's DNS at dnsServer when there is one; else the host's file.
func resolvConf(rec record, c node.ContainerSpec, dnsServer string) (string, error) {
	servers := c.DNSServers
	onBridge := rec.Spec.NetworkMode == node.NetworkAWSVPC || rec.Spec.NetworkMode == node.NetworkBridge
	if len(servers) == 0 && onBridge && dnsServer != "" {
		servers = []string{dnsServer}
	}
	resolv := ""
	for _, s := range servers {
		resolv += "nameserver " + s + "\n"
	}
	if resolv != "" {
		return resolv, nil
	}
	b, err := os.ReadFile("/etc/resolv.conf")
	if err != nil && !os.IsNotExist(err) {
		return "", err
	}
	return string(b), nil
}

// writeEtcFiles writes the container's /etc/hosts, /etc/resolv.conf and
// /etc/hostname into the task dir and returns the bind mounts for them.
func writeEtcFiles(dir string, rec record, c node.ContainerSpec, dnsServer string) ([]specs.Mount, error) {
	etc := filepath.Join(dir, "etc", c.Name)
	if err := os.MkdirAll(etc, 0o755); err != nil {
		return nil, err
	}
	host := hostname(rec, c)
	hosts := "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
	if rec.Spec.NetworkMode == node.NetworkHost {
		if b, err := os.ReadFile("/etc/hosts"); err == nil {
			hosts = string(b)
		}
	}
	if ip := rec.Status.PrivateIPv4; ip != "" {
		hosts += ip + "\t" + host + "\n"
	} else if rec.Spec.NetworkMode != node.NetworkHost {
		hosts += "127.0.1.1\t" + host + "\n"
	}
	for _, kv := range c.ExtraHosts {
		hosts += kv.Value + "\t" + kv.Name + "\n"
	}
	resolv, err := resolvConf(rec, c, dnsServer)
	if err != nil {
		return nil, err
	}
	files := map[string]string{"hosts": hosts, "resolv.conf": resolv, "hostname": host + "\n"}
	var mounts []specs.Mount
	for _, name := range []string{"hosts", "resolv.conf", "hostname"} {
		path := filepath.Join(etc, name)
		if err := os.WriteFile(path, []byte(files[name]), 0o644); err != nil {
			return nil, err
		}
		mounts = append(mounts, specs.Mount{Destination: "/etc/" + name, Type: "bind", Source: path, Options: []string{"rbind", "rw"}})
	}
	return mounts, nil
}

// specOpts builds the OCI runtime spec of a container from its image and
// its ContainerSpec.
func (a *Agent) specOpts(t *task, rec record, c node.ContainerSpec, img containerd.Image, imgConfig ocispec.ImageConfig) ([]oci.SpecOpts, error) {
	args := processArgs(imgConfig, c)
	if len(args) == 0 {
		return nil, fmt.Errorf("container %s: no command: the image has no ENTRYPOINT or CMD and the task definition sets none", c.Name)
	}
	mounts, err := writeEtcFiles(t.dir, rec, c, a.cfg.DNSServer)
	if err != nil {
		return nil, fmt.Errorf("container %s: write /etc files: %w", c.Name, err)
	}
	if c.InitProcessEnabled {
		mounts = append(mounts, specs.Mount{Destination: initPath, Type: "bind", Source: a.cfg.ExecutablePath, Options: []string{"rbind", "ro"}})
		args = append([]string{initPath, "init", "--"}, args...)
	}
	opts := []oci.SpecOpts{
		oci.WithImageConfig(img),
		oci.WithProcessArgs(args...),
		oci.WithEnv(a.containerEnv(rec, c)),
		oci.WithHostname(hostname(rec, c)),
		oci.WithMounts(mounts),
		oci.WithCgroup(a.cg.containerPath(rec.Spec.TaskID, c.Name)),
		withResources(c),
		withRlimits(c.Ulimits),
	}
	if c.WorkingDirectory != "" {
		opts = append(opts, oci.WithProcessCwd(c.WorkingDirectory))
	}
	if c.User != "" {
		opts = append(opts, oci.WithUser(c.User))
	}
	switch {
	case rec.Spec.NetworkMode == node.NetworkHost:
		opts = append(opts, oci.WithHostNamespace(specs.NetworkNamespace))
	case rec.Sandbox != nil && rec.Sandbox.NetNSPath != "":
		opts = append(opts, oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: rec.Sandbox.NetNSPath}))
	default:
		return nil, fmt.Errorf("container %s: task has no network namespace", c.Name)
	}
	if c.ReadonlyRootFilesystem {
		opts = append(opts, oci.WithRootFSReadonly())
	}
	if c.Privileged {
		opts = append(opts, withPrivileged)
	}
	return opts, nil
}

// withResources sets the container's memory hard and soft limits and its
// CPU shares.
func withResources(c node.ContainerSpec) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		if s.Linux == nil {
			s.Linux = &specs.Linux{}
		}
		if s.Linux.Resources == nil {
			s.Linux.Resources = &specs.LinuxResources{}
		}
		r := s.Linux.Resources
		if c.MemoryMB > 0 || c.MemoryReservationMB > 0 {
			r.Memory = &specs.LinuxMemory{}
		}
		if c.MemoryMB > 0 {
			limit := int64(c.MemoryMB) << 20
			r.Memory.Limit = &limit
			r.Memory.Swap = &limit // no swap beyond the limit, as ECS
		}
		if c.MemoryReservationMB > 0 {
			soft := int64(c.MemoryReservationMB) << 20
			r.Memory.Reservation = &soft
		}
		if c.CPU > 0 {
			shares := uint64(max(c.CPU, 2))
			r.CPU = &specs.LinuxCPU{Shares: &shares}
		}
		return nil
	}
}

// withRlimits sets the container's ulimits (ECS names like "nofile").
func withRlimits(ulimits []node.Ulimit) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		for _, u := range ulimits {
			typ := "RLIMIT_" + strings.ToUpper(u.Name)
			rl := specs.POSIXRlimit{Type: typ, Soft: uint64(u.Soft), Hard: uint64(u.Hard)}
			replaced := false
			for i := range s.Process.Rlimits {
				if s.Process.Rlimits[i].Type == typ {
					s.Process.Rlimits[i], replaced = rl, true
				}
			}
			if !replaced {
				s.Process.Rlimits = append(s.Process.Rlimits, rl)
			}
		}
		return nil
	}
}

// withPrivileged gives the container every capability and device, and
// unmasks /proc and /sys, like `docker run --privileged`.
func withPrivileged(ctx context.Context, client oci.Client, c *containers.Container, s *oci.Spec) error {
	caps, err := cap.Current() // all kumo itself holds: more would fail in a restricted host
	if err != nil {
		return err
	}
	for _, opt := range []oci.SpecOpts{
		oci.WithCapabilities(caps),
		oci.WithHostDevices,
		oci.WithAllDevicesAllowed,
		oci.WithMaskedPaths(nil),
		oci.WithReadonlyPaths(nil),
		oci.WithWriteableSysfs,
		oci.WithWriteableCgroupfs,
		oci.WithApparmorProfile(""),
	} {
		if err := opt(ctx, client, c, s); err != nil {
			return err
		}
	}
	return nil
}
