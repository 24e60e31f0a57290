package dataplane

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// tcpPair is a connected pair of loopback TCP connections.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// TestIdleIO: a connection's reads and writes carry every byte in order
// through a full socket buffer (raw writes then wait for room), each read
// waits at most the idle timeout, and the peer's close reads as io.EOF,
// our own as net.ErrClosed.
func TestIdleIO(t *testing.T) {
	t.Parallel()
	client, server := tcpPair(t)
	c := newIdleIO(client, time.Hour)
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<20) // 16 MiB: more than the socket buffers hold
	got := make(chan [32]byte)
	go func() {
		h := sha256.New()
		io.Copy(h, server)
		var sum [32]byte
		copy(sum[:], h.Sum(nil))
		got <- sum
	}()
	if n, err := c.Write(data); n != len(data) || err != nil {
		t.Fatalf("wrote %d of %d: %v", n, len(data), err)
	}
	client.(*net.TCPConn).CloseWrite()
	if <-got != sha256.Sum256(data) {
		t.Fatal("the bytes that arrived differ from those written")
	}

	c.idle = 50 * time.Millisecond
	buf := make([]byte, 16)
	start := time.Now()
	if _, err := c.Read(buf); !isTimeout(err) {
		t.Fatalf("read with nothing coming: %v, want a timeout", err)
	}
	if waited := time.Since(start); waited < 50*time.Millisecond || waited > 5*time.Second {
		t.Fatalf("the idle timeout of 50ms fired after %v", waited)
	}
	c.idle = time.Hour
	server.Write([]byte("hi"))
	server.Close()
	if n, err := c.Read(buf); n != 2 || err != nil || string(buf[:n]) != "hi" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
	if _, err := c.Read(buf); err != io.EOF {
		t.Fatalf("read after the peer closed: %v, want io.EOF", err)
	}
	client.Close()
	if _, err := c.Read(buf); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read after close: %v, want net.ErrClosed", err)
	}
}

// TestIdleIOQuiet: an idle connection is quiet until the peer sends
// something unasked or closes it.
func TestIdleIOQuiet(t *testing.T) {
	t.Parallel()
	client, server := tcpPair(t)
	c := newIdleIO(client, time.Hour)
	if c.raw == nil {
		t.Skip("no raw socket access in this build")
	}
	if !c.quiet() {
		t.Fatal("a fresh connection is not quiet")
	}
	server.Write([]byte("x"))
	if !waitFor(func() bool { return !c.quiet() }) {
		t.Fatal("unsolicited bytes went unnoticed")
	}
	client2, server2 := tcpPair(t)
	c2 := newIdleIO(client2, time.Hour)
	server2.Close()
	if !waitFor(func() bool { return !c2.quiet() }) {
		t.Fatal("the peer's close went unnoticed")
	}
}

// waitFor polls cond for up to 2 s.
func waitFor(cond func() bool) bool {
	for range 200 {
		if cond() {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}
