package network

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// ServeInNetNS listens on addr (e.g. "169.254.170.2:80") inside the network
// namespace at netnsPath and serves h from this process: only the thread
// that creates the socket enters the namespace, and the socket stays in it.
// Closing the returned io.Closer stops the server; so do Close, RemoveAll and
// the Teardown of the task owning the namespace.
func (m *Manager) ServeInNetNS(netnsPath, addr string, h http.Handler) (io.Closer, error) {
	var l net.Listener
	err := inNetNS(netnsPath, func() error {
		var err error
		l, err = net.Listen("tcp", addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("serve on %s in netns %s: %w", addr, netnsPath, err)
	}
	s := &netnsServer{
		m:    m,
		srv:  &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second},
		done: make(chan struct{}),
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		l.Close()
		return nil, fmt.Errorf("serve on %s in netns %s: network manager is closed", addr, netnsPath)
	}
	m.servers[s] = netnsPath
	go s.serve(l)
	return s, nil
}

// netnsServer is an HTTP server listening inside a task namespace.
type netnsServer struct {
	m    *Manager
	srv  *http.Server
	done chan struct{}
	once sync.Once
}

func (s *netnsServer) serve(l net.Listener) {
	defer close(s.done)
	if err := s.srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		l.Close()
	}
}

// Close stops the server and waits for it to end.
func (s *netnsServer) Close() error {
	s.m.mu.Lock()
	delete(s.m.servers, s)
	s.m.mu.Unlock()
	s.shutdown()
	return nil
}

func (s *netnsServer) shutdown() {
	s.once.Do(func() {
		s.srv.Close()
		<-s.done
	})
}
