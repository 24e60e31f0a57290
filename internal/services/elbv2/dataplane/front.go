package dataplane

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The front serves the connections of a plain-HTTP listener. Its goroutine
// per connection reads each request head and, when the request is one the
// direct path takes (HTTP/1.1, any method but CONNECT, no body or one of a
// Content-Length that fits the read buffer beside its head, that a rule
// forwards to one plain-HTTP group without stickiness, on a load balancer
// without access logs), forwards it and writes the answer itself. At the
// first request it does not take, it hands the connection, with the bytes
// read but not served yet, to the socket's http.Server, which serves it
// from then on: other actions, chunked or large bodies, Expect, upgrades,
// h2c, HTTP/1.0. net/http's server spends per request a context, a
// goroutine watching the connection, a copy of the response headers and
// two deadline changes; the front spends none of them, which is most of
// what separates a Go proxy from nginx on a loopback.
//
//	accept ─▶ front conn ─ direct request ─▶ upstream pool ─▶ target
//	              │
//	              └─ any other request ─▶ handoffListener ─▶ http.Server
type front struct {
	p    *Plane
	key  socketKey
	idle time.Duration
	// tls, on an HTTPS socket, terminates its connections: HTTP/2 ones
	// (by ALPN) go to the http.Server at once, HTTP/1.1 ones are served
	// as on a plain socket.
	tls      *tls.Config
	handoff  *handoffListener
	closing  atomic.Bool
	mu       sync.Mutex
	conns    map[*frontConn]struct{}
	stopping bool
}

// frontConn is a client connection the front serves.
type frontConn struct {
	nc     net.Conn // as accepted: what closing it closes
	conn   net.Conn // what requests come on: nc, or its TLS session
	io     *idleIO  // on conn, under br and bw
	br     *bufio.Reader
	bw     *bufio.Writer
	client netip.AddrPort
	remote string
	// req is the head of the request being served; its slices point
	// into br's buffer.
	req requestHead
	// match reads a head again with net/http for rules with conditions.
	match *bufio.Reader
	idle  atomic.Bool
}

func newFront(p *Plane, key socketKey, idle time.Duration, tlsConfig *tls.Config, addr net.Addr) *front {
	return &front{p: p, key: key, idle: idle, tls: tlsConfig, conns: map[*frontConn]struct{}{},
		handoff: &handoffListener{conns: make(chan net.Conn), done: make(chan struct{}), addr: addr}}
}

// acceptLoop serves the connections of ln until it is closed.
func (f *front) acceptLoop(ln net.Listener) {
	for {
		nc, err := ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil { // out of file descriptors and the like: wait a little
			time.Sleep(50 * time.Millisecond)
			continue
		}
		go f.serve(nc)
	}
}

// serve runs one connection: direct requests here, until one is not.
func (f *front) serve(nc net.Conn) {
	fc := &frontConn{nc: nc, conn: nc, remote: nc.RemoteAddr().String()}
	fc.client = parseClientAddr(fc.remote)
	if !f.track(fc) {
		nc.Close()
		return
	}
	defer f.untrack(fc)
	if f.tls != nil {
		tc, err := f.handshake(nc)
		if err != nil {
			nc.Close()
			return
		}
		if tc.ConnectionState().NegotiatedProtocol == "h2" {
			f.handoff.give(tc)
			return
		}
		fc.conn = tc
	}
	fc.io = newIdleIO(fc.conn, f.idle)
	fc.br, fc.bw = bufio.NewReaderSize(fc.io, 4<<10), bufio.NewWriterSize(fc.io, 4<<10)
	for {
		fc.idle.Store(true)
		if f.closing.Load() {
			nc.Close()
			return
		}
		n, err := peekHead(fc.br)
		fc.idle.Store(false)
		if errors.Is(err, bufio.ErrBufferFull) { // a head longer than the buffer
			f.handOff(fc)
			return
		}
		if err != nil {
			nc.Close() // gone, or silent for the idle timeout
			return
		}
		if !f.serveDirect(fc, n) {
			f.handOff(fc)
			return
		}
	}
}

