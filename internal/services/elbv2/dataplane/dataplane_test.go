package dataplane

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kumo-project/kumo/internal/clock"
)

// backendServer is a target on 127.0.0.1 that answers its name; /health
// answers the status held in health.
type backendServer struct {
	name   string
	addr   netip.AddrPort
	health atomic.Int32
	hits   atomic.Int64
	last   atomic.Pointer[http.Header]
}

func newBackend(t *testing.T, name string) *backendServer {
	t.Helper()
	b := &backendServer{name: name}
	b.health.Store(200)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			w.WriteHeader(int(b.health.Load()))
			return
		}
		if d := r.URL.Query().Get("sleep"); d != "" {
			dur, _ := time.ParseDuration(d)
			time.Sleep(dur)
		}
		b.hits.Add(1)
		h := r.Header.Clone()
		b.last.Store(&h)
		w.Header().Set("Server", "backend")
		io.WriteString(w, b.name)
	}))
	t.Cleanup(srv.Close)
	b.addr = netip.MustParseAddrPort(strings.TrimPrefix(srv.URL, "http://"))
	return b
}

func (b *backendServer) target() Target {
	return Target{Key: b.addr.String(), Addr: b.addr}
}

// testAddr is a loopback address of the test's own, so parallel tests
// (and other packages' tests) never share a socket.
func testAddr(t *testing.T) netip.Addr { return testAddrFor(t.Name()) }

func testAddrFor(name string) netip.Addr {
	h := fnv.New32a()
	h.Write([]byte(name))
	s := h.Sum32()
	return netip.AddrFrom4([4]byte{127, 201, byte(s >> 8), byte(s%250) + 2})
}

func realClock() clock.Clock { return clock.Real{} }

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newPlane(t *testing.T) *Plane {
	p := New(Options{Clock: realClock(), Log: discardLog()})
	t.Cleanup(p.Close)
	return p
}

func forwardTo(arns ...string) Action {
	a := Action{Type: ActionForward}
	for _, arn := range arns {
		a.Forward = append(a.Forward, WeightedGroup{ARN: arn, Weight: 1})
	}
	return a
}

func targetGroup(arn string, targets ...*backendServer) TargetGroup {
	tg := TargetGroup{ARN: arn, Protocol: "HTTP", Algorithm: RoundRobin}
	for _, b := range targets {
		tg.Targets = append(tg.Targets, b.target())
	}
	return tg
}

func oneLB(addr netip.Addr, port int, rules []Rule, groups ...TargetGroup) Config {
	return Config{
		LoadBalancers: []LoadBalancer{{ARN: "lb", Name: "web", DNSName: "web-1.us-east-1.elb.localhost", Address: addr,
			Listeners: []Listener{{ARN: "l", Port: port, Protocol: "HTTP", Rules: rules}}}},
		TargetGroups: groups,
	}
}

