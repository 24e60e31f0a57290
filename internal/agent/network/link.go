package network

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// metadataAddr is where ECS tasks find the task metadata and credentials
// endpoints; every task namespace has it on its loopback interface.
var metadataAddr = netip.MustParsePrefix("169.254.170.2/32")

// taskIfName is the task's interface inside its namespace.
const taskIfName = "eth0"

// ensureBridge creates the bridge, or adopts an existing one, and makes sure
// it is up, with the MAC address mac and gateway/subnet as its only IPv4
// address.
func ensureBridge(name string, mac net.HardwareAddr, subnet netip.Prefix) (netlink.Link, error) {
	link, err := netlink.LinkByName(name)
	if errors.As(err, new(netlink.LinkNotFoundError)) {
		bridge := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name, HardwareAddr: mac}}
		if err := netlink.LinkAdd(bridge); err != nil {
			return nil, fmt.Errorf("create bridge %s: %w", name, err)
		}
		link, err = netlink.LinkByName(name)
	}
	if err != nil {
		return nil, fmt.Errorf("bridge %s: %w", name, err)
	}
	if link.Type() != "bridge" {
		return nil, fmt.Errorf("link %s exists and is a %s, not a bridge", name, link.Type())
	}
	if link.Attrs().HardwareAddr.String() != mac.String() {
		if err := netlink.LinkSetHardwareAddr(link, mac); err != nil {
			return nil, fmt.Errorf("set MAC address of bridge %s: %w", name, err)
		}
	}
	if err := setOnlyIPv4(link, netip.PrefixFrom(gatewayOf(subnet), subnet.Bits())); err != nil {
		return nil, fmt.Errorf("bridge %s: %w", name, err)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return nil, fmt.Errorf("bring bridge %s up: %w", name, err)
	}
	return link, nil
}

// bridgeMAC is the fixed, locally administered MAC address of an instance's
// bridge. Without a fixed address a Linux bridge takes the lowest MAC of its
// ports, which changes as tasks come and go and leaves the tasks' ARP
// entries for their gateway stale.
func bridgeMAC(instanceID string) net.HardwareAddr {
	sum := sha256.Sum256([]byte("kumo bridge " + instanceID))
	return net.HardwareAddr{0x02, 0x6b, sum[0], sum[1], sum[2], sum[3]}
}

// retryDump runs a netlink dump again when the kernel interrupted it: a
// dump that a concurrent change of the table cut across (another task's
// veth coming or going) fails with EINTR, and is whole when asked again.
func retryDump[T any](dump func() (T, error)) (T, error) {
	for attempt := 1; ; attempt++ {
		v, err := dump()
		if !errors.Is(err, unix.EINTR) || attempt == 5 {
			return v, err
		}
	}
}

// addrsOf lists the IPv4 addresses of a link.
func addrsOf(link netlink.Link) ([]netlink.Addr, error) {
	return retryDump(func() ([]netlink.Addr, error) { return netlink.AddrList(link, netlink.FAMILY_V4) })
}

// setOnlyIPv4 gives link the address want and removes its other IPv4
// addresses.
func setOnlyIPv4(link netlink.Link, want netip.Prefix) error {
	addrs, err := addrsOf(link)
	if err != nil {
		return fmt.Errorf("list addresses: %w", err)
	}
	found := false
	for _, a := range addrs {
		if prefixOf(a.IPNet) == want {
			found = true
			continue
		}
		if err := netlink.AddrDel(link, &a); err != nil {
			return fmt.Errorf("remove address %s: %w", a.IPNet, err)
		}
	}
	if found {
		return nil
	}
	if err := netlink.AddrAdd(link, &netlink.Addr{IPNet: ipNet(want)}); err != nil {
		return fmt.Errorf("add address %s: %w", want, err)
	}
	return nil
}

// bridgeSubnet returns the subnet of an existing bridge's IPv4 address, if
// the bridge exists and has one.
func bridgeSubnet(name string) (netip.Prefix, bool) {
	link, err := netlink.LinkByName(name)
	if err != nil {
		return netip.Prefix{}, false
	}
	addrs, err := addrsOf(link)
	if err != nil || len(addrs) == 0 {
		return netip.Prefix{}, false
	}
	return prefixOf(addrs[0].IPNet).Masked(), true
}

// deleteBridge deletes the bridge and the veths still attached to it.
func deleteBridge(name string) error {
	bridge, err := netlink.LinkByName(name)
	if errors.As(err, new(netlink.LinkNotFoundError)) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("bridge %s: %w", name, err)
	}
	links, err := retryDump(netlink.LinkList)
	if err != nil {
		return fmt.Errorf("list links: %w", err)
	}
	var errs []error
	for _, l := range links {
		if l.Attrs().MasterIndex == bridge.Attrs().Index && l.Type() == "veth" {
			errs = append(errs, deleteLink(l.Attrs().Name))
		}
	}
	if err := netlink.LinkDel(bridge); err != nil {
		errs = append(errs, fmt.Errorf("delete bridge %s: %w", name, err))
	}
	return errors.Join(errs...)
}

