package dns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// mutableLBs is an ELBv2 stand-in whose load balancers change during a test.
type mutableLBs struct {
	mu    sync.Mutex
	addrs map[string]netip.Addr
	err   error
}

func (m *mutableLBs) LoadBalancerAddresses(context.Context) (map[string]netip.Addr, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]netip.Addr{}
	for k, v := range m.addrs {
		out[k] = v
	}
	return out, m.err
}

func (m *mutableLBs) set(name string, addr netip.Addr, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if name != "" {
		m.addrs[name] = addr
	}
	m.err = err
}

// startServer runs a Server on 127.0.0.1:0 with the given sources and
// upstreams; refresh is its periodic rebuild interval.
func startServer(t *testing.T, refresh time.Duration, upstreams []string, sources ...Source) *Server {
	t.Helper()
	s := New(Config{
		Listen: []string{"127.0.0.1:0"}, Upstreams: upstreams, Sources: sources,
		RefreshInterval: refresh, ForwardTimeout: 300 * time.Millisecond, Log: slog.New(slog.DiscardHandler),
	})
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// query asks addr over network ("udp" or "tcp") for name and type.
func query(t *testing.T, network, addr, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	c := &dns.Client{Net: network, Timeout: 3 * time.Second}
	resp, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("query %s %s over %s: %v", name, dns.TypeToString[qtype], network, err)
	}
	return resp
}

// answerOf summarizes a reply: "NOERROR 127.64.1.1,127.64.1.2" or "NXDOMAIN".
func answerOf(m *dns.Msg) string {
	var ips []string
	for _, rr := range m.Answer {
		if a, ok := rr.(*dns.A); ok {
			ips = append(ips, a.A.String())
		}
	}
	return strings.TrimSpace(dns.RcodeToString[m.Rcode] + " " + strings.Join(ips, ","))
}

func TestServerAnswers(t *testing.T) {
	t.Parallel()
	lbs := &mutableLBs{addrs: map[string]netip.Addr{albName: albAddr}}
	s := startServer(t, time.Hour, nil, LoadBalancerSource(lbs))
	addr := s.Addrs()[0]
	tests := []struct {
		name     string
		qname    string
		qtype    uint16
		want     string
		wantAuth bool
		wantSOA  bool
	}{
		{"load balancer", albName, dns.TypeA, "NOERROR 127.64.1.1", true, false},
		{"load balancer AAAA", albName, dns.TypeAAAA, "NOERROR", true, true},
		{"unknown load balancer", "nope-1.us-east-1.elb.localhost", dns.TypeA, "NXDOMAIN", true, true},
		{"other localhost name", "my-app.localhost", dns.TypeA, "NOERROR 127.0.0.1", true, false},
		{"outside, with no upstream", "example.com", dns.TypeA, "SERVFAIL", false, false},
	}
	for _, tt := range tests {
		for _, network := range []string{"udp", "tcp"} {
			t.Run(tt.name+" over "+network, func(t *testing.T) {
				t.Parallel()
				resp := query(t, network, addr, tt.qname, tt.qtype)
				if got := answerOf(resp); got != tt.want {
					t.Errorf("answer %q, want %q", got, tt.want)
				}
				if resp.Authoritative != tt.wantAuth || (len(resp.Ns) == 1) != tt.wantSOA {
					t.Errorf("authoritative %v, authority %v; want %v and SOA %v", resp.Authoritative, resp.Ns, tt.wantAuth, tt.wantSOA)
				}
			})
		}
	}
}