func get(t *testing.T, c *http.Client, url string, hdr ...string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func noRedirects() *http.Client {
	return &http.Client{Timeout: 5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func TestRules(t *testing.T) {
	t.Parallel()
	api, web := newBackend(t, "api"), newBackend(t, "web")
	rules := []Rule{
		{ARN: "path", Conditions: []Condition{{Field: FieldPathPattern, Values: []string{"/api/*"}}}, Action: forwardTo("api")},
		{ARN: "host", Conditions: []Condition{{Field: FieldHostHeader, Values: []string{"*.example.com"}}}, Action: forwardTo("api")},
		{ARN: "header", Conditions: []Condition{{Field: FieldHTTPHeader, HeaderName: "X-Canary", Values: []string{"y?s"}}}, Action: forwardTo("api")},
		{ARN: "method", Conditions: []Condition{{Field: FieldHTTPRequestMethod, Values: []string{"DELETE"}}},
			Action: Action{Type: ActionFixedResponse, Fixed: &FixedResponse{StatusCode: 405, Body: "no deletes"}}},
		{ARN: "query", Conditions: []Condition{{Field: FieldQueryString, QueryPairs: []QueryPair{{Key: "v", Value: "2"}}}}, Action: forwardTo("api")},
		{ARN: "source", Conditions: []Condition{{Field: FieldSourceIP, Values: []string{"10.0.0.0/8"}}},
			Action: Action{Type: ActionFixedResponse, Fixed: &FixedResponse{StatusCode: 403}}},
		{ARN: "sorry", Conditions: []Condition{{Field: FieldPathPattern, Values: []string{"/maintenance"}}},
			Action: Action{Type: ActionFixedResponse, Fixed: &FixedResponse{StatusCode: 503, ContentType: "text/html", Body: "<h1>sorry</h1>"}}},
		{ARN: "redirect", Conditions: []Condition{{Field: FieldPathPattern, Values: []string{"/old/*"}}},
			Action: Action{Type: ActionRedirect, Redirect: &Redirect{Protocol: "HTTPS", Port: "443", Path: "/new/#{path}", StatusCode: 301}}},
		{ARN: "default", Action: forwardTo("web")},
	}
	addr := testAddr(t)
	p := newPlane(t)
	if err := p.Apply(oneLB(addr, 8080, rules, targetGroup("api", api), targetGroup("web", web))); err != nil {
		t.Fatal(err)
	}
	base := "http://" + addr.String() + ":8080"
	cases := []struct {
		name, path string
		hdr        []string
		status     int
		body       string
	}{
		{"path pattern", "/api/users", nil, 200, "api"},
		{"path pattern is case sensitive", "/API/users", nil, 200, "web"},
		{"host header wildcard", "/", []string{"Host", "shop.EXAMPLE.com"}, 200, "api"},
		{"http header", "/", []string{"X-Canary", "YES"}, 200, "api"},
		{"query string", "/x?v=2", nil, 200, "api"},
		{"fixed response", "/maintenance", nil, 503, "<h1>sorry</h1>"},
		{"default rule", "/other", nil, 200, "web"},
	}
	c := noRedirects()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body, _ := get(t, c, base+tc.path, tc.hdr...)
			if status != tc.status || body != tc.body {
				t.Fatalf("got %d %q, want %d %q", status, body, tc.status, tc.body)
			}
		})
	}
	t.Run("method", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodDelete, base+"/x", nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 405 {
			t.Fatalf("DELETE got %d", resp.StatusCode)
		}
	})
	t.Run("redirect", func(t *testing.T) {
		status, _, h := get(t, c, base+"/old/a/b?x=1", "Host", "shop.test:8080")
		want := "https://shop.test:443/new/old/a/b?x=1"
		if status != 301 || h.Get("Location") != want {
			t.Fatalf("got %d %q, want 301 %q", status, h.Get("Location"), want)
		}
	})
	t.Run("forwarded headers", func(t *testing.T) {
		get(t, c, base+"/api/h", "X-Forwarded-For", "203.0.113.9")
		h := *api.last.Load()
		if h.Get("X-Forwarded-For") != "203.0.113.9, 127.0.0.1" || h.Get("X-Forwarded-Proto") != "http" ||
			h.Get("X-Forwarded-Port") != "8080" || !strings.HasPrefix(h.Get("X-Amzn-Trace-Id"), "Root=1-") {
			t.Fatalf("headers %v", h)
		}
	})
}

