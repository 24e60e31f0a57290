package network

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kumo-project/kumo/internal/node"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

func TestAWSVPCTaskReachableFromHost(t *testing.T) {
	needRoot(t)
	t.Parallel()
	m := newTestManager(t, "")
	ctx := context.Background()
	sb, err := m.Setup(ctx, newTaskID(t), node.NetworkAWSVPC, []node.PortMapping{{ContainerPort: 8080}})
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	ip, err := netip.ParseAddr(sb.IPv4)
	if err != nil || !netip.MustParsePrefix(m.Subnet()).Contains(ip) || sb.IPv4 == m.BridgeIP() {
		t.Fatalf("task IPv4 %q: want a task address in %s", sb.IPv4, m.Subnet())
	}
	if want := macForIP(ip).String(); sb.MAC != want {
		t.Errorf("task MAC %q, want %s derived from the IP (so a reused IP keeps its neighbour entry)", sb.MAC, want)
	}
	if len(sb.Bindings) != 0 {
		t.Errorf("awsvpc bindings = %v, want none", sb.Bindings)
	}
	if !netnsListed(t, filepath.Base(sb.NetNSPath)) {
		t.Errorf("ip netns list does not show %s", sb.NetNSPath)
	}
	serveIn(t, m, sb.NetNSPath, net.JoinHostPort(sb.IPv4, "8080"), "hello from task")
	mustGet(t, "", "http://"+net.JoinHostPort(sb.IPv4, "8080")+"/", "hello from task")
	// The task reaches the host through its gateway, the bridge address.
	hostServer := newHostServer(t, m.BridgeIP(), "hello from host")
	mustGet(t, sb.NetNSPath, "http://"+hostServer+"/", "hello from host")
}

// newHostServer serves text on ip:0 in the host namespace and returns its
// address.
func newHostServer(t *testing.T, ip, text string) string {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	go (&http.Server{Handler: hello(text)}).Serve(l)
	t.Cleanup(func() { l.Close() })
	return l.Addr().String()
}

func TestBridgePublishesPorts(t *testing.T) {
	needRoot(t)
	t.Parallel()
	m := newTestManager(t, "")
	staticPort := freeHostPort(t)
	ports := []node.PortMapping{
		{ContainerPort: 8080},                       // dynamic host port
		{ContainerPort: 9090, HostPort: staticPort}, // fixed host port
	}
	sb, err := m.Setup(context.Background(), newTaskID(t), node.NetworkBridge, ports)
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	if len(sb.Bindings) != 2 {
		t.Fatalf("bindings = %v, want 2", sb.Bindings)
	}
	dynamic := sb.Bindings[0]
	if dynamic.HostPort < dynamicPortMin || dynamic.HostPort > dynamicPortMax || dynamic.ContainerPort != 8080 || dynamic.BindIP != "127.0.0.1" {
		t.Errorf("dynamic binding = %+v, want 127.0.0.1, a host port in %d-%d, container port 8080", dynamic, dynamicPortMin, dynamicPortMax)
	}
	if b := sb.Bindings[1]; b.HostPort != staticPort || b.ContainerPort != 9090 {
		t.Errorf("static binding = %+v, want host port %d, container port 9090", b, staticPort)
	}
	serveIn(t, m, sb.NetNSPath, "0.0.0.0:8080", "port 8080")
	serveIn(t, m, sb.NetNSPath, "0.0.0.0:9090", "port 9090")
	tests := []struct {
		name, host string
		port       int
		want       string
	}{
		{"dynamic on loopback", "127.0.0.1", dynamic.HostPort, "port 8080"},
		{"dynamic on bridge", m.BridgeIP(), dynamic.HostPort, "port 8080"},
		{"static on loopback", "127.0.0.1", staticPort, "port 9090"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mustGet(t, "", "http://"+net.JoinHostPort(tc.host, strconv.Itoa(tc.port))+"/", tc.want)
		})
	}
	if err := m.Teardown(context.Background(), sb.TaskID); err != nil {
		t.Fatalf("Teardown: %v", err)
	}
	if _, err := getFrom("", "http://"+net.JoinHostPort("127.0.0.1", strconv.Itoa(dynamic.HostPort))+"/"); err == nil {
		t.Error("published port still answers after Teardown")
	}
}