func TestServerMalformedQueries(t *testing.T) {
	t.Parallel()
	s := startServer(t, time.Hour, nil)
	tests := []struct {
		name  string
		msg   func() *dns.Msg
		rcode int
	}{
		{"no question", func() *dns.Msg { m := new(dns.Msg); m.Id = 7; return m }, dns.RcodeFormatError},
		{"two questions", func() *dns.Msg {
			m := new(dns.Msg)
			m.SetQuestion("a.localhost.", dns.TypeA)
			m.Question = append(m.Question, m.Question[0])
			return m
		}, dns.RcodeFormatError},
		{"not a query", func() *dns.Msg {
			m := new(dns.Msg)
			m.SetQuestion("a.localhost.", dns.TypeA)
			m.Opcode = dns.OpcodeStatus
			return m
		}, dns.RcodeNotImplemented},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, _, err := (&dns.Client{Timeout: 3 * time.Second}).Exchange(tt.msg(), s.Addrs()[0])
			if err != nil || resp.Rcode != tt.rcode {
				t.Fatalf("reply %v, %v; want rcode %s", resp, err, dns.RcodeToString[tt.rcode])
			}
		})
	}
}

// TestServerRefresh: a name added to a source resolves at the next query
// (a miss rebuilds the table), and a failing build keeps the last table.
func TestServerRefresh(t *testing.T) {
	t.Parallel()
	lbs := &mutableLBs{addrs: map[string]netip.Addr{albName: albAddr}}
	s := startServer(t, time.Hour, nil, LoadBalancerSource(lbs))
	addr := s.Addrs()[0]

	newName, newAddr := "api-42.eu-west-1.elb.localhost", netip.MustParseAddr("127.64.1.2")
	lbs.set(newName, newAddr, nil)
	if got := answerOf(query(t, "udp", addr, newName, dns.TypeA)); got != "NOERROR 127.64.1.2" {
		t.Fatalf("new load balancer: %q, want its address at once", got)
	}

	lbs.set("", netip.Addr{}, errors.New("store is closed"))
	if err := s.Refresh(context.Background()); err == nil {
		t.Fatal("Refresh with a failing source succeeded")
	}
	for _, name := range []string{albName, newName} {
		if got := answerOf(query(t, "tcp", addr, name, dns.TypeA)); !strings.HasPrefix(got, "NOERROR 127.64.1.") {
			t.Errorf("%s after a failed build: %q, want the old table's answer", name, got)
		}
	}
}

// TestServerPeriodicRefresh: the table follows its sources on its own.
func TestServerPeriodicRefresh(t *testing.T) {
	t.Parallel()
	lbs := &mutableLBs{addrs: map[string]netip.Addr{}}
	s := startServer(t, 20*time.Millisecond, nil, LoadBalancerSource(lbs))
	lbs.set(albName, albAddr, nil)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if t := s.table.Load(); len(t.a) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the table never picked up the new load balancer")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// fakeUpstream is a DNS server on 127.0.0.1 (UDP and TCP) that answers
// every A question with 192.0.2.<n> where n counts the questions it got,
// and pads answers to size bytes of TXT when asked for TXT.
func fakeUpstream(t *testing.T) (addr string, questions func() []string) {
	t.Helper()
	var mu sync.Mutex
	var seen []string
	h := dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		mu.Lock()
		seen = append(seen, w.LocalAddr().Network()+" "+req.Question[0].Name)
		n := len(seen)
		mu.Unlock()
		resp := new(dns.Msg)
		resp.SetReply(req)
		q := req.Question[0]
		switch q.Qtype {
		case dns.TypeA:
			rr, _ := dns.NewRR(fmt.Sprintf("%s 30 IN A 192.0.2.%d", q.Name, n))
			resp.Answer = append(resp.Answer, rr)
		case dns.TypeTXT: // 40 records of 100 bytes: too big for 512-byte UDP
			for i := 0; i < 40; i++ {
				rr, _ := dns.NewRR(fmt.Sprintf("%s 30 IN TXT %q", q.Name, strings.Repeat("x", 100)))
				resp.Answer = append(resp.Answer, rr)
			}
		}
		if w.LocalAddr().Network() == "udp" {
			resp.Truncate(dns.MinMsgSize)
		}
		w.WriteMsg(resp)
	})
	pc, ln, err := listenPair("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: h}, {Listener: ln, Handler: h}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go srv.ActivateAndServe()
		<-started
		t.Cleanup(func() { srv.Shutdown() })
	}
	return pc.LocalAddr().String(), func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}

