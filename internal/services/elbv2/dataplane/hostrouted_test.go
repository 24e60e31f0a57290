package dataplane

import (
	"bufio"
	"io"
	"net"
	"net/http"
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

// TestHostRoutedIdleTimeout: a connection to a host-routed socket is closed
// after the idle timeout of the load balancer it was last served by, not
// the socket's default.
func TestHostRoutedIdleTimeout(t *testing.T) {
	t.Parallel()
	a := newBackend(t, "a")
	shared := testAddrFor(t.Name() + " shared")
	p := New(Options{Clock: realClock(), Log: discardLog(), HostRouted: []netip.Addr{shared}})
	t.Cleanup(p.Close)
	cfg := oneLB(testAddr(t), 8080, []Rule{{ARN: "d", Action: forwardTo("a")}}, targetGroup("a", a))
	cfg.LoadBalancers[0].IdleTimeout = 200 * time.Millisecond
	if err := p.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	conn := dialFor(t, net.JoinHostPort(shared.String(), "8080"), 5*time.Second)
	io.WriteString(conn, "GET / HTTP/1.1\r\nHost: web-1.us-east-1.elb.localhost\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	start := time.Now()
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("read on an idle connection: %v, want io.EOF", err)
	}
	if waited := time.Since(start); waited > 2*time.Second {
		t.Fatalf("closed after %v idle, want about the load balancer's 200ms", waited)
	}
}
