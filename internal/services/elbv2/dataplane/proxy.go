package dataplane

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Cookies ALB sets for target and target group stickiness.
const (
	stickyCookie      = "AWSALB"
	groupStickyCookie = "AWSALBTG"
)

// lbRuntime is what a load balancer needs at request time: its settings,
// its upstream connection pool and its access log.
type lbRuntime struct {
	cfg       LoadBalancer
	transport *http.Transport
	proxy     *httputil.ReverseProxy
	accessLog *accessLog
}

// runtimeFor builds the runtime of a load balancer for a new table,
// keeping the upstream pool when the idle timeout did not change.
func (p *Plane) runtimeFor(lb LoadBalancer) *lbRuntime {
	if lb.IdleTimeout <= 0 {
		lb.IdleTimeout = defaultIdleTimeout
	}
	rt := &lbRuntime{cfg: lb}
	if old := p.runtimes[lb.ARN]; old != nil && old.cfg.IdleTimeout == lb.IdleTimeout {
		rt.transport = old.transport
	} else {
		rt.transport = upstreamTransport(lb.IdleTimeout)
	}
	rt.proxy = &httputil.ReverseProxy{
		Rewrite:      rewrite,
		Transport:    rt.transport,
		BufferPool:   bufferPool{},
		ErrorHandler: upstreamError,
		ErrorLog:     nil,
	}
	if lb.AccessLogPath != "" {
		rt.accessLog = p.openAccessLog(lb.AccessLogPath)
	}
	return rt
}

// upstreamTransport is the keep-alive pool to targets; a target that does
// not answer within the idle timeout gets the client a 504.
func upstreamTransport(idle time.Duration) *http.Transport {
	return &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       idle,
		ResponseHeaderTimeout: idle,
		TLSClientConfig:       &tls.Config{InsecureSkipVerify: true}, // ALB does not verify target certificates
	}
}

// bufferPool lends ReverseProxy the buffers of copyBody.
type bufferPool struct{}

// buffers hold *[]byte, so that putting one back allocates nothing.
var buffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte  { return *buffers.Get().(*[]byte) }
func (bufferPool) Put(b []byte) { buffers.Put(&b) }

// upstream is where a forwarded request goes; it travels in the context
// from the handler to rewrite.
type upstream struct {
	scheme, host string
	listener     *listener
	client       netip.AddrPort
}

type upstreamKey struct{}

// rewrite points the outgoing request at the chosen target and adds ALB's
// X-Forwarded-* and X-Amzn-Trace-Id headers.
func rewrite(pr *httputil.ProxyRequest) {
	u := pr.In.Context().Value(upstreamKey{}).(*upstream)
	pr.Out.URL.Scheme = u.scheme
	pr.Out.URL.Host = u.host
	pr.Out.Host = pr.In.Host
	setForwardedHeaders(pr.Out.Header, pr.In.Header, u)
}

// setForwardedHeaders sets the X-Forwarded-* headers and the trace ID on
// an outgoing request's headers.
func setForwardedHeaders(out, in http.Header, u *upstream) {
	if xff := forwardedFor(&u.listener.lb.cfg, in.Values("X-Forwarded-For"), u.client); xff != "" {
		out.Set("X-Forwarded-For", xff)
	} else {
		out.Del("X-Forwarded-For")
	}
	out.Set("X-Forwarded-Proto", u.listener.proto)
	out.Set("X-Forwarded-Port", u.listener.port)
	if out.Get("X-Amzn-Trace-Id") == "" {
		out.Set("X-Amzn-Trace-Id", newTraceID())
	}
}

// forwardedFor is the X-Forwarded-For a target gets: the client's address
// appended to what the client sent, what it sent, or nothing, by mode.
func forwardedFor(lb *LoadBalancer, prior []string, client netip.AddrPort) string {
	return string(appendForwardedFor(nil, lb, prior, client))
}

// appendForwardedFor appends forwardedFor's value to dst.
func appendForwardedFor[T string | []byte](dst []byte, lb *LoadBalancer, prior []T, client netip.AddrPort) []byte {
	if lb.XFF == XFFRemove {
		return dst
	}
	for i, p := range prior {
		if i > 0 {
			dst = append(dst, ", "...)
		}
		dst = append(dst, p...)
	}
	if lb.XFF == XFFPreserve {
		return dst
	}
	if len(prior) > 0 {
		dst = append(dst, ", "...)
	}
	if lb.XFFClientPort {
		return client.AppendTo(dst)
	}
	return client.Addr().AppendTo(dst)
}

