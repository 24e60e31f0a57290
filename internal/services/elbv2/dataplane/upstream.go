package dataplane

import (
	"bufio"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"sync/atomic"
	"time"
)

// The direct path forwards the common request — no body, a replayable
// method, a plain-HTTP target — on a keep-alive connection of the target's
// own pool, in the handler's goroutine: it writes the request line and
// headers straight into the connection's buffer and reads the answer with
// http.ReadResponse. http.Transport, which the other requests take, hands
// every request to a write goroutine and its answer back from a read
// goroutine; on a loopback those hand-offs cost more than the forwarding.
//
//	handler ──▶ backend.conns (idle keep-alive connections) ──▶ target
//	   ▲                                                         │
//	   └──────────── ReadResponse, copy body, put back ◀──────────┘

// maxIdlePerTarget bounds the idle connections kept to one target.
const maxIdlePerTarget = 256

// upstreamConn is a keep-alive connection to a target.
type upstreamConn struct {
	nc        net.Conn
	io        *idleIO // under br and bw; its idle is the load balancer's
	br        *bufio.Reader
	bw        *bufio.Writer
	flush     func() error // bw.Flush, bound once
	idleSince time.Time
	// answer is the head of the answer being read when the front reads
	// it in place; its slices point into br's buffer.
	answer responseHead
}

func (c *upstreamConn) close() { c.nc.Close() }

// connPool holds a target's idle connections. A buffered channel bounds
// the pool and needs no lock of ours around get and put.
type connPool struct {
	idle    chan *upstreamConn
	retired atomic.Bool
}

func newConnPool() *connPool { return &connPool{idle: make(chan *upstreamConn, maxIdlePerTarget)} }

// get returns an idle connection that has not outlived idleTimeout and
// has nothing to read (see rawIO.quiet), or nil.
func (p *connPool) get(idleTimeout time.Duration, now time.Time) *upstreamConn {
	for {
		select {
		case c := <-p.idle:
			if now.Sub(c.idleSince) < idleTimeout && c.io.quiet() {
				return c
			}
			c.close()
		default:
			return nil
		}
	}
}

// put keeps a connection for the next request, or closes it when the
// pool is full or its target is gone.
func (p *connPool) put(c *upstreamConn, now time.Time) {
	if c.br.Buffered() > 0 { // more than the answer came: the connection is out of step
		c.close()
		return
	}
	c.idleSince = now
	select {
	case p.idle <- c:
	default:
		c.close()
	}
	if p.retired.Load() {
		p.closeIdle()
	}
}

// retire closes the idle connections of a target that left the table, and
// those put back by requests still in flight.
func (p *connPool) retire() {
	p.retired.Store(true)
	p.closeIdle()
}

func (p *connPool) closeIdle() {
	for {
		select {
		case c := <-p.idle:
			c.close()
		default:
			return
		}
	}
}

var upstreamDialer = &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}

func dialUpstream(addr netip.AddrPort) (*upstreamConn, error) {
	nc, err := upstreamDialer.Dial("tcp", addr.String())
	if err != nil {
		return nil, err
	}
	io := newIdleIO(nc, defaultIdleTimeout)
	c := &upstreamConn{nc: nc, io: io, br: bufio.NewReaderSize(io, 8<<10), bw: bufio.NewWriterSize(io, 4<<10)}
	c.flush = c.bw.Flush
	return c, nil
}

// directPath reports whether a request may take the direct path: a
// request without a body whose method is safe to send again, so that a
// pooled connection the target closed meanwhile can be retried on a new
// one, as http.Transport does.
func directPath(r *http.Request, u *upstream) bool {
	return u.scheme == "http" && r.ContentLength == 0 &&
		(r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodOptions)
}

// errStaleConn marks a failure on a reused connection before any byte of
// the answer came: the target had closed it, and a new one may be tried.
var errStaleConn = errors.New("pooled connection closed by the target")