func TestRedirectTemplates(t *testing.T) {
	t.Parallel()
	req := httptest.NewRequest(http.MethodGet, "http://shop.test:80/a/b?q=1", nil)
	cases := []struct {
		name string
		rd   Redirect
		want string
	}{
		{"defaults keep everything", Redirect{}, "http://shop.test:80/a/b?q=1"},
		{"to https", Redirect{Protocol: "HTTPS", Port: "443"}, "https://shop.test:443/a/b?q=1"},
		{"new host and path", Redirect{Host: "www.#{host}", Path: "/v2/#{path}", Query: "from=#{protocol}&#{query}"}, "http://www.shop.test:80/v2/a/b?from=http&q=1"},
		{"empty query", Redirect{Query: ""}, "http://shop.test:80/a/b?q=1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := redirectURL(&tc.rd, req, "HTTP", 80); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestWildcard(t *testing.T) {
	t.Parallel()
	cases := []struct {
		pattern, s string
		want       bool
	}{
		{"/api/*", "/api/x/y", true}, {"/api/*", "/apix", false}, {"*.example.com", "a.example.com", true},
		{"a?c", "abc", true}, {"a?c", "ac", false}, {"*", "", true}, {"/img/*.png", "/img/a/b.png", true},
	}
	for _, tc := range cases {
		if got := wildcard(tc.pattern, tc.s); got != tc.want {
			t.Errorf("wildcard(%q, %q) = %v", tc.pattern, tc.s, got)
		}
	}
}

func TestAlgorithmsAndStickiness(t *testing.T) {
	t.Parallel()
	a, b, c := newBackend(t, "a"), newBackend(t, "b"), newBackend(t, "c")
	addr := testAddr(t)
	p := newPlane(t)
	apply := func(tg TargetGroup) {
		t.Helper()
		if err := p.Apply(oneLB(addr, 8080, []Rule{{ARN: "d", Action: forwardTo("tg")}}, tg)); err != nil {
			t.Fatal(err)
		}
	}
	url := "http://" + addr.String() + ":8080/"
	t.Run("round robin takes each target in turn", func(t *testing.T) {
		apply(targetGroup("tg", a, b, c))
		seen := map[string]int{}
		for range 30 {
			_, body, _ := get(t, noRedirects(), url)
			seen[body]++
		}
		if seen["a"] != 10 || seen["b"] != 10 || seen["c"] != 10 {
			t.Fatalf("spread %v", seen)
		}
	})
	t.Run("least outstanding avoids the busy target", func(t *testing.T) {
		tg := targetGroup("tg", a, b)
		tg.Algorithm = LeastOutstandingRequests
		apply(tg)
		var wg sync.WaitGroup
		started := make(chan struct{})
		wg.Add(1)
		go func() { defer wg.Done(); close(started); get(t, noRedirects(), url+"?sleep=400ms") }()
		<-started
		time.Sleep(100 * time.Millisecond)
		busy := ""
		for key, n := range map[string]int64{"a": p.InFlight("tg", a.addr.String()), "b": p.InFlight("tg", b.addr.String())} {
			if n == 1 {
				busy = key
			}
		}
		for range 5 {
			if _, body, _ := get(t, noRedirects(), url); body == busy {
				t.Fatalf("request went to busy target %s", busy)
			}
		}
		wg.Wait()
	})
	t.Run("lb_cookie stickiness", func(t *testing.T) {
		tg := targetGroup("tg", a, b, c)
		tg.Stickiness = time.Hour
		apply(tg)
		jar, _ := cookiejar.New(nil)
		client := &http.Client{Jar: jar, Timeout: 5 * time.Second}
		_, first, _ := get(t, client, url)
		for range 10 {
			if _, body, _ := get(t, client, url); body != first {
				t.Fatalf("sticky session moved from %s to %s", first, body)
			}
		}
	})
}

func TestWeightedGroupsWithGroupStickiness(t *testing.T) {
	t.Parallel()
	blue, green := newBackend(t, "blue"), newBackend(t, "green")
	addr := testAddr(t)
	p := newPlane(t)
	action := Action{Type: ActionForward, Forward: []WeightedGroup{{ARN: "blue", Weight: 80}, {ARN: "green", Weight: 20}}}
	if err := p.Apply(oneLB(addr, 8080, []Rule{{ARN: "d", Action: action}}, targetGroup("blue", blue), targetGroup("green", green))); err != nil {
		t.Fatal(err)
	}
	url := "http://" + addr.String() + ":8080/"
	seen := map[string]int{}
	for range 200 {
		_, body, _ := get(t, noRedirects(), url)
		seen[body]++
	}
	if seen["blue"] < 120 || seen["green"] < 15 {
		t.Fatalf("80/20 split gave %v", seen)
	}
	action.GroupStickiness = time.Hour
	if err := p.Apply(oneLB(addr, 8080, []Rule{{ARN: "d", Action: action}}, targetGroup("blue", blue), targetGroup("green", green))); err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 5 * time.Second}
	_, first, _ := get(t, client, url)
	for range 20 {
		if _, body, _ := get(t, client, url); body != first {
			t.Fatalf("group stickiness moved from %s to %s", first, body)
		}
	}
}

func TestHealthChecksAndFailOpen(t *testing.T) {
	t.Parallel()
	a, b := newBackend(t, "a"), newBackend(t, "b")
	addr := testAddr(t)
	p := newPlane(t)
	tg := targetGroup("tg", a, b)
	tg.Health = HealthCheck{Enabled: true, Protocol: "HTTP", Path: "/health", Interval: 30 * time.Millisecond,
		Timeout: 200 * time.Millisecond, HealthyThreshold: 2, UnhealthyThreshold: 2, Matcher: []CodeRange{{200, 299}}}
	if err := p.Apply(oneLB(addr, 8080, []Rule{{ARN: "d", Action: forwardTo("tg")}}, tg)); err != nil {
		t.Fatal(err)
	}
	if h := p.TargetHealth("tg")[a.addr.String()]; h.State != StateInitial && h.State != StateHealthy {
		t.Fatalf("new target is %+v", h)
	}
	waitHealth(t, p, a, Health{State: StateHealthy})
	b.health.Store(500)
	waitHealth(t, p, b, Health{State: StateUnhealthy, Reason: ReasonResponseCodeMismatch,
		Description: "Health checks failed with these codes: [500]"})
	url := "http://" + addr.String() + ":8080/"
	for range 10 {
		if _, body, _ := get(t, noRedirects(), url); body != "a" {
			t.Fatalf("unhealthy target b got traffic")
		}
	}
	a.health.Store(404)
	waitHealth(t, p, a, Health{State: StateUnhealthy, Reason: ReasonResponseCodeMismatch,
		Description: "Health checks failed with these codes: [404]"})
	seen := map[string]bool{}
	for range 10 {
		_, body, _ := get(t, noRedirects(), url)
		seen[body] = true
	}
	if !seen["a"] || !seen["b"] {
		t.Fatalf("all unhealthy should fail open to every target, saw %v", seen)
	}
}

func waitHealth(t *testing.T, p *Plane, b *backendServer, want Health) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if p.TargetHealth("tg")[b.addr.String()] == want {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("target %s health %+v, want %+v", b.name, p.TargetHealth("tg")[b.addr.String()], want)
}

func TestHealthStateMachine(t *testing.T) {
	t.Parallel()
	hc := HealthCheck{HealthyThreshold: 3, UnhealthyThreshold: 2}
	fail := checkResult{fail: Health{Reason: ReasonTimeout, Description: "Request timed out"}}
	ok := checkResult{}
	cases := []struct {
		name    string
		results []checkResult
		want    string
	}{
		{"stays initial below the healthy threshold", []checkResult{ok, ok}, StateInitial},
		{"healthy after the healthy threshold", []checkResult{ok, ok, ok}, StateHealthy},
		{"a failure resets the streak", []checkResult{ok, ok, fail, ok, ok}, StateInitial},
		{"unhealthy after the unhealthy threshold", []checkResult{ok, ok, ok, fail, fail}, StateHealthy + "→" + StateUnhealthy},
		{"one failure keeps healthy", []checkResult{ok, ok, ok, fail}, StateHealthy},
		{"recovers", []checkResult{fail, fail, ok, ok, ok}, StateHealthy},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHealthState()
			for _, r := range tc.results {
				h = h.observe(r, hc, time.Now())
			}
			want := tc.want
			if i := strings.Index(want, "→"); i >= 0 {
				want = want[i+len("→"):]
			}
			if h.State != want {
				t.Fatalf("state %s, want %s", h.State, want)
			}
			if h.State == StateUnhealthy && h.Reason != ReasonTimeout {
				t.Fatalf("reason %q", h.Reason)
			}
		})
	}
}

