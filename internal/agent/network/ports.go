package network

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/kumo-project/kumo/internal/node"
)

// The dynamic host port range of ECS bridge mode.
const (
	dynamicPortMin = 32768
	dynamicPortMax = 61000
)

// publishPorts listens on a host port for every port mapping of a bridge
// task and starts a proxy to the task for each; the ports chosen are
// recorded in a.Bindings. Proxies already started are registered, so
// release stops them if a later port fails.
func (m *Manager) publishPorts(a *allocation) error {
	used := m.usedHostPorts()
	for _, p := range a.Ports {
		listeners, hostPort, err := m.listenHostPort(p.HostPort, used)
		if err != nil {
			return err
		}
		used[hostPort] = true
		m.proxies[a.TaskID] = append(m.proxies[a.TaskID], startTCPProxy(listeners, taskAddr(a, p.ContainerPort)))
		a.Bindings = append(a.Bindings, node.NetworkBinding{
			BindIP:        m.bindingIP(),
			ContainerPort: p.ContainerPort,
			HostPort:      hostPort,
			Protocol:      "tcp",
		})
	}
	return nil
}

// republishPorts restarts the proxies of a re-adopted bridge task on the
// host ports it had.
func (m *Manager) republishPorts(a *allocation) error {
	for _, b := range a.Bindings {
		listeners, err := m.listen(b.HostPort)
		if err != nil {
			m.stopProxies(a.TaskID)
			return err
		}
		m.proxies[a.TaskID] = append(m.proxies[a.TaskID], startTCPProxy(listeners, taskAddr(a, b.ContainerPort)))
	}
	return nil
}

// listenHostPort listens on hostPort, or on a free dynamic port if hostPort
// is 0. The dynamic search starts at a point derived from the instance ID so
// that instances rarely compete for the same ports, and skips ports
// recorded for this instance's tasks even when their proxies are not running.
func (m *Manager) listenHostPort(hostPort int, used map[int]bool) ([]net.Listener, int, error) {
	if hostPort != 0 {
		ls, err := m.listen(hostPort)
		return ls, hostPort, err
	}
	size := dynamicPortMax - dynamicPortMin + 1
	sum := sha256.Sum256([]byte(m.cfg.InstanceID))
	start := int(binary.BigEndian.Uint32(sum[:4]) % uint32(size))
	for i := 0; i < size; i++ {
		port := dynamicPortMin + (start+i)%size
		if used[port] {
			continue
		}
		if ls, err := m.listen(port); err == nil {
			return ls, port, nil
		}
	}
	return nil, 0, fmt.Errorf("no free host port in %d-%d", dynamicPortMin, dynamicPortMax)
}

// listen opens port on every publishing address, or none of them.
func (m *Manager) listen(port int) ([]net.Listener, error) {
	var listeners []net.Listener
	for _, ip := range m.publishIPs() {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
		if err != nil {
			for _, l := range listeners {
				l.Close()
			}
			return nil, fmt.Errorf("publish host port %d: %w", port, err)
		}
		listeners = append(listeners, l)
	}
	if len(listeners) == 0 {
		return nil, errors.New("no address to publish on")
	}
	return listeners, nil
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
func (m *Manager) usedHostPorts() map[int]bool {
	used := make(map[int]bool)
	for _, a := range m.allocs {
		for _, b := range a.Bindings {
			used[b.HostPort] = true
		}
	}
	return used
}

func taskAddr(a *allocation, port int) string {
	return net.JoinHostPort(a.IPv4, strconv.Itoa(port))
}