// newTraceID makes an X-Amzn-Trace-Id (see appendTraceID).
func newTraceID() string { return string(appendTraceID(nil, time.Now())) }

// upstreamError answers a failed forward as ALB does: 504 when the target
// timed out, 502 otherwise.
func upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil && errors.Is(r.Context().Err(), context.Canceled) {
		return // the client went away
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
		elbError(w, http.StatusGatewayTimeout)
		return
	}
	elbError(w, http.StatusBadGateway)
}

// elbStatusText are the reason phrases in ALB's own error pages.
var elbStatusText = map[int]string{
	http.StatusServiceUnavailable: "Service Temporarily Unavailable",
	http.StatusGatewayTimeout:     "Gateway Time-out",
}

// elbError writes a response generated by the load balancer itself, marked
// by ALB's Server header so it is told apart from a target's.
func elbError(w http.ResponseWriter, status int) {
	h := w.Header()
	h.Set("Server", "awselb/2.0")
	h.Set("Content-Type", "text/html")
	w.WriteHeader(status)
	io.WriteString(w, elbErrorPage(status))
}

// elbErrorPage is the HTML of ALB's error page for a status.
func elbErrorPage(status int) string {
	reason, ok := elbStatusText[status]
	if !ok {
		reason = http.StatusText(status)
	}
	text := strconv.Itoa(status) + " " + reason
	return "<html>\r\n<head><title>" + text + "</title></head>\r\n<body>\r\n<center><h1>" + text +
		"</h1></center>\r\n</body>\r\n</html>\r\n"
}

// socketHandler serves the requests of one socket with the current table.
func (p *Plane) socketHandler(key socketKey) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t := p.table.Load()
		l := listenerFor(t, key, r.Host)
		if l == nil {
			elbError(w, http.StatusServiceUnavailable)
			return
		}
		if l.lb.accessLog == nil {
			p.serve(w, r, t, l)
			return
		}
		start := p.clock.Now()
		rec := &statusRecorder{ResponseWriter: w}
		target := p.serve(rec, r, t, l)
		l.lb.accessLog.write(l, r, target, rec, start, p.clock.Now())
	})
}

// listenerFor is the listener a request to a socket is for: on a
// host-routed address (127.0.0.1, the task bridge IP), the one of the load
// balancer its Host names; otherwise the socket's own. Nil when there is
// none.
func listenerFor[T string | []byte](t *table, key socketKey, host T) *listener {
	routes := t.sockets[key]
	if routes == nil {
		return nil
	}
	if routes.hostRouted { // only here is the Host needed (as a string)
		return routes.byHost[strings.ToLower(hostOnly(string(host)))]
	}
	return routes.dedicated
}

// match returns the first rule whose conditions r meets, nil if none.
func (l *listener) match(r *http.Request, client netip.Addr) *compiledRule {
	for i := range l.rules {
		if matchesAll(l.rules[i].matchers, r, client) {
			return &l.rules[i]
		}
	}
	return nil
}

// serve runs the first matching rule's action and returns the target the
// request went to ("" when none).
func (p *Plane) serve(w http.ResponseWriter, r *http.Request, t *table, l *listener) string {
	if rule := l.match(r, clientAddr(r)); rule != nil {
		return p.act(w, r, t, l, rule.action)
	}
	elbError(w, http.StatusServiceUnavailable)
	return ""
}

func matchesAll(ms []matcher, r *http.Request, client netip.Addr) bool {
	for _, m := range ms {
		if !m(r, client) {
			return false
		}
	}
	return true
}

func clientAddr(r *http.Request) netip.Addr { return clientAddrPort(r).Addr() }

func clientAddrPort(r *http.Request) netip.AddrPort { return parseClientAddr(r.RemoteAddr) }

