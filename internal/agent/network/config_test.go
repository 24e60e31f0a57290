package network

import (
	"context"
	"fmt"
	"testing"

	"github.com/kumo-project/kumo/internal/node"
)

func TestNewManagerRejectsBadConfig(t *testing.T) {
	needRoot(t)
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no instance id", Config{StateDir: t.TempDir()}},
		{"instance id too long for a bridge name", Config{InstanceID: "abcdef012345", StateDir: t.TempDir()}},
		{"instance id with a dash", Config{InstanceID: "ab-cd", StateDir: t.TempDir()}},
		{"no state dir", Config{InstanceID: "t" + randomHex(t, 8)}},
		{"ipv6 subnet", Config{InstanceID: "t" + randomHex(t, 8), StateDir: t.TempDir(), Subnet: "fd00::/64"}},
		{"subnet overlapping loopback", Config{InstanceID: "t" + randomHex(t, 8), StateDir: t.TempDir(), Subnet: "127.0.0.0/24"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := NewManager(tc.cfg)
			if err == nil {
				m.RemoveAll()
				t.Fatalf("NewManager(%+v) succeeded, want an error", tc.cfg)
			}
		})
	}
}

func TestConfiguredSubnet(t *testing.T) {
	needRoot(t)
	t.Parallel()
	// 10.250.x.0/24 lies outside the range chosen automatically, so parallel
	// tests cannot have taken it.
	subnet := fmt.Sprintf("10.250.%d.0/24", randomByte(t))
	stateDir := t.TempDir()
	cfg := Config{InstanceID: "t" + randomHex(t, 8), StateDir: stateDir, Subnet: subnet}
	m, err := NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.RemoveAll() })
	if m.Subnet() != subnet || m.BridgeIP() != subnet[:len(subnet)-4]+"1" {
		t.Fatalf("subnet %s, bridge %s; want %s and its .1", m.Subnet(), m.BridgeIP(), subnet)
	}
	sb, err := m.Setup(context.Background(), newTaskID(t), node.NetworkAWSVPC, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := subnet[:len(subnet)-4] + "2"; sb.IPv4 != want {
		t.Errorf("first task address %s, want %s", sb.IPv4, want)
	}
	m.Close()
	// The subnet cannot change under a task that still has an address.
	moved := cfg
	moved.Subnet = fmt.Sprintf("10.251.%d.0/24", randomByte(t))
	if m2, err := NewManager(moved); err == nil {
		m2.Close()
		t.Fatalf("NewManager moved the subnet to %s under a running task", moved.Subnet)
	}
	// Without a configured subnet, a restart keeps the persisted one.
	kept := cfg
	kept.Subnet = ""
	m3, err := NewManager(kept)
	if err != nil {
		t.Fatal(err)
	}
	defer m3.Close()
	if m3.Subnet() != subnet {
		t.Errorf("subnet after restart = %s, want %s", m3.Subnet(), subnet)
	}
}

func randomByte(t *testing.T) int {
	var n int
	fmt.Sscanf(randomHex(t, 2), "%x", &n)
	return n
}