// silentUpstream is a UDP address that reads queries and never answers.
func silentUpstream(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc.LocalAddr().String()
}

func TestServerForwards(t *testing.T) {
	t.Parallel()
	upstream, questions := fakeUpstream(t)
	s := startServer(t, time.Hour, []string{silentUpstream(t), upstream}, LoadBalancerSource(fakeLBs{albName: albAddr}))
	addr := s.Addrs()[0]

	if got := answerOf(query(t, "udp", addr, "www.example.com", dns.TypeA)); got != "NOERROR 192.0.2.1" {
		t.Errorf("forwarded over UDP past a silent upstream: %q, want the upstream's answer", got)
	}
	if got := answerOf(query(t, "tcp", addr, "db.example.org", dns.TypeA)); got != "NOERROR 192.0.2.2" {
		t.Errorf("forwarded over TCP: %q", got)
	}
	big := query(t, "udp", addr, "big.example.com", dns.TypeTXT)
	if !big.Truncated {
		t.Errorf("a large answer over UDP is not truncated (%d records)", len(big.Answer))
	}
	if big = query(t, "tcp", addr, "big.example.com", dns.TypeTXT); big.Truncated || len(big.Answer) != 40 {
		t.Errorf("a large answer over TCP: truncated %v, %d records; want all 40", big.Truncated, len(big.Answer))
	}
	if got := answerOf(query(t, "udp", addr, albName, dns.TypeA)); got != "NOERROR 127.64.1.1" {
		t.Errorf("kumo's own name: %q", got)
	}
	want := []string{"udp www.example.com.", "tcp db.example.org.", "udp big.example.com.", "tcp big.example.com."}
	if got := questions(); strings.Join(got, ";") != strings.Join(want, ";") {
		t.Errorf("upstream saw %v, want %v (kumo's names are never forwarded)", got, want)
	}
}

func TestServerUpstreamFailure(t *testing.T) {
	t.Parallel()
	s := startServer(t, time.Hour, []string{silentUpstream(t)})
	start := time.Now()
	resp := query(t, "udp", s.Addrs()[0], "www.example.com", dns.TypeA)
	if resp.Rcode != dns.RcodeServerFailure {
		t.Fatalf("rcode %s, want SERVFAIL", dns.RcodeToString[resp.Rcode])
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("SERVFAIL took %v; the forward timeout is 300ms", d)
	}
}

// TestServerNeverForwardsToItself: an upstream equal to one of the
// server's own addresses is dropped, so a query cannot loop.
func TestServerNeverForwardsToItself(t *testing.T) {
	t.Parallel()
	pc, ln, err := listenPair("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	ln.Close()
	s := New(Config{Listen: []string{addr}, Upstreams: []string{addr}, Log: slog.New(slog.DiscardHandler)})
	if err := s.Start(context.Background()); err != nil {
		t.Skipf("port %s was taken meanwhile: %v", addr, err)
	}
	t.Cleanup(func() { s.Close() })
	if resp := query(t, "udp", addr, "www.example.com", dns.TypeA); resp.Rcode != dns.RcodeServerFailure {
		t.Fatalf("rcode %s, want SERVFAIL at once", dns.RcodeToString[resp.Rcode])
	}
}

func TestServerListenOneOf(t *testing.T) {
	t.Parallel()
	taken, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	s := New(Config{ListenOneOf: []string{taken.LocalAddr().String(), "127.0.0.1:0"}, Log: slog.New(slog.DiscardHandler)})
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.Addrs(); len(got) != 1 || got[0] == taken.LocalAddr().String() {
		t.Fatalf("bound %v; want the second candidate, the first is taken", got)
	}
	if got := answerOf(query(t, "tcp", s.Addrs()[0], "x.localhost", dns.TypeA)); got != "NOERROR 127.0.0.1" {
		t.Errorf("answer %q", got)
	}

	none := New(Config{ListenOneOf: []string{taken.LocalAddr().String()}, Log: slog.New(slog.DiscardHandler)})
	if err := none.Start(context.Background()); err == nil {
		none.Close()
		t.Fatal("Start succeeded with every candidate taken")
	}
}

func TestServerClose(t *testing.T) {
	t.Parallel()
	s := New(Config{Listen: []string{"127.0.0.1:0"}, Log: slog.New(slog.DiscardHandler)})
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	addr := s.Addrs()[0]
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s.Close() // twice is fine
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatal("TCP still accepts after Close")
	}
}

