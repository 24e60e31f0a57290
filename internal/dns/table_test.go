package dns

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

var (
	albAddr = netip.MustParseAddr("127.64.1.1")
	albName = "web-1234567890.us-east-1.elb.localhost"
)

// fakeLBs is an ELBv2 stand-in: a fixed name → address map.
type fakeLBs map[string]netip.Addr

func (f fakeLBs) LoadBalancerAddresses(context.Context) (map[string]netip.Addr, error) { return f, nil }

func records(zones []string, a ...ARecord) Source {
	return SourceFunc(func(context.Context) (Records, error) { return Records{Zones: zones, A: a}, nil })
}

func TestLookup(t *testing.T) {
	t.Parallel()
	table, err := Build(context.Background(),
		LoadBalancerSource(fakeLBs{albName: albAddr}),
		records([]string{"corp.local"},
			ARecord{Name: "api.corp.local", Addr: netip.MustParseAddr("10.0.0.5"), TTL: 10},
			ARecord{Name: "api.corp.local", Addr: netip.MustParseAddr("10.0.0.6"), TTL: 10}),
	)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		qname    string
		qtype    uint16
		want     verdict
		wantAddr []string
		wantTTL  uint32
		wantZone string
	}{
		{"load balancer", albName + ".", dns.TypeA, answered, []string{"127.64.1.1"}, DefaultTTL, "elb.localhost."},
		{"load balancer in upper case", strings.ToUpper(albName) + ".", dns.TypeA, answered, []string{"127.64.1.1"}, DefaultTTL, "elb.localhost."},
		{"load balancer AAAA has no data", albName + ".", dns.TypeAAAA, noData, nil, 0, "elb.localhost."},
		{"unknown load balancer", "gone-1.us-east-1.elb.localhost.", dns.TypeA, nxDomain, nil, 0, "elb.localhost."},
		{"the elb zone itself", "elb.localhost.", dns.TypeA, noData, nil, 0, "elb.localhost."},
		{"any other localhost name", "app.localhost.", dns.TypeA, answered, []string{"127.0.0.1"}, DefaultTTL, "localhost."},
		{"localhost", "localhost.", dns.TypeA, answered, []string{"127.0.0.1"}, DefaultTTL, "localhost."},
		{"localhost MX", "app.localhost.", dns.TypeMX, noData, nil, 0, "localhost."},
		{"several values", "api.corp.local.", dns.TypeA, answered, []string{"10.0.0.5", "10.0.0.6"}, 10, "corp.local."},
		{"unknown in another zone", "db.corp.local.", dns.TypeA, nxDomain, nil, 0, "corp.local."},
		{"outside kumo's zones", "example.com.", dns.TypeA, notOurs, nil, 0, ""},
		{"a suffix that is not a zone", "notlocalhost.", dns.TypeA, notOurs, nil, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rrs, zone, v := table.lookup(dns.Question{Name: tt.qname, Qtype: tt.qtype, Qclass: dns.ClassINET}, netip.Addr{})
			if v != tt.want || zone != tt.wantZone {
				t.Fatalf("verdict %d zone %q, want %d %q", v, zone, tt.want, tt.wantZone)
			}
			var got []string
			for _, rr := range rrs {
				a, ok := rr.(*dns.A)
				if !ok {
					t.Fatalf("record %v is not an A record", rr)
				}
				got = append(got, a.A.String())
				if a.Hdr.Ttl != tt.wantTTL || a.Hdr.Name != tt.qname {
					t.Errorf("record %v: want TTL %d and owner %s", a, tt.wantTTL, tt.qname)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.wantAddr, ",") {
				t.Errorf("addresses %v, want %v", got, tt.wantAddr)
			}
		})
	}
}