func TestBridgePublishesUDPPorts(t *testing.T) {
	needRoot(t)
	t.Parallel()
	m := newTestManager(t, "")
	ports := []node.PortMapping{
		{ContainerPort: 5353, Protocol: "udp"},
		{ContainerPort: 5353, Protocol: "tcp"}, // same number, other protocol
	}
	sb, err := m.Setup(context.Background(), newTaskID(t), node.NetworkBridge, ports)
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	udp := sb.Bindings[0]
	if udp.Protocol != "udp" || udp.ContainerPort != 5353 || udp.HostPort < dynamicPortMin || sb.Bindings[1].Protocol != "tcp" {
		t.Fatalf("bindings = %+v, want udp then tcp for 5353", sb.Bindings)
	}
	udpEchoIn(t, sb.NetNSPath, "0.0.0.0:5353")
	for _, host := range []string{"127.0.0.1", m.BridgeIP()} {
		t.Run(host, func(t *testing.T) {
			c, err := net.Dial("udp", net.JoinHostPort(host, strconv.Itoa(udp.HostPort)))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			for _, msg := range []string{"first", "second"} {
				if _, err := c.Write([]byte(msg)); err != nil {
					t.Fatal(err)
				}
				buf := make([]byte, 64)
				n, err := c.Read(buf)
				if err != nil || string(buf[:n]) != "echo "+msg {
					t.Fatalf("reply = %q, %v; want %q", buf[:n], err, "echo "+msg)
				}
			}
		})
	}
}

// udpEchoIn answers every datagram sent to addr inside the namespace with
// "echo " and the datagram.
func udpEchoIn(t *testing.T, nsPath, addr string) {
	t.Helper()
	var pc net.PacketConn
	err := inNetNS(nsPath, func() error {
		var err error
		pc, err = net.ListenPacket("udp", addr)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 64)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(append([]byte("echo "), buf[:n]...), from)
		}
	}()
}

// freeHostPort returns a loopback port that nothing listens on right now.
func freeHostPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func TestMetadataAddressOnlyInsideTheTask(t *testing.T) {
	needRoot(t)
	t.Parallel()
	m := newTestManager(t, "")
	ctx := context.Background()
	a, err := m.Setup(ctx, newTaskID(t), node.NetworkAWSVPC, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Setup(ctx, newTaskID(t), node.NetworkAWSVPC, nil)
	if err != nil {
		t.Fatal(err)
	}
	serveIn(t, m, a.NetNSPath, "169.254.170.2:80", "metadata of "+a.TaskID)
	mustGet(t, a.NetNSPath, "http://169.254.170.2/v4", "metadata of "+a.TaskID)
	if got, err := getFrom(b.NetNSPath, "http://169.254.170.2/v4"); err == nil {
		t.Errorf("another task reached the metadata server: %q", got)
	}
	// Dialling it from the host would leave through the host's default
	// route, so check the host's route instead: it must not be local and
	// must not lead into the task bridge.
	routes, err := netlink.RouteGet(net.ParseIP("169.254.170.2"))
	if err != nil {
		return // no route at all: unreachable, as wanted
	}
	for _, r := range routes {
		if r.Type == unix.RTN_LOCAL || r.LinkIndex == m.bridge.Attrs().Index {
			t.Errorf("host routes 169.254.170.2 to %+v", r)
		}
	}
}

func TestContainersOfATaskShareLocalhost(t *testing.T) {
	needRoot(t)
	t.Parallel()
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2")
	}
	m := newTestManager(t, "")
	sb, err := m.Setup(context.Background(), newTaskID(t), node.NetworkAWSVPC, nil)
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Base(sb.NetNSPath)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	server := exec.CommandContext(ctx, "ip", "netns", "exec", name, os.Args[0])
	server.Env = append(os.Environ(), "KUMO_NETNS_HELPER=server")
	stdout, err := server.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Process.Kill(); server.Wait() })
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("helper server: %v", err)
	}
	addr = strings.TrimSpace(addr)

	client := exec.CommandContext(ctx, "ip", "netns", "exec", name, os.Args[0])
	client.Env = append(os.Environ(), "KUMO_NETNS_HELPER=client", "KUMO_NETNS_HELPER_ADDR="+addr)
	out, err := client.CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "pong ") {
		t.Fatalf("client in the task namespace: %v: %q", err, out)
	}
	if err := server.Wait(); err != nil {
		t.Errorf("helper server: %v", err)
	}
}

