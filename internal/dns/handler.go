package dns

import (
	"context"

	"github.com/miekg/dns"
)

var _ dns.Handler = (*Server)(nil)

// ServeDNS answers one query: from the table when the name is kumo's,
// else from the upstream resolvers.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	network := w.LocalAddr().Network() // "udp" or "tcp"
	resp := s.answer(context.Background(), req, network)
	if network == "udp" {
		resp.Truncate(udpSize(req))
	}
	if err := w.WriteMsg(resp); err != nil {
		s.cfg.Log.Debug("dns: write answer", "error", err)
	}
}

// answer builds the reply to req, which arrived over network.
func (s *Server) answer(ctx context.Context, req *dns.Msg, network string) *dns.Msg {
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
	rrs, zone, v := s.table.Load().lookup(q)
	if v == nxDomain {
		s.refreshAfterMiss(ctx, builds)
		rrs, zone, v = s.table.Load().lookup(q)
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