// roundTripDirect forwards r on a pooled connection of the target and
// copies the answer to w. Failures become ALB's 502 or 504. now is the
// plane's clock reading of the request, as the front's pool stamps use.
func (rt *lbRuntime) roundTripDirect(w http.ResponseWriter, r *http.Request, u *upstream, pool *connPool, addr netip.AddrPort, now time.Time) {
	c, resp, err := send(outgoing{req: r, u: u}, pool, addr, rt.cfg.IdleTimeout, now)
	if err != nil {
		upstreamError(w, r, err)
		return
	}
	if writeAnswer(w, resp) == nil && !resp.Close {
		resp.Body.Close() // at its end already: returns at once
		pool.put(c, now)
		return
	}
	c.close()
}

// outgoing is a request the direct path sends: one net/http parsed
// (req), or one whose head the front parsed in place (head).
type outgoing struct {
	req  *http.Request
	head *requestHead
	u    *upstream
}

// headRequest stands for a HEAD request the front parsed in place when
// net/http reads the answer: its body is empty whatever the head says.
var headRequest = &http.Request{Method: http.MethodHead}

// netRequest is the request net/http reads the answer to out for.
func (out outgoing) netRequest() *http.Request {
	if out.req != nil {
		return out.req
	}
	if string(out.head.method) == http.MethodHead {
		return headRequest
	}
	return nil
}

// replayable reports whether out may be sent again after a pooled
// connection failed under it. net/http's requests here are (directPath).
func (out outgoing) replayable() bool { return out.head == nil || out.head.replayable }

func (out outgoing) write(bw *bufio.Writer, now time.Time) {
	if out.req != nil {
		writeRequest(bw, out.req, out.u, now)
		return
	}
	writeRequestHead(bw, out.head, out.u, now)
}

// send writes a request on a pooled connection, or on a new one when the
// pool is empty or the pooled one turns out to be closed, and reads the
// head of the answer: into c.answer (resp nil) when the request is the
// front's and the answer has the common shape, else with net/http. The
// connection is the caller's until it puts it back. now is when the
// request started: one clock reading serves the whole request.
func send(out outgoing, pool *connPool, addr netip.AddrPort, idle time.Duration, now time.Time) (c *upstreamConn, resp *http.Response, err error) {
	if c = pool.get(idle, now); c != nil {
		resp, err = exchange(c, out, idle, now, true)
		if err == nil {
			return c, resp, nil
		}
		c.close()
		if !errors.Is(err, errStaleConn) || !out.replayable() {
			return nil, nil, err
		}
	}
	if c, err = dialUpstream(addr); err != nil {
		return nil, nil, err
	}
	if resp, err = exchange(c, out, idle, now, false); err != nil {
		c.close()
		return nil, nil, err
	}
	return c, resp, nil
}

