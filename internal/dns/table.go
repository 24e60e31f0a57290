package dns

import (
	"context"
	"fmt"
	"net/netip"
	"sort"

	"github.com/miekg/dns"
)

// DefaultTTL is the TTL of answers whose record sets none (seconds).
const DefaultTTL = 60

// negativeTTL is how long resolvers may remember an NXDOMAIN from kumo's
// zones (the SOA minimum): short, since names appear as resources do.
const negativeTTL = 5

// localhostZone answers every name under it with 127.0.0.1, as browsers
// and curl do, unless a more specific zone of a source holds the name.
const localhostZone = "localhost."

// Records is what one Source contributes to the table.
type Records struct {
	// Zones are the domains the source is authoritative for: a name under
	// one of them without a record is answered NXDOMAIN, never forwarded.
	Zones []string
	// A are address records; they must lie inside the source's zones.
	// Several records of one name are all answered.
	A []ARecord
}

// ARecord is one IPv4 address of a name.
type ARecord struct {
	Name string
	Addr netip.Addr
	// TTL in seconds; 0 means DefaultTTL.
	TTL uint32
	// LoopbackOnly says Addr is a loopback address of the host, which an
	// asker in another network namespace (a task) cannot reach, and that
	// the service also answers, by name, on every address the DNS server
	// listens on. A query that arrives on a non-loopback one of those is
	// answered with that address instead of Addr.
	LoopbackOnly bool
}

// Source is a part of kumo that owns DNS names: the ELBv2 load balancers
// today, Cloud Map namespaces later. The table is built from all sources.
type Source interface {
	DNSRecords(ctx context.Context) (Records, error)
}

// SourceFunc adapts a function to a Source.
type SourceFunc func(ctx context.Context) (Records, error)

// DNSRecords calls f.
func (f SourceFunc) DNSRecords(ctx context.Context) (Records, error) { return f(ctx) }

// Table is an immutable snapshot of kumo's names. Build makes one; the
// server swaps tables atomically.
type Table struct {
	zones []string // canonical, longest first so the most specific zone wins
	a     map[string][]ARecord
}

// Build reads every source and validates the result: a source error or a
// bad record fails the whole build, so the caller keeps its old table.
func Build(ctx context.Context, sources ...Source) (*Table, error) {
	t := &Table{a: map[string][]ARecord{}}
	for i, src := range sources {
		recs, err := src.DNSRecords(ctx)
		if err != nil {
			return nil, fmt.Errorf("dns source %d: %w", i, err)
		}
		if err := t.add(recs); err != nil {
			return nil, fmt.Errorf("dns source %d: %w", i, err)
		}
	}
	sort.Slice(t.zones, func(i, j int) bool { return len(t.zones[i]) > len(t.zones[j]) })
	return t, nil
}

// add validates one source's records and puts them in the table.
func (t *Table) add(recs Records) error {
	var zones []string
	for _, z := range recs.Zones {
		name, err := canonical(z)
		if err != nil {
			return fmt.Errorf("zone: %w", err)
		}
		zones = append(zones, name)
	}
	for _, r := range recs.A {
		name, err := canonical(r.Name)
		if err != nil {
			return fmt.Errorf("record: %w", err)
		}
		if !r.Addr.Is4() {
			return fmt.Errorf("record %s: %q is not an IPv4 address", name, r.Addr)
		}
		if r.LoopbackOnly && !r.Addr.IsLoopback() {
			return fmt.Errorf("record %s: loopback-only %s is not a loopback address", name, r.Addr)
		}
		if !underAny(name, zones) {
			return fmt.Errorf("record %s is outside the source's zones %v", name, zones)
		}
		if r.TTL == 0 {
			r.TTL = DefaultTTL
		}
		r.Name = name
		t.a[name] = append(t.a[name], r)
	}
	t.zones = append(t.zones, zones...)
	return nil
}

// canonical is a name in lower case with its final dot, or an error when it
// is not a domain name.
func canonical(name string) (string, error) {
	fqdn := dns.CanonicalName(name)
	if name == "" || fqdn == "." {
		return "", fmt.Errorf("empty name")
	}
	if _, ok := dns.IsDomainName(fqdn); !ok {
		return "", fmt.Errorf("%q is not a domain name", name)
	}
	return fqdn, nil
}

func underAny(name string, zones []string) bool {
	for _, z := range zones {
		if dns.IsSubDomain(z, name) {
			return true
		}
	}
	return false
}

// verdict is what the table says about a question.
type verdict int

const (
	notOurs  verdict = iota // forward upstream
	answered                // the answer section holds the records
	noData                  // the name exists, not with this type
	nxDomain                // no such name in one of kumo's zones
)

// lookup answers a question from the table. zone is the zone that holds
// the name (for the SOA of negative answers). arrivedOn is the non-loopback
// address of kumo's DNS the query came to, or the zero Addr (a loopback
// address, or one it cannot tell): when set, it answers for loopback-only
// records. Other *.localhost names keep 127.0.0.1, the asker's own
// loopback (RFC 6761).
func (t *Table) lookup(q dns.Question, arrivedOn netip.Addr) (rrs []dns.RR, zone string, v verdict) {
	name := dns.CanonicalName(q.Name)
	zone = t.zoneOf(name)
	recs, exists := t.a[name]
	switch {
	case exists:
		// handled below
	case zone != "" && name == zone && q.Qtype == dns.TypeSOA:
		return []dns.RR{soa(zone)}, zone, answered
	case zone != "" && name == zone:
		return nil, zone, noData
	case zone != "":
		return nil, zone, nxDomain
	case dns.IsSubDomain(localhostZone, name):
		zone = localhostZone
		recs = []ARecord{{Name: name, Addr: netip.AddrFrom4([4]byte{127, 0, 0, 1}), TTL: DefaultTTL}}
	default:
		return nil, "", notOurs
	}
	if q.Qtype != dns.TypeA && q.Qtype != dns.TypeANY {
		return nil, zone, noData
	}
	arrivedOnAnswered := false // several loopback-only records give it once
	for _, r := range recs {
		addr := r.Addr
		if r.LoopbackOnly && arrivedOn.IsValid() {
			if arrivedOnAnswered {
				continue
			}
			addr, arrivedOnAnswered = arrivedOn, true
		}
		rrs = append(rrs, &dns.A{
			Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: r.TTL},
			A:   addr.AsSlice(),
		})
	}
	return rrs, zone, answered
}

// zoneOf is the most specific source zone holding name, or "".
func (t *Table) zoneOf(name string) string {
	for _, z := range t.zones {
		if dns.IsSubDomain(z, name) {
			return z
		}
	}
	return ""
}

// soa is the authority record of negative answers from zone.
func soa(zone string) dns.RR {
	return &dns.SOA{
		Hdr:     dns.RR_Header{Name: zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: negativeTTL},
		Ns:      "ns.kumo." + localhostZone,
		Mbox:    "hostmaster.kumo." + localhostZone,
		Serial:  1,
		Refresh: 60, Retry: 60, Expire: 60, Minttl: negativeTTL,
	}
}
