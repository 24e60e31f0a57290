package dns

import (
	"context"
	"net"
	"net/netip"

	"github.com/miekg/dns"
)

var _ dns.Handler = (*Server)(nil)

// ServeDNS answers one query: from the table when the name is kumo's,
// else from the upstream resolvers.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	network := w.LocalAddr().Network() // "udp" or "tcp"
	resp := s.answer(context.Background(), req, network, s.arrivedOn(w.LocalAddr()))
	if network == "udp" {
		resp.Truncate(udpSize(req))
	}
	if err := w.WriteMsg(resp); err != nil {
		s.cfg.Log.Debug("dns: write answer", "error", err)
	}
}

// arrivedOn is the address a query came to when it is a shared address of
// the server (see sharedAddrsOf), else the zero Addr: loopback-only
// records then keep their own addresses. A query to a wildcard socket
// cannot be told apart, so it gets the zero Addr too.
func (s *Server) arrivedOn(local net.Addr) netip.Addr {
	var ap netip.AddrPort
	switch a := local.(type) {
	case *net.UDPAddr:
		ap = a.AddrPort()
	case *net.TCPAddr:
		ap = a.AddrPort()
	default:
		return netip.Addr{}
	}
	if addr := ap.Addr().Unmap(); s.shared[addr] {
		return addr
	}
	return netip.Addr{}
}

// answer builds the reply to req, which arrived over network on arrivedOn
// (see Table.lookup).
func (s *Server) answer(ctx context.Context, req *dns.Msg, network string, arrivedOn netip.Addr) *dns.Msg {
	if req.Opcode != dns.OpcodeQuery {
		return reply(req, dns.RcodeNotImplemented)
	}
	if len(req.Question) != 1 {
		return reply(req, dns.RcodeFormatError)
	}
	q := req.Question[0]
	if q.Qclass != dns.ClassINET {
		return s.forward(ctx, req, network)
	}
	builds := s.builds.Load()
	rrs, zone, v := s.table.Load().lookup(q, arrivedOn)
	if v == nxDomain {
		s.refreshAfterMiss(ctx, builds)
		rrs, zone, v = s.table.Load().lookup(q, arrivedOn)
	}
	switch v {
	case notOurs:
		return s.forward(ctx, req, network)
	case nxDomain:
		resp := authoritative(req, dns.RcodeNameError)
		resp.Ns = []dns.RR{soa(zone)}
		return resp
	case noData:
		resp := authoritative(req, dns.RcodeSuccess)
		resp.Ns = []dns.RR{soa(zone)}
		return resp
	default:
		resp := authoritative(req, dns.RcodeSuccess)
		resp.Answer = rrs
		return resp
	}
}

// forward sends req to the upstreams in order, over the network it came
// on, and relays the first answer; SERVFAIL when none answers in time.
func (s *Server) forward(ctx context.Context, req *dns.Msg, network string) *dns.Msg {
	client := &dns.Client{Net: network, Timeout: s.cfg.ForwardTimeout}
	for _, upstream := range s.cfg.Upstreams {
		resp, _, err := client.ExchangeContext(ctx, req, upstream)
		if err == nil {
			return resp
		}
		s.cfg.Log.Debug("dns: upstream failed", "upstream", upstream, "name", req.Question[0].Name, "error", err)
	}
	return reply(req, dns.RcodeServerFailure)
}

// reply is an empty reply to req with rcode; kumo offers recursion.
func reply(req *dns.Msg, rcode int) *dns.Msg {
	resp := new(dns.Msg)
	resp.SetRcode(req, rcode)
	resp.RecursionAvailable = true
	return resp
}

// authoritative is a reply from one of kumo's own zones.
func authoritative(req *dns.Msg, rcode int) *dns.Msg {
	resp := reply(req, rcode)
	resp.Authoritative = true
	if opt := req.IsEdns0(); opt != nil {
		resp.SetEdns0(uint16(udpSize(req)), false)
	}
	return resp
}

// udpSize is the largest UDP answer the client accepts.
func udpSize(req *dns.Msg) int {
	if opt := req.IsEdns0(); opt != nil && opt.UDPSize() > dns.MinMsgSize {
		return int(opt.UDPSize())
	}
	return dns.MinMsgSize
}