// TestLookupOnASharedAddress looks names up as for a task asking on the
// bridge IP: load balancer names answer with that address, other names as
// on loopback.
func TestLookupOnASharedAddress(t *testing.T) {
	t.Parallel()
	bridge := netip.MustParseAddr("10.221.85.1")
	table, err := Build(context.Background(),
		LoadBalancerSource(fakeLBs{albName: albAddr}),
		records([]string{"corp.local"}, ARecord{Name: "api.corp.local", Addr: netip.MustParseAddr("10.0.0.5")}),
		records([]string{"svc.localhost"},
			ARecord{Name: "a.svc.localhost", Addr: netip.MustParseAddr("127.64.9.9"), LoopbackOnly: true},
			ARecord{Name: "a.svc.localhost", Addr: netip.MustParseAddr("127.64.9.10"), LoopbackOnly: true}),
	)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		qname     string
		arrivedOn netip.Addr
		wantAddr  string
	}{
		{"load balancer on the bridge IP", albName + ".", bridge, "10.221.85.1"},
		{"load balancer on loopback", albName + ".", netip.Addr{}, "127.64.1.1"},
		{"other localhost name on the bridge IP", "app.localhost.", bridge, "127.0.0.1"},
		{"record that is not loopback-only", "api.corp.local.", bridge, "10.0.0.5"},
		{"several loopback-only records give the address once", "a.svc.localhost.", bridge, "10.221.85.1"},
		{"several loopback-only records on loopback", "a.svc.localhost.", netip.Addr{}, "127.64.9.9,127.64.9.10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rrs, _, v := table.lookup(dns.Question{Name: tt.qname, Qtype: dns.TypeA, Qclass: dns.ClassINET}, tt.arrivedOn)
			var got []string
			for _, rr := range rrs {
				got = append(got, rr.(*dns.A).A.String())
			}
			if v != answered || strings.Join(got, ",") != tt.wantAddr {
				t.Fatalf("verdict %d addresses %v, want %s", v, got, tt.wantAddr)
			}
		})
	}
}

func TestLookupZoneSOA(t *testing.T) {
	t.Parallel()
	table, err := Build(context.Background(), LoadBalancerSource(fakeLBs{}))
	if err != nil {
		t.Fatal(err)
	}
	rrs, _, v := table.lookup(dns.Question{Name: "ELB.localhost.", Qtype: dns.TypeSOA, Qclass: dns.ClassINET}, netip.Addr{})
	if v != answered || len(rrs) != 1 || rrs[0].Header().Rrtype != dns.TypeSOA || rrs[0].Header().Name != "elb.localhost." {
		t.Fatalf("SOA of the zone: %v (verdict %d)", rrs, v)
	}
}

func TestBuildRejects(t *testing.T) {
	t.Parallel()
	ip := netip.MustParseAddr("10.0.0.1")
	tests := []struct {
		name    string
		source  Source
		wantErr string
	}{
		{"source error", SourceFunc(func(context.Context) (Records, error) { return Records{}, errors.New("store closed") }), "store closed"},
		{"bad record name", records([]string{"corp.local"}, ARecord{Name: "a..corp.local", Addr: ip}), "not a domain name"},
		{"empty record name", records([]string{"corp.local"}, ARecord{Addr: ip}), "empty name"},
		{"bad zone", records([]string{"bad..zone"}), "zone"},
		{"IPv6 address", records([]string{"corp.local"}, ARecord{Name: "a.corp.local", Addr: netip.MustParseAddr("::1")}), "not an IPv4"},
		{"no address", records([]string{"corp.local"}, ARecord{Name: "a.corp.local"}), "not an IPv4"},
		{"loopback-only record off loopback", records([]string{"corp.local"}, ARecord{Name: "a.corp.local", Addr: ip, LoopbackOnly: true}), "not a loopback"},
		{"record outside its zones", records([]string{"corp.local"}, ARecord{Name: "www.example.com", Addr: ip}), "outside"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Build(context.Background(), LoadBalancerSource(fakeLBs{albName: albAddr}), tt.source)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestLoopbackCandidates(t *testing.T) {
	t.Parallel()
	a, b := LoopbackCandidates("instance-a"), LoopbackCandidates("instance-b")
	if len(a) != 16 || a[0] == b[0] {
		t.Fatalf("candidates %v and %v: want 16 each, different first ones", a, b)
	}
	seen := map[string]bool{}
	for _, c := range a {
		ap := netip.MustParseAddrPort(c)
		if seen[c] || ap.Port() != 53 || ap.Addr().As4()[0] != 127 || ap.Addr().As4()[1] != 53 {
			t.Errorf("candidate %s: want distinct 127.53.x.y:53", c)
		}
		seen[c] = true
	}
}

func TestUpstreamsFromResolvConf(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "resolv.conf")
	writeFile(t, path, "# comment\nsearch example.internal\nnameserver 10.1.1.1\nnameserver 10.2.2.2\noptions ndots:2\n")
	got, err := UpstreamsFromResolvConf(path)
	if err != nil || strings.Join(got, ",") != "10.1.1.1:53,10.2.2.2:53" {
		t.Fatalf("upstreams %v, %v", got, err)
	}
	if got, err := UpstreamsFromResolvConf(filepath.Join(dir, "missing")); err != nil || len(got) != 0 {
		t.Fatalf("missing file: upstreams %v, %v; want none", got, err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
