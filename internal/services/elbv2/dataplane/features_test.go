package dataplane

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAccessLog(t *testing.T) {
	t.Parallel()
	a := newBackend(t, "a")
	addr := testAddr(t)
	p := newPlane(t)
	path := filepath.Join(t.TempDir(), "logs", "web.log")
	cfg := oneLB(addr, 8080, []Rule{
		{ARN: "missing", Conditions: []Condition{{Field: FieldPathPattern, Values: []string{"/gone"}}},
			Action: Action{Type: ActionFixedResponse, Fixed: &FixedResponse{StatusCode: 404}}},
		{ARN: "d", Action: forwardTo("tg")}}, targetGroup("tg", a))
	cfg.LoadBalancers[0].AccessLogPath = path
	if err := p.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	get(t, noRedirects(), "http://"+addr.String()+":8080/page?x=1")
	get(t, noRedirects(), "http://"+addr.String()+":8080/gone")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 {
		t.Fatalf("log lines %q", lines)
	}
	cases := []struct{ line, want string }{
		{lines[0], " " + a.addr.String() + " "},
		{lines[0], " 200 "},
		{lines[0], "\"GET http://" + addr.String() + ":8080/page?x=1 HTTP/1.1\""},
		{lines[1], " - "},
		{lines[1], " 404 "},
	}
	for _, tc := range cases {
		if !strings.HasPrefix(tc.line, "http ") || !strings.Contains(tc.line, tc.want) {
			t.Errorf("line %q lacks %q", tc.line, tc.want)
		}
	}
}