func TestDrainingAndErrors(t *testing.T) {
	t.Parallel()
	a, b := newBackend(t, "a"), newBackend(t, "b")
	addr := testAddr(t)
	p := newPlane(t)
	url := "http://" + addr.String() + ":8080/"
	tg := targetGroup("tg", a, b)
	if err := p.Apply(oneLB(addr, 8080, []Rule{{ARN: "d", Action: forwardTo("tg")}}, tg)); err != nil {
		t.Fatal(err)
	}
	// A slow request on a target keeps running while the target drains.
	var slowBody atomic.Value
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			_, body, _ := get(t, noRedirects(), url+"?sleep=300ms")
			if body == "a" {
				slowBody.Store(body)
				return
			}
		}
	}()
	time.Sleep(50 * time.Millisecond)
	for p.InFlight("tg", a.addr.String()) == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	tg.Targets[0].Draining = true
	if err := p.Apply(oneLB(addr, 8080, []Rule{{ARN: "d", Action: forwardTo("tg")}}, tg)); err != nil {
		t.Fatal(err)
	}
	if h := p.TargetHealth("tg")[a.addr.String()]; h.State != StateDraining || h.Reason != ReasonDeregistrationInProgres {
		t.Fatalf("draining target health %+v", h)
	}
	for range 6 {
		if _, body, _ := get(t, noRedirects(), url); body != "b" {
			t.Fatalf("draining target got a new request")
		}
	}
	<-done
	if slowBody.Load() != "a" {
		t.Fatal("in-flight request on the draining target did not finish")
	}

	t.Run("503 without targets, marked as ELB's", func(t *testing.T) {
		if err := p.Apply(oneLB(addr, 8080, []Rule{{ARN: "d", Action: forwardTo("tg")}}, targetGroup("tg"))); err != nil {
			t.Fatal(err)
		}
		status, _, h := get(t, noRedirects(), url)
		if status != 503 || h.Get("Server") != "awselb/2.0" {
			t.Fatalf("got %d server %q", status, h.Get("Server"))
		}
	})
	t.Run("502 when the target refuses", func(t *testing.T) {
		gone := targetGroup("tg")
		gone.Targets = []Target{{Key: "127.0.0.1:1", Addr: netip.MustParseAddrPort("127.0.0.1:1")}}
		if err := p.Apply(oneLB(addr, 8080, []Rule{{ARN: "d", Action: forwardTo("tg")}}, gone)); err != nil {
			t.Fatal(err)
		}
		if status, _, h := get(t, noRedirects(), url); status != 502 || h.Get("Server") != "awselb/2.0" {
			t.Fatalf("got %d server %q", status, h.Get("Server"))
		}
	})
	t.Run("504 when the target outlasts the idle timeout", func(t *testing.T) {
		cfg := oneLB(addr, 8080, []Rule{{ARN: "d", Action: forwardTo("tg")}}, targetGroup("tg", a))
		cfg.LoadBalancers[0].IdleTimeout = 100 * time.Millisecond
		if err := p.Apply(cfg); err != nil {
			t.Fatal(err)
		}
		if status, _, _ := get(t, noRedirects(), url+"?sleep=400ms"); status != 504 {
			t.Fatalf("got %d", status)
		}
	})
	t.Run("a bad config keeps the old table", func(t *testing.T) {
		bad := oneLB(addr, 8080, []Rule{{ARN: "d", Action: forwardTo("missing")}}, targetGroup("tg", a))
		if err := p.Apply(bad); err == nil {
			t.Fatal("config forwarding to an unknown group was accepted")
		}
		if status, _, _ := get(t, noRedirects(), url); status != 200 {
			t.Fatalf("old table no longer serves: %d", status)
		}
	})
}

