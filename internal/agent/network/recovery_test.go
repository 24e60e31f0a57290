package network

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/kumo-project/kumo/internal/node"
	"github.com/vishvananda/netlink"
)

func TestSetupRebuildsAnInterruptedSetup(t *testing.T) {
	needRoot(t)
	t.Parallel()
	m1 := newTestManager(t, "")
	ctx := context.Background()
	taskID := newTaskID(t)
	first, err := m1.Setup(ctx, taskID, node.NetworkAWSVPC, nil)
	if err != nil {
		t.Fatal(err)
	}
	oldInode := netnsInode(t, first.NetNSPath)
	m1.Close()
	// Pretend kumo crashed in the middle of Setup: the state says not ready.
	a := *m1.allocs[taskID]
	a.Ready = false
	if err := m1.state.saveAllocation(&a); err != nil {
		t.Fatal(err)
	}
	m2, err := NewManager(m1.cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m2.Close() })
	again, err := m2.Setup(ctx, taskID, node.NetworkAWSVPC, nil)
	if err != nil {
		t.Fatalf("Setup after an interrupted Setup: %v", err)
	}
	if netnsInode(t, again.NetNSPath) == oldInode {
		t.Error("the half-built netns was adopted, want a new one")
	}
	serveIn(t, m2, again.NetNSPath, net.JoinHostPort(again.IPv4, "80"), "rebuilt")
	mustGet(t, "", "http://"+again.IPv4+"/", "rebuilt")
}

func TestRemoveAllDeletesStrayNamespaces(t *testing.T) {
	needRoot(t)
	t.Parallel()
	stateDir := t.TempDir()
	m := newTestManager(t, stateDir)
	sb, err := m.Setup(context.Background(), newTaskID(t), node.NetworkBridge, []node.PortMapping{{ContainerPort: 80}})
	if err != nil {
		t.Fatal(err)
	}
	stray, err := createNamedNetNS(m.netnsPrefix() + "stray")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.RemoveAll(); err != nil {
		t.Fatalf("RemoveAll: %v", err)
	}
	for _, path := range []string{sb.NetNSPath, stray, filepath.Join(stateDir, "tasks"), filepath.Join(stateDir, "network.json")} {
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("%s still exists after RemoveAll: %v", path, err)
		}
	}
	if linkExists(m.bridgeName) {
		t.Errorf("bridge %s still exists after RemoveAll", m.bridgeName)
	}
	if _, err := m.Setup(context.Background(), newTaskID(t), node.NetworkNone, nil); err == nil {
		t.Error("Setup after RemoveAll succeeded")
	}
}

func TestConcurrentSetupsGetDistinctAddresses(t *testing.T) {
	needRoot(t)
	t.Parallel()
	m := newTestManager(t, "")
	const tasks = 6
	var wg sync.WaitGroup
	sandboxes := make([]*Sandbox, tasks)
	errs := make([]error, tasks)
	for i := range tasks {
		taskID := newTaskID(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			sandboxes[i], errs[i] = m.Setup(context.Background(), taskID, node.NetworkBridge, []node.PortMapping{{ContainerPort: 80}})
		}()
	}
	wg.Wait()
	ips, ports := map[string]bool{}, map[int]bool{}
	for i, sb := range sandboxes {
		if errs[i] != nil {
			t.Fatalf("Setup %d: %v", i, errs[i])
		}
		if ips[sb.IPv4] || ports[sb.Bindings[0].HostPort] {
			t.Fatalf("task %d got a used address or port: %+v", i, sb)
		}
		ips[sb.IPv4], ports[sb.Bindings[0].HostPort] = true, true
	}
}

func TestTasksReachEachOther(t *testing.T) {
	needRoot(t)
	t.Parallel()
	m := newTestManager(t, "")
	ctx := context.Background()
	a, err := m.Setup(ctx, newTaskID(t), node.NetworkAWSVPC, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Setup(ctx, newTaskID(t), node.NetworkBridge, nil)
	if err != nil {
		t.Fatal(err)
	}
	serveIn(t, m, b.NetNSPath, net.JoinHostPort(b.IPv4, "80"), "task b")
	mustGet(t, a.NetNSPath, "http://"+b.IPv4+"/", "task b")
}

func TestBridgeMACStaysFixed(t *testing.T) {
	needRoot(t)
	t.Parallel()
	m := newTestManager(t, "")
	if _, err := m.Setup(context.Background(), newTaskID(t), node.NetworkAWSVPC, nil); err != nil {
		t.Fatal(err)
	}
	// A port with a lower MAC than the bridge's would otherwise lend the
	// bridge its address.
	low := &netlink.Veth{
		LinkAttrs: netlink.LinkAttrs{Name: "kv" + randomHex(t, 8), HardwareAddr: net.HardwareAddr{0, 0, 0, 0, 0, 1}, MasterIndex: m.bridge.Attrs().Index},
		PeerName:  "kv" + randomHex(t, 8),
	}
	if err := netlink.LinkAdd(low); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteLink(low.Name) })
	link, err := netlink.LinkByName(m.bridgeName)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := link.Attrs().HardwareAddr.String(), bridgeMAC(m.cfg.InstanceID).String(); got != want {
		t.Fatalf("bridge MAC = %s, want %s", got, want)
	}
}