// handshake runs the TLS handshake of an HTTPS socket's connection
// within the idle timeout (at most 10 s).
func (f *front) handshake(nc net.Conn) (*tls.Conn, error) {
	tc := tls.Server(withRawIO(nc), f.tls)
	nc.SetDeadline(time.Now().Add(min(f.idle, 10*time.Second)))
	if err := tc.Handshake(); err != nil {
		return nil, err
	}
	nc.SetDeadline(time.Time{})
	return tc, nil
}

// serveDirect serves the request whose head is the first n buffered
// bytes when the direct path takes it, and reports whether it did; if
// not, nothing of the connection was read.
func (f *front) serveDirect(fc *frontConn, n int) bool {
	head, _ := fc.br.Peek(n)
	if !parseRequestHead(head, &fc.req) {
		return false
	}
	if body := fc.req.bodyLength; body > 0 {
		// Only a body that fits the buffer beside its head: held whole,
		// the request can be sent again if a pooled connection fails.
		if int64(n)+body > int64(fc.br.Size()) {
			return false
		}
		whole, err := fc.br.Peek(n + int(body))
		if err != nil {
			return false
		}
		if &whole[0] != &head[0] { // reading the body moved the head in the buffer
			parseRequestHead(whole[:n], &fc.req)
		}
		head, fc.req.body = whole[:n], whole[n:]
		n = len(whole)
	}
	t := f.p.table.Load()
	l := listenerFor(t, f.key, fc.req.host)
	if l == nil || l.lb.accessLog != nil {
		return false
	}
	rule := f.matchRule(fc, l, head)
	if rule == nil || !directAction(t, rule.action) {
		return false
	}
	now := f.p.clock.Now() // one reading serves the whole request
	b := t.groups[rule.action.Forward[0].ARN].pick("", now)
	if b == nil {
		return false
	}
	f.forward(fc, n, l, b, now)
	return true
}

// matchRule is the listener's first rule the request meets. Only rules
// with conditions need the request as net/http parses it.
func (f *front) matchRule(fc *frontConn, l *listener, head []byte) *compiledRule {
	if len(l.rules[0].matchers) == 0 {
		return &l.rules[0]
	}
	if fc.match == nil {
		fc.match = bufio.NewReaderSize(nil, 4<<10)
	}
	fc.match.Reset(bytes.NewReader(head))
	r, err := http.ReadRequest(fc.match)
	if err != nil {
		return nil
	}
	r.RemoteAddr = fc.remote
	return l.match(r, fc.client.Addr())
}

// directAction reports whether the front can run an action: a forward to
// one plain-HTTP group that sets no cookie.
func directAction(t *table, a Action) bool {
	if a.Type != ActionForward || len(a.Forward) != 1 {
		return false
	}
	g := t.groups[a.Forward[0].ARN]
	return g != nil && g.cfg.Protocol != "HTTPS" && g.cfg.Stickiness <= 0
}