func TestSharedLoopbackRoutesByHost(t *testing.T) {
	t.Parallel()
	a, b := newBackend(t, "a"), newBackend(t, "b")
	p := New(Options{Clock: clock.Real{}, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		HostRouted: []netip.Addr{netip.MustParseAddr("127.0.0.1")}})
	t.Cleanup(p.Close)
	port := 18000 + int(testAddr(t).As4()[3])
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
		t.Fatal(err)
	}
	for host, want := range map[string]string{"one-1.us-east-1.elb.localhost": "a", "TWO-2.us-east-1.elb.localhost:80": "b"} {
		if _, body, _ := get(t, noRedirects(), fmt.Sprintf("http://127.0.0.1:%d/", port), "Host", host); body != want {
			t.Errorf("host %s answered by %q", host, body)
		}
	}
	for addr, want := range map[netip.Addr]string{testAddr(t): "a", testAddr(t).Next(): "b"} {
		if _, body, _ := get(t, noRedirects(), fmt.Sprintf("http://%s:%d/", addr, port)); body != want {
			t.Errorf("address %s answered by %q", addr, body)
		}
	}
}

// selfSigned makes a certificate for name.
func selfSigned(t *testing.T, name string) *tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		DNSNames: []string{name}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

func httpsLB(addr netip.Addr, policy string, cert *tls.Certificate, tg TargetGroup) Config {
	return Config{
		LoadBalancers: []LoadBalancer{{ARN: "lb", Name: "web", Address: addr, HTTP2: true,
			Listeners: []Listener{{ARN: "l", Port: 8443, Protocol: "HTTPS", SSLPolicy: policy,
				Certificates: []*tls.Certificate{cert}, Rules: []Rule{{Action: forwardTo(tg.ARN)}}}}}},
		TargetGroups: []TargetGroup{tg},
	}
}