// recordingWriter is a dns.ResponseWriter for a query that arrived on
// local; it keeps the reply.
type recordingWriter struct {
	local net.Addr
	reply *dns.Msg
}

func (w *recordingWriter) LocalAddr() net.Addr       { return w.local }
func (w *recordingWriter) RemoteAddr() net.Addr      { return udpAddr("10.221.85.2:40000") }
func (w *recordingWriter) WriteMsg(m *dns.Msg) error { w.reply = m; return nil }
func (w *recordingWriter) Write([]byte) (int, error) { return 0, errors.New("not used") }
func (w *recordingWriter) Close() error              { return nil }
func (w *recordingWriter) TsigStatus() error         { return nil }
func (w *recordingWriter) TsigTimersOnly(bool)       {}
func (w *recordingWriter) Hijack()                   {}

// TestServerAnswersByArrivalAddress serves queries that arrived on the
// addresses of a server bound to the bridge IP, a loopback address and a
// wildcard: only the bridge IP answers load balancer names with itself.
// (A unit test cannot bind a non-loopback address; TestKumoDNS asks on a
// real bridge.)
func TestServerAnswersByArrivalAddress(t *testing.T) {
	t.Parallel()
	s := New(Config{Sources: []Source{LoadBalancerSource(fakeLBs{albName: albAddr})}, Log: slog.New(slog.DiscardHandler)})
	if err := s.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	bridge, loopback, wildcard := "10.221.85.1:53", "127.53.1.1:53", "0.0.0.0:53"
	s.shared = sharedAddrsOf([]net.Addr{udpAddr(bridge), udpAddr(loopback), udpAddr(wildcard)})
	tests := []struct {
		name  string
		local net.Addr
		qname string
		want  string
	}{
		{"load balancer on the bridge IP over UDP", udpAddr(bridge), albName, "NOERROR 10.221.85.1"},
		{"load balancer on the bridge IP over TCP", tcpAddr(bridge), albName, "NOERROR 10.221.85.1"},
		{"other localhost name on the bridge IP", udpAddr(bridge), "app.localhost", "NOERROR 127.0.0.1"},
		{"load balancer on loopback", udpAddr(loopback), albName, "NOERROR 127.64.1.1"},
		{"load balancer on 127.0.0.1", tcpAddr("127.0.0.1:53"), albName, "NOERROR 127.64.1.1"},
		// A wildcard's TCP connection has the real destination, which is
		// no address the server was told to listen on.
		{"load balancer via a wildcard over TCP", tcpAddr("192.0.2.2:53"), albName, "NOERROR 127.64.1.1"},
		{"load balancer via a wildcard over UDP", udpAddr(wildcard), albName, "NOERROR 127.64.1.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := new(dns.Msg)
			req.SetQuestion(dns.Fqdn(tt.qname), dns.TypeA)
			w := &recordingWriter{local: tt.local}
			s.ServeDNS(w, req)
			if w.reply == nil || answerOf(w.reply) != tt.want {
				t.Fatalf("reply %v, want %s", w.reply, tt.want)
			}
		})
	}
}

func udpAddr(s string) net.Addr { return net.UDPAddrFromAddrPort(netip.MustParseAddrPort(s)) }
func tcpAddr(s string) net.Addr { return net.TCPAddrFromAddrPort(netip.MustParseAddrPort(s)) }
