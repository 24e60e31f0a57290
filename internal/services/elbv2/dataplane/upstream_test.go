package dataplane

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countingTarget is an httptest target that counts the connections it
// accepted and closed.
type countingTarget struct {
	*httptest.Server
	opened, closed atomic.Int64
	seen           atomic.Pointer[http.Request]
}

func newCountingTarget(t *testing.T, h http.HandlerFunc) *countingTarget {
	ct := &countingTarget{}
	ct.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ct.seen.Store(r)
		h(w, r)
	}))
	ct.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			ct.opened.Add(1)
		case http.StateClosed:
			ct.closed.Add(1)
		}
	}
	ct.Start()
	t.Cleanup(ct.Close)
	return ct
}

func (ct *countingTarget) backend(t *testing.T) *backendServer {
	return &backendServer{name: "c", addr: mustAddrPort(t, ct.URL)}
}

// servePlane serves one load balancer forwarding everything to tb and
// returns its URL.
func servePlane(t *testing.T, p *Plane, tb *backendServer) string {
	t.Helper()
	addr := testAddr(t)
	if err := p.Apply(oneLB(addr, 8080, []Rule{{ARN: "d", Action: forwardTo("tg")}}, targetGroup("tg", tb))); err != nil {
		t.Fatal(err)
	}
	return "http://" + addr.String() + ":8080"
}

func TestDirectPathHeaders(t *testing.T) {
	t.Parallel()
	target := newCountingTarget(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	base := servePlane(t, newPlane(t), target.backend(t))
	traceID := regexp.MustCompile(`^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$`)
	cases := []struct {
		name   string
		header map[string]string
		check  func(t *testing.T, h http.Header)
	}{
		{"X-Forwarded-* are ALB's", map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Port": "443"},
			func(t *testing.T, h http.Header) {
				if h.Get("X-Forwarded-For") != "127.0.0.1" || h.Get("X-Forwarded-Proto") != "http" || h.Get("X-Forwarded-Port") != "8080" {
					t.Errorf("forwarded headers %v", h)
				}
				if got := h.Values("X-Forwarded-Proto"); len(got) != 1 {
					t.Errorf("X-Forwarded-Proto sent %d times", len(got))
				}
			}},
		{"X-Forwarded-For appends the client", map[string]string{"X-Forwarded-For": "203.0.113.9"},
			func(t *testing.T, h http.Header) {
				if got := h.Get("X-Forwarded-For"); got != "203.0.113.9, 127.0.0.1" {
					t.Errorf("X-Forwarded-For %q", got)
				}
			}},
		{"a new trace ID", nil, func(t *testing.T, h http.Header) {
			if got := h.Get("X-Amzn-Trace-Id"); !traceID.MatchString(got) {
				t.Errorf("trace ID %q", got)
			}
		}},
		{"the client's trace ID is kept", map[string]string{"X-Amzn-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793"},
			func(t *testing.T, h http.Header) {
				if got := h.Values("X-Amzn-Trace-Id"); len(got) != 1 || got[0] != "Root=1-5759e988-bd862e3fe1be46a994272793" {
					t.Errorf("trace ID %q", got)
				}
			}},
		{"hop-by-hop headers stay", map[string]string{"Connection": "X-Secret", "X-Secret": "1", "Keep-Alive": "timeout=5", "X-Kept": "yes"},
			func(t *testing.T, h http.Header) {
				if h.Get("X-Secret") != "" || h.Get("Keep-Alive") != "" || h.Get("Connection") != "" || h.Get("X-Kept") != "yes" {
					t.Errorf("target saw %v", h)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, base+"/path?q=1", nil)
			req.Host = "shop.test"
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			resp, err := noRedirects().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			seen := target.seen.Load()
			if seen.Host != "shop.test" || seen.RequestURI != "/path?q=1" {
				t.Errorf("target got host %q, URI %q", seen.Host, seen.RequestURI)
			}
			tc.check(t, seen.Header)
		})
	}
}

// TestDirectPathReusesConnections: sequential requests share one
// connection to the target, HEAD and 204 answers (no body) included.
func TestDirectPathReusesConnections(t *testing.T) {
	t.Parallel()
	target := newCountingTarget(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/empty" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Length", "4")
		io.WriteString(w, "body")
	})
	base := servePlane(t, newPlane(t), target.backend(t))
	client := noRedirects()
	for i, tc := range []struct{ method, path, body string }{
		{"GET", "/", "body"}, {"HEAD", "/", ""}, {"GET", "/empty", ""}, {"GET", "/", "body"}, {"OPTIONS", "/", "body"}, {"GET", "/", "body"},
	} {
		req, _ := http.NewRequest(tc.method, base+tc.path, nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != tc.body {
			t.Fatalf("request %d (%s %s): body %q, want %q", i, tc.method, tc.path, body, tc.body)
		}
	}
	if n := target.opened.Load(); n != 1 {
		t.Fatalf("target saw %d connections, want 1", n)
	}
}

// TestDirectPathRetriesClosedConnection: a target that closes each
// connection after its answer, without saying so; the pooled connection
// fails before any byte of an answer and the request goes on a new one.
func TestDirectPathRetriesClosedConnection(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var accepted atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			go func() {
				defer c.Close()
				r, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil {
					return
				}
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: "+strconv.Itoa(len(r.URL.Path))+"\r\n\r\n"+r.URL.Path)
			}()
		}
	}()
	tb := &backendServer{name: "closing", addr: netip.MustParseAddrPort(ln.Addr().String())}
	base := servePlane(t, newPlane(t), tb)
	for _, path := range []string{"/one", "/two", "/three"} {
		status, body, _ := get(t, noRedirects(), base+path)
		if status != 200 || body != path {
			t.Fatalf("%s: %d %q", path, status, body)
		}
		time.Sleep(20 * time.Millisecond) // let the target's close arrive
	}
	if n := accepted.Load(); n != 3 {
		t.Fatalf("target accepted %d connections, want 3", n)
	}
}

// TestDirectPathSkipsInformationalAnswers: a 103 Early Hints before the
// answer is not taken for it.
func TestDirectPathSkipsInformationalAnswers(t *testing.T) {
	t.Parallel()
	target := newCountingTarget(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		io.WriteString(w, "final")
	})
	base := servePlane(t, newPlane(t), target.backend(t))
	for range 2 {
		if status, body, _ := get(t, noRedirects(), base+"/"); status != 200 || body != "final" {
			t.Fatalf("got %d %q", status, body)
		}
	}
}

// TestDeregisteredTargetConnectionsClose: the idle connections to a target
// that leaves its group are closed.
func TestDeregisteredTargetConnectionsClose(t *testing.T) {
	t.Parallel()
	target := newCountingTarget(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	other := newBackend(t, "other")
	p := newPlane(t)
	base := servePlane(t, p, target.backend(t))
	if status, _, _ := get(t, noRedirects(), base+"/"); status != 200 {
		t.Fatalf("got %d", status)
	}
	addr := netip.MustParseAddr(strings.TrimSuffix(strings.TrimPrefix(base, "http://"), ":8080"))
	if err := p.Apply(oneLB(addr, 8080, []Rule{{ARN: "d", Action: forwardTo("tg")}}, targetGroup("tg", other))); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for target.closed.Load() < target.opened.Load() {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d connections to the removed target still open", target.opened.Load()-target.closed.Load(), target.opened.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
