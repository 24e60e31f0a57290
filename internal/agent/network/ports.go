package network

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strconv"

	"github.com/kumo-project/kumo/internal/node"
)

// The dynamic host port range of ECS bridge mode.
const (
	dynamicPortMin = 32768
	dynamicPortMax = 61000
)

// hostPortKey identifies a published port: TCP and UDP may share a number.
type hostPortKey struct {
	proto string
	port  int
}

// publishPorts publishes every port mapping of a bridge task on a host port
// through a proxy to the task; the ports chosen are recorded in a.Bindings.
// Proxies already started are registered, so release stops them if a later
// port fails.
func (m *Manager) publishPorts(a *allocation) error {
	used := m.usedHostPorts()
	for _, p := range a.Ports {
		proto := protocolOf(p)
		proxy, hostPort, err := m.publishOn(proto, p.HostPort, taskAddr(a, p.ContainerPort), used)
		if err != nil {
			return err
		}
		used[hostPortKey{proto, hostPort}] = true
		m.proxies[a.TaskID] = append(m.proxies[a.TaskID], proxy)
		a.Bindings = append(a.Bindings, node.NetworkBinding{
			BindIP:        m.bindingIP(),
			ContainerPort: p.ContainerPort,
			HostPort:      hostPort,
			Protocol:      proto,
		})
	}
	return nil
}

// republishPorts restarts the proxies of a re-adopted bridge task on the
// host ports it had.
func (m *Manager) republishPorts(a *allocation) error {
	for _, b := range a.Bindings {
		proxy, err := m.startProxy(b.Protocol, b.HostPort, taskAddr(a, b.ContainerPort))
		if err != nil {
			m.stopProxies(a.TaskID)
			return err
		}
		m.proxies[a.TaskID] = append(m.proxies[a.TaskID], proxy)
	}
	return nil
}

// publishOn starts a proxy on hostPort, or on a free dynamic port if
// hostPort is 0. The dynamic search starts at a point derived from the
// instance ID so that instances rarely compete for the same ports, and skips
// ports recorded for this instance's tasks even while their proxies are not
// running.
func (m *Manager) publishOn(proto string, hostPort int, target string, used map[hostPortKey]bool) (io.Closer, int, error) {
	if hostPort != 0 {
		proxy, err := m.startProxy(proto, hostPort, target)
		return proxy, hostPort, err
	}
	size := dynamicPortMax - dynamicPortMin + 1
	sum := sha256.Sum256([]byte(m.cfg.InstanceID))
	start := int(binary.BigEndian.Uint32(sum[:4]) % uint32(size))
	for i := 0; i < size; i++ {
		port := dynamicPortMin + (start+i)%size
		if used[hostPortKey{proto, port}] {
			continue
		}
		if proxy, err := m.startProxy(proto, port, target); err == nil {
			return proxy, port, nil
		}
	}
	return nil, 0, fmt.Errorf("no free %s host port in %d-%d", proto, dynamicPortMin, dynamicPortMax)
}

// startProxy listens on port on every publishing address (or fails without
// holding any) and forwards to target.
func (m *Manager) startProxy(proto string, port int, target string) (io.Closer, error) {
	if proto == "udp" {
		return m.startUDPProxy(port, target)
	}
	var listeners []net.Listener
	for _, ip := range m.publishIPs() {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
		if err != nil {
			closeAll(listeners)
			return nil, fmt.Errorf("publish tcp host port %d: %w", port, err)
		}
		listeners = append(listeners, l)
	}
	return startTCPProxy(listeners, target), nil
}

func (m *Manager) startUDPProxy(port int, target string) (io.Closer, error) {
	to, err := net.ResolveUDPAddr("udp", target)
	if err != nil {
		return nil, fmt.Errorf("udp target %s: %w", target, err)
	}
	var sockets []*net.UDPConn
	for _, ip := range m.publishIPs() {
		s, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip), Port: port})
		if err != nil {
			closeAll(sockets)
			return nil, fmt.Errorf("publish udp host port %d: %w", port, err)
		}
		sockets = append(sockets, s)
	}
	return startUDPProxy(sockets, to), nil
}

func closeAll[T io.Closer](cs []T) {
	for _, c := range cs {
		c.Close()
	}
}

// publishIPs are the host addresses bridge mode publishes ports on.
func (m *Manager) publishIPs() []string {
	if m.cfg.PublishAllInterfaces {
		return []string{"0.0.0.0"}
	}
	return []string{"127.0.0.1", m.BridgeIP()}
}

// bindingIP is the address reported in bridge mode's network bindings.
func (m *Manager) bindingIP() string {
	if m.cfg.PublishAllInterfaces {
		return "0.0.0.0"
	}
	return "127.0.0.1"
}

// usedHostPorts are the host ports recorded for this instance's tasks.
func (m *Manager) usedHostPorts() map[hostPortKey]bool {
	used := make(map[hostPortKey]bool)
	for _, a := range m.allocs {
		for _, b := range a.Bindings {
			used[hostPortKey{b.Protocol, b.HostPort}] = true
		}
	}
	return used
}

func taskAddr(a *allocation, port int) string {
	return net.JoinHostPort(a.IPv4, strconv.Itoa(port))
}