// parseClientAddr parses a connection's remote address ("ip:port").
func parseClientAddr(remote string) netip.AddrPort {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

func (p *Plane) act(w http.ResponseWriter, r *http.Request, t *table, l *listener, a Action) string {
	switch a.Type {
	case ActionRedirect:
		w.Header().Set("Server", "awselb/2.0")
		http.Redirect(w, r, redirectURL(a.Redirect, r, l.cfg.Protocol, l.cfg.Port), a.Redirect.StatusCode)
	case ActionFixedResponse:
		h := w.Header()
		h.Set("Server", "awselb/2.0")
		ct := a.Fixed.ContentType
		if ct == "" {
			ct = "text/plain; charset=utf-8"
		}
		h.Set("Content-Type", ct)
		w.WriteHeader(a.Fixed.StatusCode)
		w.Write([]byte(a.Fixed.Body))
	case ActionForward:
		return p.forward(w, r, t, l, a)
	}
	return ""
}

// forward sends a request to a target of the action's target groups.
func (p *Plane) forward(w http.ResponseWriter, r *http.Request, t *table, l *listener, a Action) string {
	now := p.clock.Now()
	tgARN := pickGroup(a.Forward, cookieValue(r, groupStickyCookie))
	g := t.groups[tgARN]
	if g == nil {
		elbError(w, http.StatusInternalServerError)
		return ""
	}
	b := g.pick(stickyTarget(r, tgARN), now)
	if b == nil {
		elbError(w, http.StatusServiceUnavailable)
		return ""
	}
	if g.cfg.Stickiness > 0 {
		setCookie(w, stickyCookie, encodeSticky(tgARN, b.key), now.Add(g.cfg.Stickiness))
	}
	if len(a.Forward) > 1 && a.GroupStickiness > 0 {
		setCookie(w, groupStickyCookie, base64.RawURLEncoding.EncodeToString([]byte(tgARN)), now.Add(a.GroupStickiness))
	}
	scheme := "http"
	if g.cfg.Protocol == "HTTPS" {
		scheme = "https"
	}
	b.inflight.Add(1)
	defer b.inflight.Add(-1)
	addr, host := b.address()
	u := upstream{scheme: scheme, host: host, listener: l, client: clientAddrPort(r)}
	switch {
	case r.Header.Get("Upgrade") != "":
		// WebSocket and other upgrades: ReverseProxy splices the connections.
		ctxU := u
		l.lb.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), upstreamKey{}, &ctxU)))
	case directPath(r, &u):
		l.lb.roundTripDirect(w, r, &u, b.conns, addr, now)
	default:
		l.lb.roundTrip(w, r, &u)
	}
	return host
}

func setCookie(w http.ResponseWriter, name, value string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", Expires: expires})
}

func cookieValue(r *http.Request, name string) string {
	c, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	if name == groupStickyCookie {
		b, err := base64.RawURLEncoding.DecodeString(c.Value)
		if err != nil {
			return ""
		}
		return string(b)
	}
	return c.Value
}

// encodeSticky makes the AWSALB cookie value: the group and target it
// names, opaque to clients.
func encodeSticky(tgARN, key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(tgARN + " " + key))
}

// stickyTarget reads the target the AWSALB cookie names for this group.
func stickyTarget(r *http.Request, tgARN string) string {
	v := cookieValue(r, stickyCookie)
	if v == "" {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return ""
	}
	arn, key, ok := strings.Cut(string(b), " ")
	if !ok || arn != tgARN {
		return ""
	}
	return key
}

// statusRecorder remembers the status and size of a response for the
// access log; Unwrap keeps Flush and Hijack (WebSockets) working.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Flush lets streamed responses through without waiting for the buffer.
func (s *statusRecorder) Flush() { http.NewResponseController(s.ResponseWriter).Flush() }

// accessLog appends one line per request in ALB's access log layout
// (the leading fields).
type accessLog struct {
	mu sync.Mutex
	f  *os.File
}

func (a *accessLog) write(l *listener, r *http.Request, target string, rec *statusRecorder, start, end time.Time) {
	if target == "" {
		target = "-"
	}
	proto := strings.ToLower(l.cfg.Protocol)
	line := fmt.Sprintf("%s %s %s %s %s -1 %.3f -1 %d - %d %d \"%s %s://%s:%d%s %s\" \"%s\" %s\n",
		proto, end.UTC().Format("2006-01-02T15:04:05.000000Z"), l.lb.cfg.Name, r.RemoteAddr, target,
		end.Sub(start).Seconds(), rec.status, r.ContentLength, rec.bytes,
		r.Method, proto, hostOnly(r.Host), l.cfg.Port, r.URL.RequestURI(), r.Proto, r.UserAgent(), l.cfg.ARN)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.f.WriteString(line)
}

func (a *accessLog) close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.f.Close()
}
