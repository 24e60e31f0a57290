package network

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Config configures task networking for one kumo instance.
type Config struct {
	// InstanceID is a short id unique per kumo data dir (required, 1-10
	// lower-case letters or digits); every name the Manager creates derives
	// from it.
	InstanceID string
	// StateDir is where the chosen subnet and the allocations are persisted
	// (required).
	StateDir string
	// Subnet is the task subnet as an IPv4 CIDR, e.g. "10.213.7.0/24"
	// (optional). Empty: a free /24 is picked deterministically from
	// InstanceID, skipping subnets already routed on this host, and the
	// choice is persisted.
	Subnet string
	// PublishAllInterfaces makes bridge mode publish ports on 0.0.0.0
	// instead of only on 127.0.0.1 and the bridge address (optional).
	PublishAllInterfaces bool
}

// instanceIDPattern keeps the bridge name "kumo-<InstanceID>" within the 15
// characters Linux allows for interface names.
var instanceIDPattern = regexp.MustCompile(`^[0-9a-z]{1,10}$`)

// Manager gives the tasks of one kumo instance their network. It is safe for
// concurrent use.
type Manager struct {
	cfg        Config
	bridgeName string
	bridge     netlink.Link
	subnet     netip.Prefix
	state      stateDir

	mu      sync.Mutex
	allocs  map[string]*allocation  // by task ID
	proxies map[string][]io.Closer  // published port proxies by task ID, bridge mode only
	servers map[*netnsServer]string // the servers ServeInNetNS started, to their netns path
	closed  bool
}

// NewManager creates the instance's bridge "kumo-<InstanceID>", or adopts it
// after a restart, with the subnet's first address, and brings it up. It
// loads the persisted allocations; port proxies restart when Setup re-adopts
// their task.
func NewManager(cfg Config) (*Manager, error) {
	if !instanceIDPattern.MatchString(cfg.InstanceID) {
		return nil, fmt.Errorf("network instance id %q: want 1-10 lower-case letters or digits", cfg.InstanceID)
	}
	if cfg.StateDir == "" {
		return nil, errors.New("network state dir is required")
	}
	m := &Manager{
		cfg:        cfg,
		bridgeName: "kumo-" + cfg.InstanceID,
		state:      stateDir{dir: cfg.StateDir},
		proxies:    make(map[string][]io.Closer),
		servers:    make(map[*netnsServer]string),
	}
	if err := m.state.init(); err != nil {
		return nil, err
	}
	allocs, err := m.state.loadAllocations()
	if err != nil {
		return nil, err
	}
	m.allocs = allocs
	if err := m.setUpBridge(); err != nil {
		return nil, err
	}
	if err := ensureNetNSDir(); err != nil {
		return nil, err
	}
	return m, nil
}

// hostLockPath serializes subnet choice and bridge creation between the
// kumo instances of one host.
const hostLockPath = "/run/kumo-network.lock"

// setUpBridge resolves the subnet, persists it and creates the bridge. It
// holds the host lock throughout, so that two instances starting together
// cannot both pick a subnet that neither has routed yet.
func (m *Manager) setUpBridge() error {
	unlock, err := lockHost()
	if err != nil {
		return err
	}
	defer unlock()
	if m.subnet, err = m.resolveSubnet(); err != nil {
		return err
	}
	if err := m.state.saveSubnet(m.subnet.String()); err != nil {
		return err
	}
	m.bridge, err = ensureBridge(m.bridgeName, bridgeMAC(m.cfg.InstanceID), m.subnet)
	return err
}

// lockHost takes the host-wide network lock; the returned func releases it.
func lockHost() (func(), error) {
	f, err := os.OpenFile(hostLockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", hostLockPath, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", hostLockPath, err)
	}
	return func() { f.Close() }, nil
}

