// Package dns is kumo's DNS server: the tasks' resolver and the way load
// balancer names resolve on the host.
//
//	Sources (ELBv2 load balancers; Cloud Map later)
//	   │ Records: zones + A records
//	   ▼
//	Build ──► Table (immutable, validated) ──► atomic swap; a bad build keeps the old one
//	                                              │
//	query (UDP/TCP, bridge IP:53 and a loopback address) ──► Table lookup
//	   ├─ a record of a zone                 → its addresses
//	   ├─ unknown name under a zone          → NXDOMAIN
//	   ├─ other *.localhost                  → 127.0.0.1 (as browsers do)
//	   └─ anything else                      → forwarded to the host's upstream resolvers
//
// The table is rebuilt from its sources every RefreshInterval, and when a
// query misses under one of kumo's zones (unless a build began after the
// query arrived), so a load balancer created a moment ago resolves at once.
package dns