// routedPrefixes returns the IPv4 destinations the host routes, in every
// routing table, except those through the link with index skipIndex.
func routedPrefixes(skipIndex int) ([]netip.Prefix, error) {
	routes, err := retryDump(func() ([]netlink.Route, error) {
		return netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	})
	if err != nil {
		return nil, fmt.Errorf("list routes: %w", err)
	}
	var out []netip.Prefix
	for _, r := range routes {
		if r.Dst == nil || (skipIndex != 0 && r.LinkIndex == skipIndex) {
			continue
		}
		out = append(out, prefixOf(r.Dst))
	}
	return out, nil
}

// createVeth creates a veth pair: host end hostName attached to the bridge,
// other end eth0 inside the namespace at nsPath. It configures eth0 with ip
// in subnet, a default route through the gateway, and the loopback interface
// with the metadata address; it returns eth0's MAC address.
func createVeth(hostName string, bridge netlink.Link, nsPath string, ip netip.Addr, subnet netip.Prefix) (string, error) {
	ns, err := netns.GetFromPath(nsPath)
	if err != nil {
		return "", fmt.Errorf("open netns %s: %w", nsPath, err)
	}
	defer ns.Close()
	veth := &netlink.Veth{
		LinkAttrs:        netlink.LinkAttrs{Name: hostName, MasterIndex: bridge.Attrs().Index},
		PeerName:         taskIfName,
		PeerNamespace:    netlink.NsFd(ns),
		PeerHardwareAddr: macForIP(ip),
	}
	if err := netlink.LinkAdd(veth); err != nil {
		return "", fmt.Errorf("create veth %s: %w", hostName, err)
	}
	if err := netlink.LinkSetUp(veth); err != nil {
		return "", fmt.Errorf("bring veth %s up: %w", hostName, err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return "", fmt.Errorf("netlink in netns %s: %w", nsPath, err)
	}
	defer h.Close()
	return configureTaskIf(h, netip.PrefixFrom(ip, subnet.Bits()), gatewayOf(subnet))
}

// configureTaskIf addresses eth0 and routes through the gateway.
func configureTaskIf(h *netlink.Handle, addr netip.Prefix, gateway netip.Addr) (string, error) {
	eth0, err := h.LinkByName(taskIfName)
	if err != nil {
		return "", fmt.Errorf("find %s: %w", taskIfName, err)
	}
	if err := h.AddrAdd(eth0, &netlink.Addr{IPNet: ipNet(addr)}); err != nil {
		return "", fmt.Errorf("add address %s: %w", addr, err)
	}
	if err := h.LinkSetUp(eth0); err != nil {
		return "", fmt.Errorf("bring %s up: %w", taskIfName, err)
	}
	route := &netlink.Route{LinkIndex: eth0.Attrs().Index, Gw: net.IP(gateway.AsSlice())}
	if err := h.RouteAdd(route); err != nil {
		return "", fmt.Errorf("add default route via %s: %w", gateway, err)
	}
	return eth0.Attrs().HardwareAddr.String(), nil
}

// configureLoopback brings lo up in the namespace at nsPath and, if
// withMetadata, adds the task metadata address to it.
func configureLoopback(nsPath string, withMetadata bool) error {
	ns, err := netns.GetFromPath(nsPath)
	if err != nil {
		return fmt.Errorf("open netns %s: %w", nsPath, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("netlink in netns %s: %w", nsPath, err)
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("find lo: %w", err)
	}
	if err := h.LinkSetUp(lo); err != nil {
		return fmt.Errorf("bring lo up: %w", err)
	}
	if !withMetadata {
		return nil
	}
	if err := h.AddrAdd(lo, &netlink.Addr{IPNet: ipNet(metadataAddr)}); err != nil {
		return fmt.Errorf("add %s to lo: %w", metadataAddr, err)
	}
	return nil
}

// vethAttached reports whether the host end name exists on bridge.
func vethAttached(name string, bridge netlink.Link) bool {
	l, err := netlink.LinkByName(name)
	return err == nil && l.Attrs().MasterIndex == bridge.Attrs().Index
}

// linkExists reports whether a host link of that name exists.
func linkExists(name string) bool {
	_, err := netlink.LinkByName(name)
	return err == nil
}

// deleteLink deletes a host link; a missing link is not an error. The
// kernel removes a veth by itself, asynchronously, when the namespace of its
// peer goes away, so the link may vanish between lookup and delete.
func deleteLink(name string) error {
	l, err := netlink.LinkByName(name)
	if errors.As(err, new(netlink.LinkNotFoundError)) {
		return nil
	}
	if err == nil {
		err = netlink.LinkDel(l)
	}
	if errors.Is(err, unix.ENODEV) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete link %s: %w", name, err)
	}
	return nil
}

func prefixOf(n *net.IPNet) netip.Prefix {
	a, _ := netip.AddrFromSlice(n.IP)
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones)
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// macForIP derives a task's MAC address from its IP (0a:58:a:b:c:d, as CNI
// bridges do). IPs are reused as soon as a task is gone; with a random MAC
// the host's neighbour cache would keep the old task's address for a while
// and the new task would be unreachable until it expired.
func macForIP(ip netip.Addr) net.HardwareAddr {
	b := ip.As4()
	return net.HardwareAddr{0x0a, 0x58, b[0], b[1], b[2], b[3]}
}
