package dns

import (
	"context"
	"log/slog"
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

// FuzzAnswer feeds arbitrary DNS messages to the handler's answer: it must
// never panic, and must reply with the query's ID.
func FuzzAnswer(f *testing.F) {
	for _, q := range []struct {
		name  string
		qtype uint16
	}{{albName, dns.TypeA}, {"x.localhost", dns.TypeAAAA}, {"nope.elb.localhost", dns.TypeMX}, {"example.com", dns.TypeA}} {
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(q.name), q.qtype)
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	s := New(Config{Sources: []Source{LoadBalancerSource(fakeLBs{albName: netip.MustParseAddr("127.64.1.1")})}, Log: slog.New(slog.DiscardHandler)})
	if err := s.Refresh(context.Background()); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		req := new(dns.Msg)
		if err := req.Unpack(b); err != nil {
			return // miekg/dns's server drops what it cannot unpack
		}
		resp := s.answer(context.Background(), req, "udp", netip.Addr{})
		if resp.Id != req.Id || !resp.Response {
			t.Fatalf("reply id %d response %v to query id %d", resp.Id, resp.Response, req.Id)
		}
		if _, err := resp.Pack(); err != nil {
			t.Fatalf("reply does not pack: %v", err)
		}
	})
}