// forward sends the request whose head is the first n buffered bytes to
// target b and writes the answer, or ALB's error page.
func (f *front) forward(fc *frontConn, n int, l *listener, b *backend, now time.Time) {
	b.inflight.Add(1)
	defer b.inflight.Add(-1)
	// On a shared socket the connection's idle timeout is that of the load
	// balancer it last served.
	fc.io.idle = l.lb.cfg.IdleTimeout
	addr, host := b.address()
	u := upstream{scheme: "http", host: host, listener: l, client: fc.client}
	head := string(fc.req.method) == http.MethodHead
	c, resp, err := send(outgoing{head: &fc.req, u: &u}, b.conns, addr, l.lb.cfg.IdleTimeout, now)
	fc.br.Discard(n) // sent: fc.req is not needed any more
	if err != nil {
		status := http.StatusBadGateway
		if isTimeout(err) {
			status = http.StatusGatewayTimeout
		}
		writeELBError(fc.bw, status, head)
		if fc.bw.Flush() != nil {
			fc.nc.Close()
		}
		return
	}
	closeAfter := c.answer.close
	if resp != nil {
		err = writeResponse(fc.bw, resp, head)
		closeAfter = resp.Close
	} else {
		err = writeAnswerHead(fc.bw, c)
	}
	if err == nil {
		err = fc.bw.Flush()
	}
	if err != nil {
		c.close()
		fc.nc.Close()
		return
	}
	if closeAfter {
		c.close()
		return
	}
	if resp != nil {
		resp.Body.Close() // at its end already: returns at once
	}
	b.conns.put(c, now)
}

// writeAnswerHead copies an answer read in place: its status line, its
// end-to-end fields and its Content-Length body.
func writeAnswerHead(bw *bufio.Writer, c *upstreamConn) error {
	a := &c.answer
	bw.Write(a.statusLine)
	if len(a.statusLine) == len("HTTP/1.1 200") { // no reason phrase: the space before it is not optional
		bw.WriteByte(' ')
		bw.WriteString(http.StatusText(a.status))
	}
	bw.WriteString("\r\n")
	writeFields(bw, a.fields)
	bw.WriteString("\r\n")
	c.br.Discard(a.length) // the head's slices are not needed any more
	return copyN(bw, c.br, a.contentLength)
}

// copyN reads n bytes of r straight into bw's buffer, flushing it when
// full or before r has to wait for more, so a body that streams reaches
// the client as it comes.
func copyN(bw *bufio.Writer, r *bufio.Reader, n int64) error {
	for n > 0 {
		if bw.Available() == 0 || r.Buffered() == 0 && bw.Buffered() > 0 {
			if err := bw.Flush(); err != nil {
				return err
			}
		}
		buf := bw.AvailableBuffer()[:min(int64(bw.Available()), n)]
		got, err := r.Read(buf)
		bw.Write(buf[:got]) // in place: buf is bw's own free space
		n -= int64(got)
		if err == io.EOF && n > 0 {
			return io.ErrUnexpectedEOF
		}
		if err != nil && err != io.EOF {
			return err
		}
	}
	return nil
}

// writeResponse writes a target's answer: its end-to-end headers, then
// its body as it came with a length, or chunked (flushed chunk by chunk,
// trailers after) when it had none.
func writeResponse(bw *bufio.Writer, resp *http.Response, head bool) error {
	bw.WriteString("HTTP/1.1 ")
	bw.Write(strconv.AppendInt(bw.AvailableBuffer(), int64(resp.StatusCode), 10))
	bw.WriteByte(' ')
	bw.WriteString(reasonPhrase(resp))
	bw.WriteString("\r\n")
	drop := connectionTokens(resp.Header)
	for k, vs := range resp.Header {
		if isHopHeader(k) || drop[k] {
			continue
		}
		for _, v := range vs {
			writeHeader(bw, k, v)
		}
	}
	bodyless := head || resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusNotModified
	chunked := !bodyless && resp.ContentLength < 0
	if chunked {
		bw.WriteString("Transfer-Encoding: chunked\r\n")
		for k := range resp.Trailer {
			writeHeader(bw, "Trailer", k)
		}
	} else if !bodyless && resp.Header["Content-Length"] == nil {
		bw.Write(strconv.AppendInt(append(bw.AvailableBuffer(), "Content-Length: "...), resp.ContentLength, 10))
		bw.WriteString("\r\n")
	}
	bw.WriteString("\r\n")
	if bodyless {
		return nil
	}
	if !chunked {
		return copyInto(bw, resp.Body)
	}
	return writeChunked(bw, resp)
}