// exchange writes the request on c and reads the head of the final answer
// (informational 1xx answers are skipped) within the idle timeout.
func exchange(c *upstreamConn, out outgoing, idle time.Duration, now time.Time, reused bool) (*http.Response, error) {
	c.io.idle = idle
	out.write(c.bw, now)
	var err error
	if c.br.Buffered() == 0 {
		c.io.before = c.flush // sent from the read that waits for the answer
	} else {
		err = c.bw.Flush() // cannot be: a pooled connection has nothing unread
	}
	if err == nil {
		_, err = c.br.Peek(1)
	}
	if err != nil {
		if reused && !isTimeout(err) {
			return nil, errStaleConn
		}
		return nil, err
	}
	if out.head != nil {
		n, err := peekHead(c.br)
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return nil, err
		}
		if head, _ := c.br.Peek(n); err == nil && parseResponseHead(head, out.netRequest() == headRequest, &c.answer) {
			c.answer.length = n
			return nil, nil
		}
	}
	for {
		resp, err := http.ReadResponse(c.br, out.netRequest())
		if err != nil {
			return nil, err
		}
		switch {
		case resp.StatusCode == http.StatusSwitchingProtocols:
			return nil, errors.New("target switched protocols unasked")
		case resp.StatusCode >= 200:
			return resp, nil
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// isForwardedHeader reports whether a header is one of the client's that
// ALB replaces with its own.
func isForwardedHeader(k string) bool {
	return k == "X-Forwarded-For" || k == "X-Forwarded-Proto" || k == "X-Forwarded-Port"
}

// writeRequest writes the request line and headers r goes to its target
// with: the client's end-to-end headers, then ALB's X-Forwarded-* and,
// unless the client sent one, a new X-Amzn-Trace-Id. Header names and
// values were checked by the server that parsed r.
func writeRequest(bw *bufio.Writer, r *http.Request, u *upstream, now time.Time) {
	bw.WriteString(r.Method)
	bw.WriteByte(' ')
	bw.WriteString(requestURI(r))
	host := r.Host
	if host == "" {
		host = u.host
	}
	writeHeader(bw, " HTTP/1.1\r\nHost", host)
	drop := connectionTokens(r.Header)
	traced := false
	for k, vs := range r.Header {
		if isHopHeader(k) || drop[k] || isForwardedHeader(k) {
			continue
		}
		if k == "X-Amzn-Trace-Id" {
			if len(vs) == 0 || vs[0] == "" {
				continue
			}
			traced = true
		}
		for _, v := range vs {
			writeHeader(bw, k, v)
		}
	}
	writeForwarded(bw, u, r.Header["X-Forwarded-For"], traced, now)
}

// writeRequestHead writes a request the front parsed in place as
// writeRequest does (h.fields are already the end-to-end ones), then its
// body.
func writeRequestHead(bw *bufio.Writer, h *requestHead, u *upstream, now time.Time) {
	bw.Write(h.method)
	bw.WriteByte(' ')
	bw.Write(h.target)
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.Write(h.host)
	bw.WriteString("\r\n")
	writeFields(bw, h.fields)
	writeForwarded(bw, u, h.forwardedFor, h.traced, now)
	bw.Write(h.body)
}

// writeForwarded ends a request head with ALB's X-Forwarded-* fields and,
// unless the client sent one (traced), a new X-Amzn-Trace-Id.
func writeForwarded[T string | []byte](bw *bufio.Writer, u *upstream, priorXFF []T, traced bool, now time.Time) {
	xff := append(bw.AvailableBuffer(), "X-Forwarded-For: "...)
	if line := appendForwardedFor(xff, &u.listener.lb.cfg, priorXFF, u.client); len(line) > len(xff) {
		bw.Write(append(line, "\r\n"...))
	}
	writeHeader(bw, "X-Forwarded-Proto", u.listener.proto)
	writeHeader(bw, "X-Forwarded-Port", u.listener.port)
	if !traced {
		bw.WriteString("X-Amzn-Trace-Id: ")
		bw.Write(appendTraceID(bw.AvailableBuffer(), now))
		bw.WriteString("\r\n")
	}
	bw.WriteString("\r\n")
}

// writeFields writes header fields as they came.
func writeFields(bw *bufio.Writer, fields []field) {
	for _, f := range fields {
		bw.Write(f.name)
		bw.WriteString(": ")
		bw.Write(f.value)
		bw.WriteString("\r\n")
	}
}

func writeHeader(bw *bufio.Writer, name, value string) {
	bw.WriteString(name)
	bw.WriteString(": ")
	bw.WriteString(value)
	bw.WriteString("\r\n")
}

// requestURI is the target of the request line: as the client sent it in
// origin form, otherwise (absolute form) rebuilt from the URL.
func requestURI(r *http.Request) string {
	if uri := r.RequestURI; uri != "" && (uri[0] == '/' || uri == "*") {
		return uri
	}
	return r.URL.RequestURI()
}

// appendTraceID appends an X-Amzn-Trace-Id value,
// Root=1-<epoch seconds, 8 hex>-<24 hex>. The random part needs no
// cryptographic strength, only to be unique.
func appendTraceID(dst []byte, now time.Time) []byte {
	dst = append(dst, "Root=1-"...)
	dst = appendHex(dst, uint64(uint32(now.Unix())), 8)
	dst = append(dst, '-')
	dst = appendHex(dst, uint64(rand.Uint32()), 8)
	return appendHex(dst, rand.Uint64(), 16)
}

// appendHex appends the digits lowest digits of v in hex, zero-padded.
func appendHex(dst []byte, v uint64, digits int) []byte {
	const hexDigits = "0123456789abcdef"
	for i := digits - 1; i >= 0; i-- {
		dst = append(dst, hexDigits[(v>>(4*i))&0xf])
	}
	return dst
}