func TestInstancesDoNotCollide(t *testing.T) {
	needRoot(t)
	t.Parallel()
	m1 := newTestManager(t, "")
	m2 := newTestManager(t, "")
	if m1.bridgeName == m2.bridgeName || m1.Subnet() == m2.Subnet() {
		t.Fatalf("instances share bridge or subnet: %s %s, %s %s", m1.bridgeName, m1.Subnet(), m2.bridgeName, m2.Subnet())
	}
	if bridgeMAC(m1.cfg.InstanceID).String() == bridgeMAC(m2.cfg.InstanceID).String() {
		t.Fatalf("instances share the bridge MAC %s", bridgeMAC(m1.cfg.InstanceID))
	}
	if netip.MustParsePrefix(m1.Subnet()).Overlaps(netip.MustParsePrefix(m2.Subnet())) {
		t.Fatalf("subnets %s and %s overlap", m1.Subnet(), m2.Subnet())
	}
	taskID := newTaskID(t) // the same task ID in both instances
	ctx := context.Background()
	ports := []node.PortMapping{{ContainerPort: 80}}
	sb1, err := m1.Setup(ctx, taskID, node.NetworkBridge, ports)
	if err != nil {
		t.Fatal(err)
	}
	sb2, err := m2.Setup(ctx, taskID, node.NetworkBridge, ports)
	if err != nil {
		t.Fatal(err)
	}
	if sb1.NetNSPath == sb2.NetNSPath || sb1.IPv4 == sb2.IPv4 || sb1.Bindings[0].HostPort == sb2.Bindings[0].HostPort {
		t.Fatalf("instances collide: %+v and %+v", sb1, sb2)
	}
	if m1.allocs[taskID].VethName == m2.allocs[taskID].VethName {
		t.Fatalf("both instances named the veth %s", m1.allocs[taskID].VethName)
	}
	serveIn(t, m1, sb1.NetNSPath, "0.0.0.0:80", "one")
	serveIn(t, m2, sb2.NetNSPath, "0.0.0.0:80", "two")
	mustGet(t, "", "http://"+sb1.IPv4+"/", "one")
	mustGet(t, "", "http://"+sb2.IPv4+"/", "two")
}

func TestSetupReadoptsAfterRestart(t *testing.T) {
	needRoot(t)
	t.Parallel()
	stateDir := t.TempDir()
	m1 := newTestManager(t, stateDir)
	ctx := context.Background()
	taskID := newTaskID(t)
	first, err := m1.Setup(ctx, taskID, node.NetworkBridge, []node.PortMapping{{ContainerPort: 8080}})
	if err != nil {
		t.Fatal(err)
	}
	inode := netnsInode(t, first.NetNSPath)
	again, err := m1.Setup(ctx, taskID, node.NetworkBridge, []node.PortMapping{{ContainerPort: 8080}})
	if err != nil || !reflect.DeepEqual(first, again) {
		t.Fatalf("second Setup = %+v, %v; want %+v", again, err, first)
	}
	// A task server keeps running across the restart, as containers do.
	serveIn(t, m1, first.NetNSPath, "0.0.0.0:8080", "still here")
	published := "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(first.Bindings[0].HostPort)) + "/"
	mustGet(t, "", published, "still here")

	// Restart: m1 stops its proxies (and servers), the namespace stays.
	if err := m1.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := getFrom("", published); err == nil {
		t.Fatal("published port answers after Close")
	}
	m2, err := NewManager(m1.cfg)
	if err != nil {
		t.Fatalf("NewManager after restart: %v", err)
	}
	t.Cleanup(func() { m2.Close() })
	if m2.Subnet() != m1.Subnet() {
		t.Fatalf("subnet after restart = %s, want %s", m2.Subnet(), m1.Subnet())
	}
	readopted, err := m2.Setup(ctx, taskID, node.NetworkBridge, []node.PortMapping{{ContainerPort: 8080}})
	if err != nil || !reflect.DeepEqual(first, readopted) {
		t.Fatalf("Setup after restart = %+v, %v; want %+v", readopted, err, first)
	}
	if got := netnsInode(t, readopted.NetNSPath); got != inode {
		t.Fatalf("netns was re-created (inode %d, was %d)", got, inode)
	}
	serveIn(t, m2, first.NetNSPath, "0.0.0.0:8080", "after restart")
	mustGet(t, "", published, "after restart")
	mustGet(t, "", "http://"+first.IPv4+":8080/", "after restart")
}

