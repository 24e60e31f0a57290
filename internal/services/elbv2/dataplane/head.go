package dataplane

import (
	"bufio"
	"bytes"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// The front parses the heads of the requests it serves itself, and of
// the answers to them, in place: net/http's ReadRequest and ReadResponse
// build a header map, a URL and a body reader per message, which costs
// more than the rest of the forwarding on a loopback. The parsers accept
// only the common, well-formed shape; anything else (a bare LF, a folded
// line, a body, a Connection option, an odd status) is left to net/http,
// which reads the same bytes again, so no request is served by rules that
// differ from its.

// field is one "Name: value" line of a head, as slices of its bytes.
type field struct{ name, value []byte }

// requestHead is a request head the direct path serves: its slices point
// into the bytes it was parsed from.
type requestHead struct {
	method, target, host []byte
	// fields are the end-to-end fields a target gets, in order: neither
	// hop-by-hop nor X-Forwarded-*.
	fields []field
	// forwardedFor are the X-Forwarded-For values the client sent.
	forwardedFor [][]byte
	// traced is set when fields hold a non-empty X-Amzn-Trace-Id.
	traced bool
	// bodyLength is the Content-Length; body, set by the front once all
	// of it is buffered, points into the same buffer.
	bodyLength int64
	body       []byte
	// replayable requests may be sent again on a new connection when a
	// pooled one fails: the methods net/http's Transport replays, or any
	// carrying an idempotency key.
	replayable bool
}

// parseRequestHead parses head (through its empty line) into h and
// reports whether it is a request the direct path takes: HTTP/1.1 in
// origin form (so not CONNECT), with one valid Host (as net/http's server
// checks it), a body only as one Content-Length (not chunked, no Expect),
// at most one X-Amzn-Trace-Id, and no Connection option but keep-alive.
func parseRequestHead(head []byte, h *requestHead) bool {
	*h = requestHead{fields: h.fields[:0], forwardedFor: h.forwardedFor[:0]}
	line, rest, ok := cutLine(head)
	if !ok {
		return false
	}
	method, line, _ := bytes.Cut(line, []byte(" "))
	target, proto, _ := bytes.Cut(line, []byte(" "))
	if !isToken(method) || string(method) == "CONNECT" || !originForm(target) || string(proto) != "HTTP/1.1" {
		return false
	}
	h.method, h.target, h.replayable = method, target, replayableMethod(method)
	hosts, lengths, traces := 0, 0, 0
	for {
		var f field
		if line, rest, ok = cutLine(rest); !ok {
			return false
		}
		if len(line) == 0 {
			return hosts == 1 && httpguts.ValidHostHeader(string(h.host)) && len(h.host) > 0 && lengths <= 1 && traces <= 1
		}
		if f, ok = parseField(line); !ok {
			return false
		}
		switch {
		case isName(f.name, "Host"):
			h.host = f.value
			hosts++
		case isName(f.name, "Content-Length"):
			if h.bodyLength, ok = parseLength(f.value); !ok {
				return false
			}
			lengths++
			h.fields = append(h.fields, f)
		case isName(f.name, "Connection"):
			if !isName(f.value, "keep-alive") {
				return false
			}
		case isName(f.name, "Transfer-Encoding"), isName(f.name, "Upgrade"), isName(f.name, "Expect"):
			return false
		case isName(f.name, "X-Forwarded-For"):
			h.forwardedFor = append(h.forwardedFor, f.value)
		case isName(f.name, "X-Forwarded-Proto"), isName(f.name, "X-Forwarded-Port"), isHopField(f.name):
		case isName(f.name, "X-Amzn-Trace-Id"):
			traces++
			if len(f.value) > 0 {
				h.traced = true
				h.fields = append(h.fields, f)
			}
		default:
			h.replayable = h.replayable || isName(f.name, "Idempotency-Key") || isName(f.name, "X-Idempotency-Key")
			h.fields = append(h.fields, f)
		}
	}
}

func replayableMethod(m []byte) bool {
	switch string(m) {
	case "GET", "HEAD", "OPTIONS", "TRACE":
		return true
	}
	return false
}

// isToken reports whether b is a non-empty RFC 9110 token.
func isToken(b []byte) bool {
	for _, c := range b {
		if !isTokenChar(c) {
			return false
		}
	}
	return len(b) > 0
}

// originForm reports whether a request target is an absolute path with an
// optional query, made of visible ASCII, each % followed by two hex digits
// (what net/http's URL parsing would accept from it).
func originForm(t []byte) bool {
	if len(t) == 0 || t[0] != '/' {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if c <= ' ' || c >= 0x7f {
			return false
		}
		if c == '%' && (i+2 >= len(t) || !isHex(t[i+1]) || !isHex(t[i+2])) {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// responseHead is a target's answer head the front copies as it came.
type responseHead struct {
	status int
	// statusLine is "HTTP/1.1 <code> <reason>" without its line end.
	statusLine []byte
	// fields are its end-to-end fields, in order.
	fields        []field
	contentLength int64 // -1 when it sent none
	close         bool  // the target closes the connection after it
	length        int   // of the head, through its empty line
}

// parseResponseHead parses head (through its empty line) into h and
// reports whether it is an answer the front copies as it came: a final
// answer over HTTP/1.1 whose body is framed by one Content-Length, or has
// none; no Transfer-Encoding, no Connection option but close or keep-alive.
func parseResponseHead(head []byte, bodiless bool, h *responseHead) bool {
	*h = responseHead{fields: h.fields[:0], contentLength: -1}
	line, rest, ok := cutLine(head)
	if !ok || len(line) < len("HTTP/1.1 200") || string(line[:9]) != "HTTP/1.1 " || len(line) > 12 && line[12] != ' ' {
		return false
	}
	status, ok := parseLength(line[9:12])
	if !ok || status < 200 || status > 599 {
		return false
	}
	h.status, h.statusLine = int(status), line
	for {
		var f field
		if line, rest, ok = cutLine(rest); !ok {
			return false
		}
		if len(line) == 0 {
			break
		}
		if f, ok = parseField(line); !ok {
			return false
		}
		switch {
		case isName(f.name, "Content-Length"):
			n, ok := parseLength(f.value)
			if !ok || h.contentLength >= 0 {
				return false
			}
			h.contentLength = n
			h.fields = append(h.fields, f)
		case isName(f.name, "Connection"):
			switch {
			case isName(f.value, "close"):
				h.close = true
			case !isName(f.value, "keep-alive"):
				return false
			}
		case isName(f.name, "Transfer-Encoding"), isName(f.name, "Trailer"):
			return false
		case isHopField(f.name):
		default:
			h.fields = append(h.fields, f)
		}
	}
	if bodiless || status == 204 || status == 304 {
		h.contentLength = 0 // whatever it says, no body follows
		return true
	}
	return h.contentLength >= 0
}

// parseLength parses a Content-Length: decimal digits only.
func parseLength(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// cutLine cuts the first CRLF-ended line off b. A line with a bare CR or
// LF, or without its end, is refused.
func cutLine(b []byte) (line, rest []byte, ok bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 1 || b[i-1] != '\r' || bytes.IndexByte(b[:i-1], '\r') >= 0 {
		return nil, nil, false
	}
	return b[:i-1], b[i+1:], true
}

// parseField splits "Name: value": a token name, then a value of visible
// characters, spaces and tabs, trimmed. A folded line (leading space) is
// refused.
func parseField(line []byte) (field, bool) {
	name, value, ok := bytes.Cut(line, []byte(":"))
	if !ok || !isToken(name) {
		return field{}, false
	}
	for _, c := range value {
		if c < ' ' && c != '\t' || c == 0x7f {
			return field{}, false
		}
	}
	return field{name: name, value: trimWhitespace(value)}, true
}

// trimWhitespace drops the spaces and tabs around a field value.
func trimWhitespace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// isTokenChar reports whether c may appear in a field name (RFC 9110 tchar).
func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return c < 0x7f && strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// isName compares a field name (or a token value) with a canonical one,
// ignoring case, without allocating.
func isName(b []byte, name string) bool {
	if len(b) != len(name) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if lower(b[i]) != lower(name[i]) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// isHopField reports whether a field is hop-by-hop, as isHopHeader does
// for canonical names.
func isHopField(name []byte) bool {
	switch len(name) {
	case 2:
		return isName(name, "Te")
	case 7:
		return isName(name, "Trailer") || isName(name, "Upgrade")
	case 10:
		return isName(name, "Connection") || isName(name, "Keep-Alive")
	case 16:
		return isName(name, "Proxy-Connection")
	case 17:
		return isName(name, "Transfer-Encoding")
	case 18:
		return isName(name, "Proxy-Authenticate")
	case 19:
		return isName(name, "Proxy-Authorization")
	}
	return false
}

// findHeadEnd returns the length of the head at the start of b, through
// the empty line that ends it (CRLF or bare LF line ends), or -1 when b
// does not hold all of it yet.
func findHeadEnd(b []byte) int {
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return -1
		}
		i += j + 1
		switch {
		case i < len(b) && b[i] == '\n':
			return i + 1
		case i+1 < len(b) && b[i] == '\r' && b[i+1] == '\n':
			return i + 2
		}
	}
}

// peekHead waits until a whole head is buffered in br and returns its
// length. A head longer than the buffer gives bufio.ErrBufferFull.
func peekHead(br *bufio.Reader) (int, error) {
	for n := 1; ; n = br.Buffered() + 1 {
		if _, err := br.Peek(n); err != nil {
			return 0, err
		}
		b, _ := br.Peek(br.Buffered())
		if end := findHeadEnd(b); end >= 0 {
			return end, nil
		}
	}
}
