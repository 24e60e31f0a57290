package dataplane

import (
	"io"
	"net/http"
	"net/textproto"
	"strings"
)

// isHopHeader reports whether a (canonical) header is hop-by-hop, one a
// proxy must not pass on (RFC 9110 section 7.6.1). A switch, not a map:
// it runs for every header of every request and answer.
func isHopHeader(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// roundTrip forwards a plain (non-upgrade) request to its target and copies
// the answer back. It is the hot path: it builds the outgoing request
// directly, sharing header values with the incoming one (neither side
// changes them), where httputil.ReverseProxy would clone them.
func (rt *lbRuntime) roundTrip(w http.ResponseWriter, r *http.Request, u *upstream) {
	out, err := http.NewRequestWithContext(r.Context(), r.Method, "", nil)
	if err != nil {
		elbError(w, http.StatusBadRequest)
		return
	}
	target := *r.URL
	target.Scheme, target.Host = u.scheme, u.host
	out.URL = &target
	out.Host = r.Host
	out.Header = forwardHeaders(r.Header)
	if r.ContentLength != 0 {
		out.Body, out.ContentLength = r.Body, r.ContentLength
	}
	out.Close = false
	setForwardedHeaders(out.Header, r.Header, u)
	resp, err := rt.transport.RoundTrip(out)
	if err != nil {
		upstreamError(w, r, err)
		return
	}
	defer resp.Body.Close()
	writeAnswer(w, resp)
}

// writeAnswer copies a target's answer to the client: its end-to-end
// headers, status, body and trailers. It returns the error that stopped
// the body short, nil when the body was read to its end.
func writeAnswer(w http.ResponseWriter, resp *http.Response) error {
	h := w.Header()
	copyHeaders(h, resp.Header)
	for k := range resp.Trailer {
		h.Add("Trailer", k)
	}
	w.WriteHeader(resp.StatusCode)
	err := copyBody(w, resp)
	for k, vs := range resp.Trailer {
		h[http.TrailerPrefix+k] = vs
	}
	return err
}

// forwardHeaders returns the end-to-end headers of a request: a new map
// whose value slices are shared.
func forwardHeaders(in http.Header) http.Header {
	out := make(http.Header, len(in)+4)
	drop := connectionTokens(in)
	for k, vs := range in {
		if isHopHeader(k) || (drop != nil && drop[k]) {
			continue
		}
		out[k] = vs
	}
	return out
}

// connectionTokens are the extra hop-by-hop headers a Connection header names.
func connectionTokens(h http.Header) map[string]bool {
	var drop map[string]bool
	for _, v := range h["Connection"] {
		for _, f := range strings.Split(v, ",") {
			if f = textproto.TrimString(f); f != "" {
				if drop == nil {
					drop = map[string]bool{}
				}
				drop[http.CanonicalHeaderKey(f)] = true
			}
		}
	}
	return drop
}

func copyHeaders(dst, src http.Header) {
	drop := connectionTokens(src)
	for k, vs := range src {
		if isHopHeader(k) || (drop != nil && drop[k]) {
			continue
		}
		dst[k] = vs
	}
}

// copyBody streams a response body with a pooled buffer, flushing after
// each read when the length is unknown (chunked, server-sent events). It
// returns the read or write error that stopped it, nil at the body's end.
func copyBody(w http.ResponseWriter, resp *http.Response) error {
	pooled := buffers.Get().(*[]byte)
	defer buffers.Put(pooled)
	buf := *pooled
	var flush func() error
	if resp.ContentLength < 0 {
		flush = http.NewResponseController(w).Flush
	}
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			if flush != nil {
				flush()
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