// copyInto reads r straight into bw's buffer, flushing it when full.
// (bufio.Writer.ReadFrom would hand a long body to the connection's
// ReadFrom, which allocates a 32 KB buffer per call.)
func copyInto(bw *bufio.Writer, r io.Reader) error {
	for {
		if bw.Available() == 0 {
			if err := bw.Flush(); err != nil {
				return err
			}
		}
		buf := bw.AvailableBuffer()[:bw.Available()]
		n, err := r.Read(buf)
		bw.Write(buf[:n]) // in place: buf is bw's own free space
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// writeChunked copies a body of unknown length as chunks, flushing each
// so streamed answers arrive as they come, then the trailers.
func writeChunked(bw *bufio.Writer, resp *http.Response) error {
	cw := httputil.NewChunkedWriter(bw)
	pooled := buffers.Get().(*[]byte)
	defer buffers.Put(pooled)
	for {
		n, err := resp.Body.Read(*pooled)
		if n > 0 {
			if _, werr := cw.Write((*pooled)[:n]); werr != nil {
				return werr
			}
			if werr := bw.Flush(); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	if err := cw.Close(); err != nil {
		return err
	}
	for k, vs := range resp.Trailer {
		for _, v := range vs {
			writeHeader(bw, k, v)
		}
	}
	_, err := bw.WriteString("\r\n")
	return err
}

// reasonPhrase is the reason of a target's status line, as it sent it.
func reasonPhrase(resp *http.Response) string {
	code := strconv.Itoa(resp.StatusCode)
	if len(resp.Status) > len(code)+1 && resp.Status[:len(code)] == code {
		return resp.Status[len(code)+1:]
	}
	return http.StatusText(resp.StatusCode)
}

// writeELBError writes ALB's own error page, as elbError does; for a
// HEAD request, only its head.
func writeELBError(bw *bufio.Writer, status int, head bool) {
	body := elbErrorPage(status)
	bw.WriteString("HTTP/1.1 ")
	bw.WriteString(strconv.Itoa(status))
	bw.WriteByte(' ')
	bw.WriteString(http.StatusText(status))
	bw.WriteString("\r\nServer: awselb/2.0\r\nContent-Type: text/html\r\n")
	writeHeader(bw, "Content-Length", strconv.Itoa(len(body)))
	bw.WriteString("\r\n")
	if !head {
		bw.WriteString(body)
	}
}

// handOff gives the connection to the socket's http.Server, with what
// was read from it and not served yet in front of the rest.
func (f *front) handOff(fc *frontConn) {
	fc.io.disarm()
	rest, _ := fc.br.Peek(fc.br.Buffered())
	if len(rest) == 0 {
		f.handoff.give(fc.conn) // as it is: a TLS session stays one for net/http
		return
	}
	f.handoff.give(&prefixedConn{Conn: fc.conn, pending: bytes.Clone(rest)})
}

// prefixedConn is a connection whose first bytes were already read.
type prefixedConn struct {
	net.Conn
	pending []byte
}

func (c *prefixedConn) Read(b []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(b, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}

// CloseWrite lets http.Server close a TCP connection gracefully.
func (c *prefixedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Conn.Close()
}

// handoffListener is the listener of a front's http.Server: it accepts the
// connections the front hands off.
type handoffListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
	addr  net.Addr
}

func (l *handoffListener) give(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.done:
		c.Close()
	}
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *handoffListener) Addr() net.Addr { return l.addr }

func (f *front) track(fc *frontConn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopping {
		return false
	}
	f.conns[fc] = struct{}{}
	return true
}

func (f *front) untrack(fc *frontConn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.conns, fc)
}

// shutdown closes the idle connections; the others close after the
// answer they are writing. With force it closes them all at once.
func (f *front) shutdown(force bool) {
	f.closing.Store(true)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopping = true
	for fc := range f.conns {
		if force || fc.idle.Load() {
			fc.nc.Close()
		}
	}
}
