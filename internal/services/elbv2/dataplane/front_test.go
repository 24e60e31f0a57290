package dataplane

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestFrontHandsOffMidConnection sends, on one keep-alive connection,
// requests the front serves and requests it hands to net/http (a body, a
// fixed response), some pipelined in one write: every answer comes, in
// order, and the ones after the hand-off too.
func TestFrontHandsOffMidConnection(t *testing.T) {
	t.Parallel()
	target := newCountingTarget(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		io.WriteString(w, r.Method+" "+r.URL.Path+" "+string(body))
	})
	addr := testAddr(t)
	p := newPlane(t)
	rules := []Rule{
		{ARN: "sorry", Conditions: []Condition{{Field: "path-pattern", Values: []string{"/sorry"}}},
			Action: Action{Type: ActionFixedResponse, Fixed: &FixedResponse{StatusCode: 503, Body: "maintenance"}}},
		{ARN: "d", Action: forwardTo("tg")},
	}
	if err := p.Apply(oneLB(addr, 8080, rules, targetGroup("tg", target.backend(t)))); err != nil {
		t.Fatal(err)
	}
	conn := dialFor(t, addr.String()+":8080", 10*time.Second)
	br := bufio.NewReader(conn)
	get := func(path string) string { return "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n" }
	post := "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\ndata"
	steps := []struct {
		name  string
		write string
		want  []string
	}{
		{"direct", get("/a"), []string{"GET /a "}},
		{"direct again", get("/b"), []string{"GET /b "}},
		{"a fixed response", get("/sorry"), []string{"maintenance"}},
		{"pipelined, a body in the middle", get("/c") + post + get("/d"), []string{"GET /c ", "POST /p data", "GET /d "}},
		{"after the hand-off", get("/e"), []string{"GET /e "}},
	}
	for _, step := range steps {
		if _, err := io.WriteString(conn, step.write); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		for _, want := range step.want {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("%s: %v", step.name, err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || string(body) != want {
				t.Fatalf("%s: answer %q (%v), want %q", step.name, body, err, want)
			}
		}
	}
	if n := target.opened.Load(); n > 2 {
		t.Fatalf("target saw %d connections, want at most 2 (direct pool, net/http's pool)", n)
	}
}

// TestFrontAnswersHeadAndChunked: HEAD keeps its Content-Length without a
// body; a body without a length is passed on chunked, trailers included.
func TestFrontAnswersHeadAndChunked(t *testing.T) {
	t.Parallel()
	target := newCountingTarget(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/chunked" {
			w.Header().Set("Trailer", "X-Sum")
			io.WriteString(w, "part1-")
			http.NewResponseController(w).Flush()
			io.WriteString(w, "part2")
			w.Header().Set("X-Sum", "42")
			return
		}
		w.Header().Set("Content-Length", "5")
		io.WriteString(w, "hello")
	})
	base := servePlane(t, newPlane(t), target.backend(t))
	client := noRedirects()
	resp, err := client.Head(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ContentLength != 5 {
		t.Fatalf("HEAD: %d, length %d", resp.StatusCode, resp.ContentLength)
	}
	resp, err = client.Get(base + "/chunked")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "part1-part2" || resp.Trailer.Get("X-Sum") != "42" || len(resp.TransferEncoding) == 0 {
		t.Fatalf("chunked: body %q, trailer %v, transfer encoding %v", body, resp.Trailer, resp.TransferEncoding)
	}
	if status, body, _ := get(t, client, base+"/"); status != 200 || body != "hello" {
		t.Fatalf("after HEAD and chunked: %d %q", status, body)
	}
}

// TestFrontClosesIdleConnectionsOfARemovedListener: a keep-alive client
// connection to a listener that goes away is closed once idle.
func TestFrontClosesIdleConnectionsOfARemovedListener(t *testing.T) {
	t.Parallel()
	target := newCountingTarget(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	p := newPlane(t)
	base := servePlane(t, p, target.backend(t))
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	if err := p.Apply(Config{}); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := br.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read %d bytes, %v; want the connection closed", n, err)
	}
}

// TestFrontBareLineFeeds: heads whose lines end in a bare LF (which
// net/http accepts), pipelined, are each answered once.
func TestFrontBareLineFeeds(t *testing.T) {
	t.Parallel()
	target := newCountingTarget(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.URL.Path) })
	base := servePlane(t, newPlane(t), target.backend(t))
	conn := dialFor(t, strings.TrimPrefix(base, "http://"), 10*time.Second)
	io.WriteString(conn, "GET /lf HTTP/1.1\nHost: x\n\nGET /crlf HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(conn)
	for _, want := range []string{"/lf", "/crlf"} {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != want {
			t.Fatalf("answer %q, want %q", body, want)
		}
	}
}

