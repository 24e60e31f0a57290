package network

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"
)

// udpIdleTimeout ends a UDP flow nobody has used for that long.
const udpIdleTimeout = 60 * time.Second

// maxUDPFlows bounds the client flows one published UDP port tracks.
const maxUDPFlows = 1024

// udpProxy publishes a task's UDP port: datagrams arriving on its host
// sockets go to target from one socket per client address, and the task's
// replies go back to that client from the host socket it wrote to.
type udpProxy struct {
	target  *net.UDPAddr
	sockets []*net.UDPConn

	mu     sync.Mutex
	flows  map[netip.AddrPort]*net.UDPConn // client → socket connected to the task
	closed bool
	wg     sync.WaitGroup
}

// startUDPProxy starts forwarding from sockets, which it now owns.
func startUDPProxy(sockets []*net.UDPConn, target *net.UDPAddr) *udpProxy {
	p := &udpProxy{target: target, sockets: sockets, flows: make(map[netip.AddrPort]*net.UDPConn)}
	for _, s := range sockets {
		p.wg.Add(1)
		go p.readLoop(s)
	}
	return p
}

func (p *udpProxy) readLoop(s *net.UDPConn) {
	defer p.wg.Done()
	buf := make([]byte, 64*1024)
	for {
		n, client, err := s.ReadFromUDPAddrPort(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		flow := p.flow(s, client)
		if flow == nil {
			continue // closed, full, or the task is unreachable: drop, as UDP may
		}
		flow.SetReadDeadline(time.Now().Add(udpIdleTimeout))
		flow.Write(buf[:n])
	}
}

// flow returns the socket for client's datagrams, creating it and its
// reply loop on the first datagram.
func (p *udpProxy) flow(s *net.UDPConn, client netip.AddrPort) *net.UDPConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	if f, ok := p.flows[client]; ok || p.closed || len(p.flows) >= maxUDPFlows {
		return f
	}
	f, err := net.DialUDP("udp", nil, p.target)
	if err != nil {
		return nil
	}
	p.flows[client] = f
	p.wg.Add(1)
	go p.replyLoop(s, client, f)
	return f
}

// replyLoop sends the task's replies back to the client until the flow is
// idle for udpIdleTimeout or the proxy closes.
func (p *udpProxy) replyLoop(s *net.UDPConn, client netip.AddrPort, f *net.UDPConn) {
	defer p.wg.Done()
	defer p.endFlow(client, f)
	buf := make([]byte, 64*1024)
	f.SetReadDeadline(time.Now().Add(udpIdleTimeout))
	for {
		n, err := f.Read(buf)
		if errors.Is(err, syscall.ECONNREFUSED) {
			continue // the task's port was closed for a moment: keep the flow
		}
		if err != nil {
			return // idle, or the proxy closed
		}
		s.WriteToUDPAddrPort(buf[:n], client)
	}
}

func (p *udpProxy) endFlow(client netip.AddrPort, f *net.UDPConn) {
	p.mu.Lock()
	if p.flows[client] == f {
		delete(p.flows, client)
	}
	p.mu.Unlock()
	f.Close()
}

// Close stops the proxy and waits for its goroutines to end.
func (p *udpProxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	for _, s := range p.sockets {
		s.Close()
	}
	for _, f := range p.flows {
		f.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return nil
}