// resolveSubnet decides the task subnet: the configured one, else the
// persisted one, else the one an existing bridge already has, else a free
// one.
func (m *Manager) resolveSubnet() (netip.Prefix, error) {
	persisted, err := m.state.loadSubnet()
	if err != nil {
		return netip.Prefix{}, err
	}
	if m.cfg.Subnet != "" {
		return m.configuredSubnet(persisted)
	}
	if persisted != "" {
		return parseSubnet(persisted)
	}
	if p, ok := bridgeSubnet(m.bridgeName); ok {
		return p, nil
	}
	routed, err := routedPrefixes(0)
	if err != nil {
		return netip.Prefix{}, err
	}
	return chooseSubnet(m.cfg.InstanceID, routed)
}

// configuredSubnet validates Config.Subnet: it may not clash with a route of
// the host other than the instance's own bridge, nor change under
// allocated tasks.
func (m *Manager) configuredSubnet(persisted string) (netip.Prefix, error) {
	subnet, err := parseSubnet(m.cfg.Subnet)
	if err != nil {
		return netip.Prefix{}, err
	}
	if persisted != "" && persisted != subnet.String() && len(m.allocs) > 0 {
		return netip.Prefix{}, fmt.Errorf("task subnet %s: instance %s still has tasks in %s", subnet, m.cfg.InstanceID, persisted)
	}
	bridgeIndex := 0
	if l, err := netlink.LinkByName(m.bridgeName); err == nil {
		bridgeIndex = l.Attrs().Index
	}
	routed, err := routedPrefixes(bridgeIndex)
	if err != nil {
		return netip.Prefix{}, err
	}
	for _, r := range routed {
		if r.Bits() > 0 && r.Overlaps(subnet) {
			return netip.Prefix{}, fmt.Errorf("task subnet %s overlaps %s routed on this host", subnet, r)
		}
	}
	return subnet, nil
}

// BridgeIP is the host's address on the task bridge, the tasks' gateway.
func (m *Manager) BridgeIP() string { return gatewayOf(m.subnet).String() }

// Subnet is the CIDR task addresses come from.
func (m *Manager) Subnet() string { return m.subnet.String() }

// Close stops the port proxies and the servers started by ServeInNetNS. The
// bridge and the task namespaces stay, so running tasks keep their network
// across a kumo restart. Setup fails after Close; Teardown still works.
func (m *Manager) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	m.stopProxies("")
	m.stopServers("")
	return nil
}

// RemoveAll deletes every task namespace and veth of this instance, the
// bridge and the persisted state, for tests and `kumo down --purge`. The
// Manager is unusable afterwards.
func (m *Manager) RemoveAll() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	var errs []error
	for _, a := range m.allocs {
		errs = append(errs, m.release(a))
	}
	errs = append(errs, m.removeStrayNetNS(), deleteBridge(m.bridgeName), m.state.removeAll())
	return errors.Join(errs...)
}

// removeStrayNetNS deletes namespaces named for this instance that no
// allocation knows, e.g. left by a crash before the state was written.
func (m *Manager) removeStrayNetNS() error {
	entries, err := os.ReadDir(netnsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", netnsDir, err)
	}
	var errs []error
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), m.netnsPrefix()) {
			errs = append(errs, deleteNamedNetNS(filepath.Join(netnsDir, e.Name())))
		}
	}
	return errors.Join(errs...)
}

func (m *Manager) netnsPrefix() string { return "kumo-" + m.cfg.InstanceID + "-" }

// stopProxies stops the proxies of one task, or of every task if taskID is
// empty. Callers hold m.mu.
func (m *Manager) stopProxies(taskID string) {
	for id, ps := range m.proxies {
		if taskID != "" && id != taskID {
			continue
		}
		for _, p := range ps {
			p.Close()
		}
		delete(m.proxies, id)
	}
}

// stopServers stops the ServeInNetNS servers in one namespace, or all of
// them if path is empty. Callers hold m.mu.
func (m *Manager) stopServers(path string) {
	for s, p := range m.servers {
		if path == "" || p == path {
			s.shutdown()
			delete(m.servers, s)
		}
	}
}