func TestH2CAndWebSocket(t *testing.T) {
	t.Parallel()
	// A backend that upgrades /ws and echoes one line back.
	ws := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "websocket" {
			io.WriteString(w, r.Proto)
			return
		}
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		rw.Flush()
		line, _ := rw.ReadString('\n')
		rw.WriteString("echo " + line)
		rw.Flush()
	}))
	t.Cleanup(ws.Close)
	b := &backendServer{name: "ws"}
	b.addr = mustAddrPort(t, ws.URL)
	addr := testAddr(t)
	p := newPlane(t)
	cfg := oneLB(addr, 8080, []Rule{{ARN: "d", Action: forwardTo("tg")}}, targetGroup("tg", b))
	cfg.LoadBalancers[0].HTTP2 = true
	if err := p.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	t.Run("h2c", func(t *testing.T) {
		tr := &http.Transport{Protocols: new(http.Protocols)}
		tr.Protocols.SetUnencryptedHTTP2(true)
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get("http://" + addr.String() + ":8080/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.ProtoMajor != 2 {
			t.Fatalf("client spoke %s", resp.Proto)
		}
	})
	t.Run("websocket upgrade", func(t *testing.T) {
		conn, err := net.DialTimeout("tcp", addr.String()+":8080", 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(conn, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		r := bufio.NewReader(conn)
		status, _ := r.ReadString('\n')
		if !strings.Contains(status, "101") {
			t.Fatalf("status line %q", status)
		}
		for line, _ := r.ReadString('\n'); line != "\r\n" && line != ""; line, _ = r.ReadString('\n') {
		}
		fmt.Fprintf(conn, "hello\n")
		if echo, _ := r.ReadString('\n'); echo != "echo hello\n" {
			t.Fatalf("echo %q", echo)
		}
	})
}

func mustAddrPort(t *testing.T, url string) netip.AddrPort {
	t.Helper()
	ap, err := netip.ParseAddrPort(strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	return ap
}

func TestIdleTimeoutChangeKeepsInFlightRequests(t *testing.T) {
	t.Parallel()
	a := newBackend(t, "a")
	addr := testAddr(t)
	p := newPlane(t)
	cfg := oneLB(addr, 8080, []Rule{{ARN: "d", Action: forwardTo("tg")}}, targetGroup("tg", a))
	if err := p.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	done := make(chan string)
	go func() {
		_, body, _ := get(t, noRedirects(), "http://"+addr.String()+":8080/?sleep=300ms")
		done <- body
	}()
	for p.InFlight("tg", a.addr.String()) == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	cfg.LoadBalancers[0].IdleTimeout = 30 * time.Second
	if err := p.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	if _, body, _ := get(t, noRedirects(), "http://"+addr.String()+":8080/"); body != "a" {
		t.Fatalf("new socket answered %q", body)
	}
	if body := <-done; body != "a" {
		t.Fatalf("in-flight request got %q", body)
	}
}

func TestSlowStartWeight(t *testing.T) {
	t.Parallel()
	now := time.Now()
	g := &group{cfg: TargetGroup{SlowStart: 100 * time.Second}}
	cases := []struct {
		name  string
		since time.Time
		want  float64
	}{
		{"not healthy yet", time.Time{}, 1},
		{"just healthy", now, 0.05},
		{"half way", now.Add(-50 * time.Second), 0.5},
		{"done", now.Add(-200 * time.Second), 1},
	}
	for _, tc := range cases {
		b := newTargetBackend("t", Target{}, healthState{healthySince: tc.since})
		if got := g.slowStartWeight(b, now); got != tc.want {
			t.Errorf("%s: weight %v, want %v", tc.name, got, tc.want)
		}
	}
	if got := (&group{}).slowStartWeight(newTargetBackend("t", Target{}, healthState{healthySince: now}), now); got != 1 {
		t.Errorf("without slow start: %v", got)
	}
}

func TestForwardedFor(t *testing.T) {
	t.Parallel()
	client := netip.MustParseAddrPort("198.51.100.7:40000")
	cases := []struct {
		name  string
		lb    LoadBalancer
		prior []string
		want  string
	}{
		{"append to nothing", LoadBalancer{}, nil, "198.51.100.7"},
		{"append to a chain", LoadBalancer{XFF: XFFAppend}, []string{"203.0.113.1, 10.0.0.1"}, "203.0.113.1, 10.0.0.1, 198.51.100.7"},
		{"with the client port", LoadBalancer{XFFClientPort: true}, nil, "198.51.100.7:40000"},
		{"preserve", LoadBalancer{XFF: XFFPreserve}, []string{"203.0.113.1"}, "203.0.113.1"},
		{"remove", LoadBalancer{XFF: XFFRemove}, []string{"203.0.113.1"}, ""},
	}
	for _, tc := range cases {
		if got := forwardedFor(&tc.lb, tc.prior, client); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestNewTargetIsCheckedAtOnce registers a target into a group whose checks
// run every hour: its first check must not wait for the next tick.
func TestNewTargetIsCheckedAtOnce(t *testing.T) {
	t.Parallel()
	a, b := newBackend(t, "a"), newBackend(t, "b")
	addr := testAddr(t)
	p := newPlane(t)
	tg := targetGroup("tg", a)
	tg.Health = HealthCheck{Enabled: true, Protocol: "HTTP", Path: "/health", Interval: time.Hour, Timeout: time.Second,
		HealthyThreshold: 1, UnhealthyThreshold: 2, Matcher: []CodeRange{{200, 200}}}
	if err := p.Apply(oneLB(addr, 8080, []Rule{{ARN: "d", Action: forwardTo("tg")}}, tg)); err != nil {
		t.Fatal(err)
	}
	waitHealth(t, p, a, Health{State: StateHealthy})
	tg.Targets = append(tg.Targets, b.target())
	if err := p.Apply(oneLB(addr, 8080, []Rule{{ARN: "d", Action: forwardTo("tg")}}, tg)); err != nil {
		t.Fatal(err)
	}
	waitHealth(t, p, b, Health{State: StateHealthy})
}

// TestForwarding covers the hot path: hop-by-hop headers stay on their hop,
// bodies and trailers pass, streamed responses are flushed as they come.
func TestForwarding(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/stream":
			w.Write([]byte("first"))
			http.NewResponseController(w).Flush()
			time.Sleep(300 * time.Millisecond)
			w.Write([]byte("second"))
		case "/trailer":
			w.Header().Set("Trailer", "X-Checksum")
			w.Write([]byte("body"))
			w.Header().Set("X-Checksum", "abc")
		default:
			body, _ := io.ReadAll(r.Body)
			w.Header().Set("Connection", "X-Internal")
			w.Header().Set("X-Internal", "1")
			w.Header().Set("X-Seen", fmt.Sprintf("secret=%q keepalive=%q host=%s", r.Header.Get("X-Secret"), r.Header.Get("Keep-Alive"), r.Host))
			w.Write(body)
		}
	}))
	t.Cleanup(srv.Close)
	b := &backendServer{name: "f", addr: mustAddrPort(t, srv.URL)}
	addr := testAddr(t)
	p := newPlane(t)
	if err := p.Apply(oneLB(addr, 8080, []Rule{{ARN: "d", Action: forwardTo("tg")}}, targetGroup("tg", b))); err != nil {
		t.Fatal(err)
	}
	base := "http://" + addr.String() + ":8080"
	t.Run("headers and body", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, base+"/echo", strings.NewReader("payload"))
		req.Host = "shop.test"
		req.Header.Set("Connection", "X-Secret")
		req.Header.Set("X-Secret", "1")
		req.Header.Set("Keep-Alive", "timeout=5")
		resp, err := noRedirects().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if string(body) != "payload" {
			t.Fatalf("body %q", body)
		}
		if seen := resp.Header.Get("X-Seen"); seen != `secret="" keepalive="" host=shop.test` {
			t.Fatalf("target saw %s", seen)
		}
		if resp.Header.Get("X-Internal") != "" {
			t.Fatal("a hop-by-hop response header was passed on")
		}
	})
	t.Run("trailers", func(t *testing.T) {
		resp, err := noRedirects().Get(base + "/trailer")
		if err != nil {
			t.Fatal(err)
		}
		io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.Trailer.Get("X-Checksum") != "abc" {
			t.Fatalf("trailer %v", resp.Trailer)
		}
	})
	t.Run("streaming", func(t *testing.T) {
		start := time.Now()
		resp, err := noRedirects().Get(base + "/stream")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		buf := make([]byte, 5)
		if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != "first" {
			t.Fatalf("first chunk %q %v", buf, err)
		}
		if d := time.Since(start); d > 250*time.Millisecond {
			t.Fatalf("first chunk took %v: not flushed", d)
		}
	})
}
