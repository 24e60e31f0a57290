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

// TestRawIO: raw reads and writes carry every byte in order through a
// full socket buffer (the EAGAIN path), honour read deadlines, and see the
// peer's close as io.EOF and their own as net.ErrClosed.
func TestRawIO(t *testing.T) {
	t.Parallel()
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
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server := <-accepted
	raw := newRawIO(client)
	if raw == nil {
		t.Fatal("no raw access to a TCP connection")
	}

	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<20) // 16 MiB: more than the socket buffers hold
	got := make(chan [32]byte)
	go func() {
		h := sha256.New()
		io.Copy(h, server)
		var sum [32]byte
		copy(sum[:], h.Sum(nil))
		got <- sum
	}()
	if n, err := writer(client, raw).Write(data); n != len(data) || err != nil {
		t.Fatalf("wrote %d of %d: %v", n, len(data), err)
	}
	client.(*net.TCPConn).CloseWrite()
	if <-got != sha256.Sum256(data) {
		t.Fatal("the bytes that arrived differ from those written")
	}

	client.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	buf := make([]byte, 16)
	if _, err := reader(client, raw).Read(buf); !isTimeout(err) {
		t.Fatalf("read past the deadline: %v, want a timeout", err)
	}
	client.SetReadDeadline(time.Time{})
	server.Write([]byte("hi"))
	server.Close()
	if n, err := reader(client, raw).Read(buf); n != 2 || err != nil || string(buf[:n]) != "hi" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
	if _, err := reader(client, raw).Read(buf); err != io.EOF {
		t.Fatalf("read after the peer closed: %v, want io.EOF", err)
	}
	client.Close()
	if _, err := reader(client, raw).Read(buf); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read after close: %v, want net.ErrClosed", err)
	}
}