func TestTLSPolicies(t *testing.T) {
	t.Parallel()
	a := newBackend(t, "a")
	addr := testAddr(t)
	p := newPlane(t)
	cert := selfSigned(t, "web.test")
	cases := []struct {
		policy     string
		clientMax  uint16
		wantAccept bool
	}{
		{"ELBSecurityPolicy-TLS-1-2-2017-01", tls.VersionTLS11, false},
		{"ELBSecurityPolicy-TLS-1-2-2017-01", tls.VersionTLS12, true},
		{"ELBSecurityPolicy-TLS-1-1-2017-01", tls.VersionTLS11, true},
		{"ELBSecurityPolicy-TLS-1-1-2017-01", tls.VersionTLS10, false},
		{"ELBSecurityPolicy-2016-08", tls.VersionTLS10, true},
		{"ELBSecurityPolicy-TLS13-1-3-2021-06", tls.VersionTLS12, false},
	}
	for _, tc := range cases {
		name := tc.policy + " client " + VersionName(tc.clientMax)
		t.Run(name, func(t *testing.T) {
			if err := p.Apply(httpsLB(addr, tc.policy, cert, targetGroup("tg", a))); err != nil {
				t.Fatal(err)
			}
			conn, err := tls.Dial("tcp", addr.String()+":8443", &tls.Config{InsecureSkipVerify: true,
				MinVersion: tls.VersionTLS10, MaxVersion: tc.clientMax, ServerName: "web.test"})
			if err == nil {
				conn.Close()
			}
			if (err == nil) != tc.wantAccept {
				t.Fatalf("handshake error %v, want accepted=%v", err, tc.wantAccept)
			}
		})
	}
}

// TestCertificateSwapUnderLoad swaps the listener's certificate while
// clients keep sending requests: no request may fail, and new handshakes
// see the new certificate.
func TestCertificateSwapUnderLoad(t *testing.T) {
	t.Parallel()
	a := newBackend(t, "a")
	addr := testAddr(t)
	p := newPlane(t)
	oldCert, newCert := selfSigned(t, "web.test"), selfSigned(t, "web.test")
	policy := "ELBSecurityPolicy-TLS13-1-2-2021-06"
	if err := p.Apply(httpsLB(addr, policy, oldCert, targetGroup("tg", a))); err != nil {
		t.Fatal(err)
	}
	url := "https://" + addr.String() + ":8443/"
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	var ok, failed atomic.Int64
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, ServerName: "web.test"},
				DisableKeepAlives: i%2 == 0, ForceAttemptHTTP2: true}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
			for ctx.Err() == nil {
				resp, err := c.Get(url)
				if err != nil || resp.StatusCode != 200 {
					failed.Add(1)
				} else {
					ok.Add(1)
				}
				if resp != nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	if err := p.Apply(httpsLB(addr, policy, newCert, targetGroup("tg", a))); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if failed.Load() != 0 || ok.Load() == 0 {
		t.Fatalf("%d requests failed, %d succeeded", failed.Load(), ok.Load())
	}
	conn, err := tls.Dial("tcp", addr.String()+":8443", &tls.Config{InsecureSkipVerify: true, ServerName: "web.test"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if !conn.ConnectionState().PeerCertificates[0].Equal(newCert.Leaf) {
		t.Fatal("new handshakes still get the old certificate")
	}
	// HTTP/2 is negotiated by ALPN.
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Fatalf("protocol %s, want HTTP/2", resp.Proto)
	}
}
