// Package network gives each ECS task of the node agent its network, in the
// four ECS network modes.
//
// One Manager serves one kumo instance. Its names all derive from the
// instance ID, so several kumo instances on one machine never collide:
//
//	host netns                                 task netns kumo-<inst>-<task>
//	┌──────────────────────────────────┐       ┌─────────────────────────────┐
//	│ bridge kumo-<inst>  10.x.y.1/24  │       │ lo   127.0.0.1              │
//	│   └─ veth kv<hash> ──────────────┼───────┼─ eth0 10.x.y.n/24           │
//	│                                  │       │      default via 10.x.y.1   │
//	│ userland TCP/UDP proxies (bridge │       │ lo   169.254.170.2/32       │
//	│ mode): 127.0.0.1:<hostPort> and  │       │      (task metadata, served │
//	│ 10.x.y.1:<hostPort> → task:port  │       │      by ServeInNetNS)       │
//	└──────────────────────────────────┘       └─────────────────────────────┘
//
// awsvpc and bridge tasks get a named network namespace (visible to
// `ip netns list`), a veth pair into the instance bridge and an address from
// the instance subnet; bridge mode also publishes container ports on the host
// through userland TCP and UDP proxies (no iptables). host mode uses the host network;
// none mode gets a namespace with only a loopback interface.
//
// Every allocation is written to StateDir before its resources are created
// and completed afterwards, so a restarted kumo re-adopts namespaces, IPs and
// published ports, and Teardown can always find what a crash left behind.
package network