// netnsInode identifies a namespace.
func netnsInode(t *testing.T, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

func TestSetupRebuildsAVanishedNamespace(t *testing.T) {
	needRoot(t)
	t.Parallel()
	m := newTestManager(t, "")
	ctx := context.Background()
	taskID := newTaskID(t)
	first, err := m.Setup(ctx, taskID, node.NetworkAWSVPC, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := deleteNamedNetNS(first.NetNSPath); err != nil {
		t.Fatal(err)
	}
	again, err := m.Setup(ctx, taskID, node.NetworkAWSVPC, nil)
	if err != nil {
		t.Fatalf("Setup after the netns vanished: %v", err)
	}
	if !isNetNS(again.NetNSPath) {
		t.Fatalf("%s is not a namespace after Setup", again.NetNSPath)
	}
	serveIn(t, m, again.NetNSPath, net.JoinHostPort(again.IPv4, "80"), "rebuilt")
	mustGet(t, "", "http://"+again.IPv4+"/", "rebuilt")
}

func TestTeardownRemovesEverything(t *testing.T) {
	needRoot(t)
	t.Parallel()
	m := newTestManager(t, "")
	ctx := context.Background()
	taskID := newTaskID(t)
	sb, err := m.Setup(ctx, taskID, node.NetworkAWSVPC, nil)
	if err != nil {
		t.Fatal(err)
	}
	veth := m.allocs[taskID].VethName
	serveIn(t, m, sb.NetNSPath, "169.254.170.2:80", "metadata")
	if err := m.Teardown(ctx, taskID); err != nil {
		t.Fatalf("Teardown: %v", err)
	}
	if _, err := os.Stat(sb.NetNSPath); !os.IsNotExist(err) {
		t.Errorf("netns %s still exists: %v", sb.NetNSPath, err)
	}
	if netnsListed(t, filepath.Base(sb.NetNSPath)) {
		t.Errorf("ip netns list still shows %s", sb.NetNSPath)
	}
	if linkExists(veth) {
		t.Errorf("veth %s still exists", veth)
	}
	if _, err := os.Stat(m.state.taskFile(taskID)); !os.IsNotExist(err) {
		t.Errorf("state file still exists: %v", err)
	}
	if err := m.Teardown(ctx, taskID); err != nil {
		t.Errorf("second Teardown: %v", err)
	}
	next, err := m.Setup(ctx, newTaskID(t), node.NetworkAWSVPC, nil)
	if err != nil {
		t.Fatal(err)
	}
	if next.IPv4 != sb.IPv4 {
		t.Errorf("next task got %s, want the freed %s", next.IPv4, sb.IPv4)
	}
}

func TestHostAndNoneModes(t *testing.T) {
	needRoot(t)
	t.Parallel()
	m := newTestManager(t, "")
	ctx := context.Background()
	host, err := m.Setup(ctx, newTaskID(t), node.NetworkHost, []node.PortMapping{{ContainerPort: 8080, HostPort: 8080}})
	if err != nil {
		t.Fatal(err)
	}
	want := []node.NetworkBinding{{BindIP: "0.0.0.0", ContainerPort: 8080, HostPort: 8080, Protocol: "tcp"}}
	if host.NetNSPath != "" || host.IPv4 != "" || !reflect.DeepEqual(host.Bindings, want) {
		t.Errorf("host sandbox = %+v, want no netns, no IP, bindings %v", host, want)
	}
	none, err := m.Setup(ctx, newTaskID(t), node.NetworkNone, nil)
	if err != nil {
		t.Fatal(err)
	}
	if none.IPv4 != "" || !isNetNS(none.NetNSPath) {
		t.Fatalf("none sandbox = %+v, want a netns and no IP", none)
	}
	links := linksIn(t, none.NetNSPath)
	if !reflect.DeepEqual(links, []string{"lo"}) {
		t.Errorf("links in none netns = %v, want [lo]", links)
	}
}

// linksIn lists the interface names inside a namespace.
func linksIn(t *testing.T, path string) []string {
	t.Helper()
	ns, err := netns.GetFromPath(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	links, err := h.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range links {
		names = append(names, l.Attrs().Name)
	}
	return names
}

func TestSetupRejectsBadInput(t *testing.T) {
	needRoot(t)
	t.Parallel()
	m := newTestManager(t, "")
	ctx := context.Background()
	existing, err := m.Setup(ctx, newTaskID(t), node.NetworkAWSVPC, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		taskID string
		mode   string
		ports  []node.PortMapping
	}{
		{"bad task id", "../etc", node.NetworkAWSVPC, nil},
		{"unknown mode", newTaskID(t), "nat", nil},
		{"container port 0", newTaskID(t), node.NetworkBridge, []node.PortMapping{{ContainerPort: 0}}},
		{"unknown protocol", newTaskID(t), node.NetworkBridge, []node.PortMapping{{ContainerPort: 53, Protocol: "sctp"}}},
		{"ports in none mode", newTaskID(t), node.NetworkNone, []node.PortMapping{{ContainerPort: 80}}},
		{"awsvpc host port differs", newTaskID(t), node.NetworkAWSVPC, []node.PortMapping{{ContainerPort: 80, HostPort: 81}}},
		{"mode change", existing.TaskID, node.NetworkBridge, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if sb, err := m.Setup(ctx, tc.taskID, tc.mode, tc.ports); err == nil {
				t.Fatalf("Setup = %+v, want an error", sb)
			}
			if tc.taskID != existing.TaskID && m.allocs[tc.taskID] != nil {
				t.Errorf("a rejected Setup left an allocation")
			}
		})
	}
	// A fixed host port that is taken fails and leaves nothing behind.
	taken := freeHostPortHeld(t)
	taskID := newTaskID(t)
	if _, err := m.Setup(ctx, taskID, node.NetworkBridge, []node.PortMapping{{ContainerPort: 80, HostPort: taken}}); err == nil {
		t.Fatal("Setup with a taken host port succeeded")
	}
	if a := m.allocs[taskID]; a != nil {
		t.Errorf("failed Setup left allocation %+v", a)
	}
	if _, err := os.Stat(filepath.Join(netnsDir, m.netnsPrefix()+taskID[:netnsTaskIDLen])); !os.IsNotExist(err) {
		t.Errorf("failed Setup left its netns: %v", err)
	}
}

// freeHostPortHeld returns a loopback port held by a listener until the
// test ends.
func freeHostPortHeld(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

func TestInNetNSRestoresTheThread(t *testing.T) {
	needRoot(t)
	t.Parallel()
	m := newTestManager(t, "")
	sb, err := m.Setup(context.Background(), newTaskID(t), node.NetworkNone, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The host netns is this thread's: /proc/self/ns/net is the main
	// thread's, which a parallel test may have in a task's netns just now.
	runtime.LockOSThread()
	host, err := netns.Get()
	runtime.UnlockOSThread()
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	for i := 0; i < 20; i++ {
		if err := inNetNS(sb.NetNSPath, func() error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	// Whatever threads the runtime hands out now must be in the host netns.
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			cur, err := netns.Get()
			if err != nil {
				t.Error(err)
				return
			}
			defer cur.Close()
			if !cur.Equal(host) {
				t.Errorf("a thread stayed in netns %s", cur)
			}
		}()
	}
	wg.Wait()
}
