package dataplane

import (
	"bufio"
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/net/http/httpguts"
)

// TestParseRequestHead: the heads the front serves itself are parsed with
// their end-to-end fields; every other shape is refused, to be served by
// net/http from the same bytes.
func TestParseRequestHead(t *testing.T) {
	h := requestHead{}
	head := "GET /a/b?x=%41 HTTP/1.1\r\nhost: web.example\r\nAccept: */*\r\nConnection: keep-alive\r\n" +
		"Keep-Alive: 5\r\nX-Forwarded-For: 10.0.0.1\r\nx-forwarded-for: 10.0.0.2\r\nX-Forwarded-Proto: https\r\n" +
		"X-Amzn-Trace-Id: Root=1-abc\r\nCookie:  a=b \r\nContent-Length: 0\r\n\r\n"
	if !parseRequestHead([]byte(head), &h) {
		t.Fatalf("refused %q", head)
	}
	var fields []string
	for _, f := range h.fields {
		fields = append(fields, string(f.name)+"="+string(f.value))
	}
	got := strings.Join([]string{string(h.method), string(h.target), string(h.host), strings.Join(fields, ","),
		string(bytes.Join(h.forwardedFor, []byte("|")))}, " ")
	want := "GET /a/b?x=%41 web.example Accept=*/*,X-Amzn-Trace-Id=Root=1-abc,Cookie=a=b,Content-Length=0 10.0.0.1|10.0.0.2"
	if got != want || !h.traced {
		t.Fatalf("parsed %q traced %v\nwant   %q traced true", got, h.traced, want)
	}

	for _, c := range []struct {
		head       string
		length     int64
		replayable bool
	}{
		{"POST /api HTTP/1.1\r\nHost: x\r\nContent-Length: 512\r\n\r\n", 512, false},
		{"PUT /api HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nIdempotency-Key: k1\r\n\r\n", 3, true},
		{"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n", 3, true},
		{"DELETE /a HTTP/1.1\r\nHost: x\r\n\r\n", 0, false},
	} {
		if !parseRequestHead([]byte(c.head), &h) || h.bodyLength != c.length || h.replayable != c.replayable {
			t.Errorf("%q: body %d replayable %v, want %d %v", c.head, h.bodyLength, h.replayable, c.length, c.replayable)
		}
	}

	refused := map[string]string{
		"chunked":               "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
		"CONNECT":               "CONNECT / HTTP/1.1\r\nHost: x\r\n\r\n",
		"a bad method":          "G@T / HTTP/1.1\r\nHost: x\r\n\r\n",
		"a signed length":       "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\n",
		"HTTP/1.0":              "GET / HTTP/1.0\r\nHost: x\r\n\r\n",
		"absolute form":         "GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n",
		"no Host":               "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n",
		"empty Host":            "GET / HTTP/1.1\r\nHost:\r\n\r\n",
		"two Hosts":             "GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
		"Connection: close":     "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		"a Connection option":   "GET / HTTP/1.1\r\nHost: x\r\nConnection: X-Secret\r\nX-Secret: 1\r\n\r\n",
		"an upgrade":            "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n",
		"Expect":                "GET / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n",
		"a bare LF":             "GET / HTTP/1.1\nHost: x\r\n\r\n",
		"a bare CR":             "GET / HTTP/1.1\r\nHost: x\ry\r\n\r\n",
		"a folded line":         "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n 2\r\n\r\n",
		"a space in a name":     "GET / HTTP/1.1\r\nHost: x\r\nX A: 1\r\n\r\n",
		"a control in a value":  "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\x002\r\n\r\n",
		"a bad escape":          "GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n",
		"a space in the target": "GET /a b HTTP/1.1\r\nHost: x\r\n\r\n",
		"cut short":             "GET / HTTP/1.1\r\nHost: x\r\n",
		"a space in Host":       "GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
		"a path in Host":        "GET / HTTP/1.1\r\nHost: evil.com/x?\r\n\r\n",
		"non-ASCII Host":        "GET / HTTP/1.1\r\nHost: x\x80y\r\n\r\n",
		"two Content-Lengths":   "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\ncontent-length: 0\r\n\r\n",
		"two trace IDs":         "GET / HTTP/1.1\r\nHost: x\r\nX-Amzn-Trace-Id:\r\nX-Amzn-Trace-Id: Root=1-a\r\n\r\n",
	}
	for name, head := range refused {
		if parseRequestHead([]byte(head), &h) {
			t.Errorf("%s: taken: %q", name, head)
		}
	}
}

