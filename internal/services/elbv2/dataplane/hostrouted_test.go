package dataplane

import (
	"net"
	"net/netip"
	"testing"
	"time"
)

// TestHostRoutedAddresses serves two load balancers on two host-routed
// addresses (a loopback one stands in for the task bridge IP), one of
// them held by another program at first: the clash loses only that
// address's routes until it is free.
func TestHostRoutedAddresses(t *testing.T) {
	t.Parallel()
	a, b := newBackend(t, "a"), newBackend(t, "b")
	held, bridge := testAddrFor(t.Name()+" held"), testAddrFor(t.Name()+" bridge")
	other, err := net.Listen("tcp", net.JoinHostPort(held.String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	port := other.Addr().(*net.TCPAddr).Port
	p := New(Options{Clock: realClock(), Log: discardLog(), HostRouted: []netip.Addr{held, bridge}})
	t.Cleanup(p.Close)
	cfg := Config{
		LoadBalancers: []LoadBalancer{
			{ARN: "lb1", DNSName: "one-1.us-east-1.elb.localhost", Address: testAddr(t),
				Listeners: []Listener{{ARN: "l1", Port: port, Protocol: "HTTP", Rules: []Rule{{Action: forwardTo("a")}}}}},
			{ARN: "lb2", DNSName: "two-2.us-east-1.elb.localhost", Address: testAddr(t).Next(),
				Listeners: []Listener{{ARN: "l2", Port: port, Protocol: "HTTP", Rules: []Rule{{Action: forwardTo("b")}}}}},
		},
		TargetGroups: []TargetGroup{targetGroup("a", a), targetGroup("b", b)},
	}
	if err := p.Apply(cfg); err != nil {
		t.Fatalf("a held shared address failed the load balancers: %v", err)
	}
	at := func(addr netip.Addr) netip.AddrPort { return netip.AddrPortFrom(addr, uint16(port)) }
	checkHostRouting(t, at(bridge))
	if _, body, _ := get(t, noRedirects(), "http://"+at(testAddr(t)).String()+"/"); body != "a" {
		t.Errorf("own address of one answered by %q", body)
	}

	other.Close()
	deadline := time.Now().Add(5 * time.Second)
	for p.RetrySockets(); !accepts(at(held)) && time.Now().Before(deadline); p.RetrySockets() {
		time.Sleep(20 * time.Millisecond)
	}
	checkHostRouting(t, at(held))
}

// checkHostRouting asks a host-routed socket for each load balancer by
// name, and for a name that is none.
func checkHostRouting(t *testing.T, addr netip.AddrPort) {
	t.Helper()
	url := "http://" + addr.String() + "/"
	for host, want := range map[string]string{"one-1.us-east-1.elb.localhost": "a", "TWO-2.us-east-1.elb.localhost:80": "b"} {
		if _, body, _ := get(t, noRedirects(), url, "Host", host); body != want {
			t.Errorf("%s host %s answered by %q, want %q", url, host, body, want)
		}
	}
	status, _, hdr := get(t, noRedirects(), url, "Host", "gone-9.us-east-1.elb.localhost")
	if status != 503 || hdr.Get("Server") != "awselb/2.0" {
		t.Errorf("%s host of no load balancer: %d from %q, want ALB's 503", url, status, hdr.Get("Server"))
	}
}

// accepts says whether something accepts connections at addr.
func accepts(addr netip.AddrPort) bool {
	c, err := net.DialTimeout("tcp", addr.String(), time.Second)
	if err == nil {
		c.Close()
	}
	return err == nil
}

// TestHostRoutedAddressIsNoLoadBalancerAddress rejects a table whose load
// balancer's own address is a host-routed one.
func TestHostRoutedAddressIsNoLoadBalancerAddress(t *testing.T) {
	t.Parallel()
	a := newBackend(t, "a")
	p := New(Options{Clock: realClock(), Log: discardLog(), HostRouted: []netip.Addr{testAddr(t)}})
	t.Cleanup(p.Close)
	if err := p.Apply(oneLB(testAddr(t), 18080, []Rule{{Action: forwardTo("a")}}, targetGroup("a", a))); err == nil {
		t.Fatal("a load balancer on a host-routed address was accepted")
	}
}
