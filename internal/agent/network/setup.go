package network

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strings"

	"github.com/kumo-project/kumo/internal/node"
)

// Sandbox is a task's network, as the agent needs it to start the task's
// containers.
type Sandbox struct {
	TaskID string
	Mode   string
	// NetNSPath is the namespace the containers join; "" in host mode.
	NetNSPath string
	IPv4      string // "" for host and none
	MAC       string // "" for host and none
	// Bindings are the published ports: host and bridge mode only.
	Bindings []node.NetworkBinding
}

// taskIDPattern keeps task IDs safe as file and namespace names.
var taskIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// netnsTaskIDLen is how much of the task ID names its namespace.
const netnsTaskIDLen = 12

// Setup creates the task's network sandbox, or returns it unchanged if the
// task already has one (also after a restart, when it restarts the task's
// port proxies; the ports of a repeated Setup are ignored). A sandbox that a crash left half-built, or whose namespace
// has vanished, is removed and built again.
//
//   - awsvpc, bridge: a named namespace kumo-<InstanceID>-<taskID prefix>
//     with lo up and 169.254.170.2/32 on it, a veth pair into the bridge, an
//     address from the instance subnet and a default route via the bridge.
//   - bridge also publishes each port mapping: HostPort 0 gets a free host
//     port from 32768-61000, and a userland TCP or UDP proxy listens on
//     127.0.0.1 and the bridge IP (or 0.0.0.0 with PublishAllInterfaces).
//   - host: no namespace; the bindings are the container ports on the host.
//   - none: a namespace with only lo.
func (m *Manager) Setup(ctx context.Context, taskID, mode string, ports []node.PortMapping) (*Sandbox, error) {
	if err := validateSetup(taskID, mode, ports); err != nil {
		return nil, fmt.Errorf("set up network of task %q: %w", taskID, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("set up network of task %q: %w", taskID, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, fmt.Errorf("set up network of task %q: network manager is closed", taskID)
	}
	if a, ok := m.allocs[taskID]; ok {
		if a.Mode != mode {
			return nil, fmt.Errorf("set up network of task %q: already set up in %s mode, not %s", taskID, a.Mode, mode)
		}
		if a.Ready && m.present(a) {
			return m.readopt(a)
		}
		if err := m.release(a); err != nil {
			return nil, fmt.Errorf("set up network of task %q again: %w", taskID, err)
		}
	}
	a, err := m.create(taskID, mode, ports)
	if err != nil {
		return nil, fmt.Errorf("set up %s network of task %q: %w", mode, taskID, err)
	}
	return a.sandbox(), nil
}

// Teardown removes the task's namespace, veth, port proxies and the servers
// ServeInNetNS runs in its namespace, and frees its address. Tearing down an
// unknown task is a no-op.
func (m *Manager) Teardown(ctx context.Context, taskID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.allocs[taskID]
	if !ok {
		return nil
	}
	return m.release(a)
}

func validateSetup(taskID, mode string, ports []node.PortMapping) error {
	if !taskIDPattern.MatchString(taskID) {
		return errors.New("task id must be 1-64 letters, digits, '-' or '_'")
	}
	switch mode {
	case node.NetworkAWSVPC, node.NetworkBridge, node.NetworkHost, node.NetworkNone:
	default:
		return fmt.Errorf("unknown network mode %q", mode)
	}
	for _, p := range ports {
		if err := validatePort(mode, p); err != nil {
			return err
		}
	}
	return nil
}

func validatePort(mode string, p node.PortMapping) error {
	switch {
	case p.ContainerPort < 1 || p.ContainerPort > 65535:
		return fmt.Errorf("container port %d out of range", p.ContainerPort)
	case p.HostPort < 0 || p.HostPort > 65535:
		return fmt.Errorf("host port %d out of range", p.HostPort)
	case protocolOf(p) != "tcp" && protocolOf(p) != "udp":
		return fmt.Errorf("port %d: unknown protocol %q", p.ContainerPort, p.Protocol)
	case mode == node.NetworkNone:
		return errors.New("port mappings are not allowed in none mode")
	case (mode == node.NetworkAWSVPC || mode == node.NetworkHost) && p.HostPort != 0 && p.HostPort != p.ContainerPort:
		return fmt.Errorf("in %s mode host port %d must equal container port %d", mode, p.HostPort, p.ContainerPort)
	}
	return nil
}

func protocolOf(p node.PortMapping) string {
	if p.Protocol == "" {
		return "tcp"
	}
	return strings.ToLower(p.Protocol)
}

// create records a new allocation, then builds its resources; on failure it
// removes whatever it built.
func (m *Manager) create(taskID, mode string, ports []node.PortMapping) (*allocation, error) {
	a := &allocation{TaskID: taskID, Mode: mode, Ports: ports}
	if err := m.reserve(a); err != nil {
		return nil, err
	}
	if err := m.state.saveAllocation(a); err != nil {
		return nil, err
	}
	m.allocs[taskID] = a
	if err := m.build(a); err != nil {
		return nil, errors.Join(err, m.release(a))
	}
	a.Ready = true
	if err := m.state.saveAllocation(a); err != nil {
		return nil, errors.Join(err, m.release(a))
	}
	return a, nil
}

// reserve chooses the names and address of a new allocation.
func (m *Manager) reserve(a *allocation) error {
	if a.Mode == node.NetworkHost {
		return nil
	}
	var err error
	if a.NetNSName, err = m.netnsName(a.TaskID); err != nil {
		return err
	}
	if a.Mode == node.NetworkNone {
		return nil
	}
	if a.VethName, err = m.vethName(a.TaskID); err != nil {
		return err
	}
	ip, err := allocateIP(m.subnet, m.usedIPs())
	a.IPv4 = ip.String()
	return err
}

// build creates the resources of a reserved allocation.
func (m *Manager) build(a *allocation) error {
	if a.Mode == node.NetworkHost {
		a.Bindings = hostBindings(a.Ports)
		return nil
	}
	// A namespace of this name that no allocation claims is left over from
	// a lost state dir: replace it.
	if err := deleteNamedNetNS(a.netnsPath()); err != nil {
		return err
	}
	path, err := createNamedNetNS(a.NetNSName)
	if err != nil {
		return err
	}
	if err := configureLoopback(path, a.Mode != node.NetworkNone); err != nil {
		return err
	}
	if a.Mode == node.NetworkNone {
		return nil
	}
	ip := netip.MustParseAddr(a.IPv4)
	if a.MAC, err = createVeth(a.VethName, m.bridge, path, ip, m.subnet); err != nil {
		return err
	}
	if a.Mode == node.NetworkBridge {
		return m.publishPorts(a)
	}
	return nil
}

// present reports whether the resources of a built allocation still exist.
func (m *Manager) present(a *allocation) bool {
	switch a.Mode {
	case node.NetworkHost:
		return true
	case node.NetworkNone:
		return isNetNS(a.netnsPath())
	default:
		return isNetNS(a.netnsPath()) && vethAttached(a.VethName, m.bridge)
	}
}

// readopt returns an existing sandbox, restarting its port proxies if this
// Manager has not started them yet.
func (m *Manager) readopt(a *allocation) (*Sandbox, error) {
	if a.Mode == node.NetworkBridge && len(m.proxies[a.TaskID]) == 0 {
		if err := m.republishPorts(a); err != nil {
			return nil, fmt.Errorf("re-adopt network of task %q: %w", a.TaskID, err)
		}
	}
	return a.sandbox(), nil
}

// release removes everything the allocation holds, then forgets it. If a
// resource cannot be removed the allocation stays recorded, so a later
// Teardown can retry.
func (m *Manager) release(a *allocation) error {
	m.stopProxies(a.TaskID)
	var errs []error
	if a.VethName != "" {
		errs = append(errs, deleteLink(a.VethName))
	}
	if path := a.netnsPath(); path != "" {
		m.stopServers(path)
		errs = append(errs, deleteNamedNetNS(path))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("release network of task %q: %w", a.TaskID, err)
	}
	if err := m.state.removeAllocation(a.TaskID); err != nil {
		return err
	}
	delete(m.allocs, a.TaskID)
	return nil
}

// netnsName names the task's namespace after the instance and a prefix of
// the task ID.
func (m *Manager) netnsName(taskID string) (string, error) {
	name := m.netnsPrefix() + taskID[:min(len(taskID), netnsTaskIDLen)]
	for _, other := range m.allocs {
		if other.TaskID != taskID && other.NetNSName == name {
			return "", fmt.Errorf("netns %s is already used by task %q", name, other.TaskID)
		}
	}
	return name, nil
}

// maxVethTries bounds the search for an unused veth name.
const maxVethTries = 16

// vethName names the host end of the task's veth "kv" + 8 hex digits of a
// hash of instance and task, trying further hashes on a clash.
func (m *Manager) vethName(taskID string) (string, error) {
	taken := make(map[string]bool)
	for _, a := range m.allocs {
		taken[a.VethName] = true
	}
	for try := 0; try < maxVethTries; try++ {
		sum := sha256.Sum256(fmt.Appendf(nil, "%s/%s/%d", m.cfg.InstanceID, taskID, try))
		name := "kv" + hex.EncodeToString(sum[:4])
		if !taken[name] && !linkExists(name) {
			return name, nil
		}
	}
	return "", fmt.Errorf("no free veth name after %d tries", maxVethTries)
}

// usedIPs are the gateway and every allocated task address.
func (m *Manager) usedIPs() map[netip.Addr]bool {
	used := map[netip.Addr]bool{gatewayOf(m.subnet): true}
	for _, a := range m.allocs {
		if ip, err := netip.ParseAddr(a.IPv4); err == nil {
			used[ip] = true
		}
	}
	return used
}

// hostBindings are host mode's published ports: the container ports
// themselves, on every host address.
func hostBindings(ports []node.PortMapping) []node.NetworkBinding {
	var out []node.NetworkBinding
	for _, p := range ports {
		out = append(out, node.NetworkBinding{
			BindIP:        "0.0.0.0",
			ContainerPort: p.ContainerPort,
			HostPort:      p.ContainerPort,
			Protocol:      protocolOf(p),
		})
	}
	return out
}