// TestFrontCopiesAnswersInPlace: answers the front copies as they came
// lose their hop-by-hop fields; one the target ends with Connection: close
// keeps the client's connection; one cut short closes it; a head longer
// than the upstream buffer is still served (by net/http's reader).
func TestFrontCopiesAnswersInPlace(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("b", 9<<10)
	answers := map[string]string{
		"/hop":   "HTTP/1.1 200 OK\r\nKeep-Alive: timeout=1\r\nX-A: 1\r\nContent-Length: 3\r\n\r\nhop",
		"/close": "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\nclose",
		"/short": "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
		"/big":   "HTTP/1.1 200 OK\r\nX-Big: " + big + "\r\nContent-Length: 3\r\n\r\nbig",
		// More than the answer: what follows it must reach no one.
		"/poison":   "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nPOISON",
		"/noreason": "HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok",
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					r, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					answer := answers[r.URL.Path]
					if r.Method == http.MethodHead && r.URL.Path == "/poison" {
						// The stray answer comes once the connection is back in the pool.
						head, stray, _ := strings.Cut(answer, "\r\n\r\n")
						io.WriteString(c, head+"\r\n\r\n")
						time.Sleep(50 * time.Millisecond)
						answer = stray
					}
					io.WriteString(c, answer)
					if r.URL.Path == "/close" || r.URL.Path == "/short" {
						return
					}
				}
			}()
		}
	}()
	tb := &backendServer{name: "raw", addr: mustAddrPort(t, "http://"+ln.Addr().String())}
	addr := testAddr(t)
	p := newPlane(t)
	if err := p.Apply(oneLB(addr, 8080, []Rule{{ARN: "d", Action: forwardTo("tg")}}, targetGroup("tg", tb))); err != nil {
		t.Fatal(err)
	}
	conn := dialFor(t, addr.String()+":8080", 10*time.Second)
	br := bufio.NewReader(conn)
	get := func(path string) (*http.Response, string, error) {
		if _, err := io.WriteString(conn, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			return nil, "", err
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return nil, "", err
		}
		body, err := io.ReadAll(resp.Body)
		return resp, string(body), err
	}
	resp, body, err := get("/hop")
	if err != nil || body != "hop" || resp.Header.Get("X-A") != "1" || resp.Header.Get("Keep-Alive") != "" {
		t.Fatalf("/hop: %v %q %v", err, body, resp.Header)
	}
	if _, body, err := get("/close"); err != nil || body != "close" {
		t.Fatalf("/close: %v %q", err, body)
	}
	if resp, body, err := get("/big"); err != nil || body != "big" || resp.Header.Get("X-Big") != big {
		t.Fatalf("/big after /close: %v %q", err, body)
	}
	for _, method := range []string{"GET", "HEAD"} { // with the stray answer at once, and late
		if _, err := io.WriteString(conn, method+" /poison HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		if resp, err := http.ReadResponse(br, &http.Request{Method: method}); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s /poison: %v", method, err)
		} else {
			io.Copy(io.Discard, resp.Body)
		}
	}
	time.Sleep(100 * time.Millisecond)
	for i := range 3 { // whichever pooled connection they take, no one gets the stray answer
		if _, body, err := get("/hop"); err != nil || body != "hop" {
			t.Fatalf("GET %d after a HEAD answered with a body: %q, %v", i, body, err)
		}
	}
	if resp, body, err := get("/noreason"); err != nil || body != "ok" || resp.Status != "200 OK" {
		t.Fatalf("/noreason: %v %q %v", err, body, resp)
	}
	if _, body, err := get("/short"); err == nil {
		t.Fatalf("/short: the client got all of %q", body)
	}
	if _, err := br.ReadByte(); err == nil {
		t.Fatal("the connection of a cut-short answer stayed open")
	}
}

