package network

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// proxyDialTimeout bounds how long a published port waits for the task.
const proxyDialTimeout = 5 * time.Second

// tcpProxy forwards every connection accepted on its listeners to target,
// the task's address and container port. It is how bridge mode publishes
// ports without iptables.
type tcpProxy struct {
	target    string
	listeners []net.Listener

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// startTCPProxy starts forwarding from listeners, which it now owns.
func startTCPProxy(listeners []net.Listener, target string) *tcpProxy {
	p := &tcpProxy{target: target, listeners: listeners, conns: make(map[net.Conn]struct{})}
	for _, l := range listeners {
		p.wg.Add(1)
		go p.acceptLoop(l)
	}
	return p
}

func (p *tcpProxy) acceptLoop(l net.Listener) {
	defer p.wg.Done()
	for {
		c, err := l.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			// Out of file descriptors or similar: wait rather than spin.
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if !p.track(c) {
			c.Close()
			return
		}
		p.wg.Add(1)
		go p.forward(c)
	}
}

// forward copies both ways between the client and the task until both sides
// have finished sending.
func (p *tcpProxy) forward(client net.Conn) {
	defer p.wg.Done()
	defer p.untrack(client)
	task, err := net.DialTimeout("tcp", p.target, proxyDialTimeout)
	if err != nil {
		return
	}
	if !p.track(task) {
		task.Close()
		return
	}
	defer p.untrack(task)
	done := make(chan struct{})
	go func() {
		copyAndCloseWrite(task, client)
		close(done)
	}()
	copyAndCloseWrite(client, task)
	<-done
}

// copyAndCloseWrite copies src to dst, then tells dst no more data comes, so
// half-closed connections (a client that sends a request and shuts down its
// write side) work through the proxy.
func copyAndCloseWrite(dst, src net.Conn) {
	io.Copy(dst, src)
	if cw, ok := dst.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
}

// track registers an open connection; it returns false once the proxy is
// closed.
func (p *tcpProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *tcpProxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

// Close stops listening, cuts the open connections and waits for the
// proxy's goroutines to end.
func (p *tcpProxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	for _, l := range p.listeners {
		l.Close()
	}
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return nil
}