// TestParseResponseHead: answers framed by one Content-Length (or with no
// body) are copied as they came, minus hop-by-hop fields; the rest is
// refused, for net/http to read.
func TestParseResponseHead(t *testing.T) {
	var h responseHead
	head := "HTTP/1.1 201 Created\r\nContent-Type: text/plain\r\nConnection: close\r\nKeep-Alive: timeout=5\r\n" +
		"Content-Length: 5\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n"
	if !parseResponseHead([]byte(head), false, &h) {
		t.Fatalf("refused %q", head)
	}
	var fields []string
	for _, f := range h.fields {
		fields = append(fields, string(f.name)+"="+string(f.value))
	}
	if got := strings.Join(fields, ","); h.status != 201 || string(h.statusLine) != "HTTP/1.1 201 Created" ||
		got != "Content-Type=text/plain,Content-Length=5,Set-Cookie=a=1,Set-Cookie=b=2" || h.contentLength != 5 || !h.close {
		t.Fatalf("parsed %d %q %q length %d close %v", h.status, h.statusLine, got, h.contentLength, h.close)
	}

	bodiless := map[string]struct {
		head   string
		isHead bool
	}{
		"204":                 {"HTTP/1.1 204 No Content\r\n\r\n", false},
		"304 with a length":   {"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", false},
		"HEAD with a length":  {"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", true},
		"no reason phrase":    {"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", false},
		"HEAD without length": {"HTTP/1.1 200 OK\r\n\r\n", true},
	}
	for name, c := range bodiless {
		if !parseResponseHead([]byte(c.head), c.isHead, &h) || h.contentLength != 0 {
			t.Errorf("%s: refused or has a body: %q", name, c.head)
		}
	}

	refused := map[string]string{
		"no length":           "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n",
		"chunked":             "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
		"two lengths":         "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
		"a bad length":        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.0":            "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n",
		"informational":       "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n",
		"switching protocols": "HTTP/1.1 101 Switching Protocols\r\n\r\n",
		"a four-digit status": "HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n",
		"a Connection option": "HTTP/1.1 200 OK\r\nConnection: X-A\r\nContent-Length: 0\r\n\r\n",
		"trailers announced":  "HTTP/1.1 200 OK\r\nTrailer: X-Sum\r\nContent-Length: 0\r\n\r\n",
		"a bare LF":           "HTTP/1.1 200 OK\nContent-Length: 0\n\n",
	}
	for name, head := range refused {
		if parseResponseHead([]byte(head), false, &h) {
			t.Errorf("%s: taken: %q", name, head)
		}
	}
}

// TestPeekHead: a head is found whatever its line ends, and only once all
// of it is buffered; one longer than the buffer is reported.
func TestPeekHead(t *testing.T) {
	for _, c := range []struct{ in, head string }{
		{"GET / HTTP/1.1\r\nHost: x\r\n\r\nbody", "GET / HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"HTTP/1.1 200 OK\nA: b\n\nbody", "HTTP/1.1 200 OK\nA: b\n\n"},
		{"HTTP/1.1 200 OK\r\nA: b\n\r\nbody", "HTTP/1.1 200 OK\r\nA: b\n\r\n"},
	} {
		br := bufio.NewReaderSize(&oneByteReader{s: c.in}, 64)
		n, err := peekHead(br)
		if err != nil || n != len(c.head) {
			t.Errorf("%q: %d, %v; want %d", c.in, n, err, len(c.head))
		}
	}
	br := bufio.NewReaderSize(strings.NewReader("GET / HTTP/1.1\r\nX: "+strings.Repeat("a", 100)+"\r\n\r\n"), 32)
	if _, err := peekHead(br); err != bufio.ErrBufferFull {
		t.Errorf("long head: %v, want bufio.ErrBufferFull", err)
	}
}

// oneByteReader hands out its string a byte at a time, as a slow peer.
type oneByteReader struct{ s string }

func (r *oneByteReader) Read(p []byte) (int, error) {
	if r.s == "" {
		return 0, http.ErrBodyReadAfterClose
	}
	n := copy(p[:1], r.s)
	r.s = r.s[n:]
	return n, nil
}

// FuzzParseRequestHead: whatever head the front takes, net/http takes
// too, with the same method, target, host and body length; so the front
// never serves a request net/http would refuse or read otherwise.
func FuzzParseRequestHead(f *testing.F) {
	f.Add("GET /a?b=c HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n")
	f.Add("HEAD / HTTP/1.1\r\nhost: x:80\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n")
	f.Add("OPTIONS /%41 HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n")
	f.Add("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\n")
	f.Fuzz(func(t *testing.T, head string) {
		var h requestHead
		if !parseRequestHead([]byte(head), &h) {
			return
		}
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(head)))
		if err == nil && !httpguts.ValidHostHeader(r.Host) { // what net/http's server checks after reading
			err = errors.New("malformed Host header")
		}
		if err != nil {
			t.Fatalf("taken by the front, refused by net/http (%v): %q", err, head)
		}
		if r.Method != string(h.method) || r.RequestURI != string(h.target) || r.Host != string(h.host) ||
			r.ContentLength != h.bodyLength || r.Close || len(r.TransferEncoding) > 0 {
			t.Fatalf("the front and net/http disagree on %q: %s %s %s", head, r.Method, r.RequestURI, r.Host)
		}
	})
}

// FuzzParseResponseHead: whatever answer head the front copies, net/http
// reads too, with the same status, length and keep-alive.
func FuzzParseResponseHead(f *testing.F) {
	f.Add("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", false)
	f.Add("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n", false)
	f.Add("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", true)
	f.Fuzz(func(t *testing.T, head string, isHead bool) {
		var h responseHead
		if !parseResponseHead([]byte(head), isHead, &h) {
			return
		}
		req := &http.Request{Method: http.MethodGet}
		if isHead {
			req.Method = http.MethodHead
		}
		resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(head)), req)
		if err != nil {
			t.Fatalf("copied by the front, refused by net/http (%v): %q", err, head)
		}
		wantLength := resp.ContentLength
		if isHead || resp.StatusCode == 204 || resp.StatusCode == 304 {
			wantLength = 0
		}
		if resp.StatusCode != h.status || wantLength != h.contentLength || resp.Close != h.close {
			t.Fatalf("the front and net/http disagree on %q: %d %d %v", head, resp.StatusCode, resp.ContentLength, resp.Close)
		}
	})
}