// TestFrontHeadErrorHasNoBody: ALB's own 502 to a HEAD request has a
// head only, so the answer to the next request on the connection parses.
func TestFrontHeadErrorHasNoBody(t *testing.T) {
	t.Parallel()
	gone := targetGroup("tg")
	gone.Targets = []Target{{Key: "127.0.0.1:1", Addr: netip.MustParseAddrPort("127.0.0.1:1")}}
	addr := testAddr(t)
	p := newPlane(t)
	if err := p.Apply(oneLB(addr, 8080, []Rule{{ARN: "d", Action: forwardTo("tg")}}, gone)); err != nil {
		t.Fatal(err)
	}
	conn := dialFor(t, addr.String()+":8080", 10*time.Second)
	io.WriteString(conn, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(conn)
	for _, method := range []string{"HEAD", "GET"} {
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil || resp.StatusCode != 502 {
			t.Fatalf("%s: %v %v", method, err, resp)
		}
		io.Copy(io.Discard, resp.Body)
	}
}

// TestFrontTimesOutAStalledBody: a target that stops mid-body for the idle
// timeout loses the request, and the client's connection closes, as ALB
// does with a connection on which no data moved for that long.
func TestFrontTimesOutAStalledBody(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		http.ReadRequest(bufio.NewReader(c))
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
		time.Sleep(5 * time.Second) // stalled
	}()
	tb := &backendServer{name: "stall", addr: mustAddrPort(t, "http://"+ln.Addr().String())}
	addr := testAddr(t)
	p := newPlane(t)
	cfg := oneLB(addr, 8080, []Rule{{ARN: "d", Action: forwardTo("tg")}}, targetGroup("tg", tb))
	cfg.LoadBalancers[0].IdleTimeout = 200 * time.Millisecond
	if err := p.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	conn := dialFor(t, addr.String()+":8080", 3*time.Second)
	io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	start := time.Now()
	got, err := io.ReadAll(conn)
	if err != nil {
		t.Fatalf("the connection did not close within 3 s: %v (got %q)", err, got)
	}
	if waited := time.Since(start); waited < 200*time.Millisecond {
		t.Fatalf("closed after %v, before the idle timeout", waited)
	}
	if !strings.HasSuffix(string(got), "\r\n\r\nabc") {
		t.Fatalf("got %q, want the answer up to where the target stalled", got)
	}
}

// TestFrontForwardsBodies: a request body held whole in the front's buffer
// is forwarded by the front, also when it arrives after its head; a body
// too big for the buffer goes, with its connection, to net/http.
func TestFrontForwardsBodies(t *testing.T) {
	t.Parallel()
	target := newCountingTarget(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %d %d", r.Method, r.URL.Path, r.ContentLength, len(body))
	})
	addr := testAddr(t)
	p := newPlane(t)
	if err := p.Apply(oneLB(addr, 8080, []Rule{{ARN: "d", Action: forwardTo("tg")}}, targetGroup("tg", target.backend(t)))); err != nil {
		t.Fatal(err)
	}
	conn := dialFor(t, addr.String()+":8080", 10*time.Second)
	br := bufio.NewReader(conn)
	request := func(method, path string, size int) (head, body string) {
		return fmt.Sprintf("%s %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", method, path, size), strings.Repeat("b", size)
	}
	expect := func(want string) {
		t.Helper()
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		if string(got) != want {
			t.Fatalf("answer %q, want %q", got, want)
		}
	}
	head, body := request("POST", "/whole", 512)
	io.WriteString(conn, head+body)
	expect("POST /whole 512 512")
	head, body = request("PUT", "/split", 1000)
	io.WriteString(conn, head+body[:300])
	time.Sleep(20 * time.Millisecond)
	io.WriteString(conn, body[300:])
	expect("PUT /split 1000 1000")
	head, body = request("POST", "/big", 6000)
	io.WriteString(conn, head+body)
	expect("POST /big 6000 6000")
	io.WriteString(conn, "GET /after HTTP/1.1\r\nHost: x\r\n\r\n")
	expect("GET /after 0 0")
}

// dialFor connects to a listener; the connection gives up after d and
// closes with the test.
func dialFor(t *testing.T, addr string, d time.Duration) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(d))
	return conn
}

// TestFrontServesTLS: on an HTTPS listener the front terminates TLS and
// serves HTTP/1.1 requests as on a plain one (X-Forwarded-Proto https),
// handing the session to net/http at the first request it does not take.
func TestFrontServesTLS(t *testing.T) {
	t.Parallel()
	target := newCountingTarget(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.URL.Path+" "+r.Header.Get("X-Forwarded-Proto")+" "+r.Header.Get("X-Forwarded-Port"))
	})
	addr := testAddr(t)
	p := newPlane(t)
	cfg := httpsLB(addr, DefaultSSLPolicy, selfSigned(t, "web.test"), targetGroup("tg", target.backend(t)))
	cfg.LoadBalancers[0].Listeners[0].Rules = []Rule{
		{ARN: "sorry", Conditions: []Condition{{Field: "path-pattern", Values: []string{"/sorry"}}},
			Action: Action{Type: ActionFixedResponse, Fixed: &FixedResponse{StatusCode: 503, Body: "maintenance"}}},
		{ARN: "d", Action: forwardTo("tg")},
	}
	if err := p.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	conn, err := tls.Dial("tcp", addr.String()+":8443", &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(conn)
	io.WriteString(conn, "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /sorry HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n")
	for _, want := range []string{"/a https 8443", "maintenance", "/b https 8443"} {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		if string(body) != want {
			t.Fatalf("answer %q, want %q", body, want)
		}
	}
}
