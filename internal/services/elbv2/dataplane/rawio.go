//go:build linux

package dataplane

import (
	"io"
	"net"
	"syscall"
	"unsafe"
)

// rawIO reads and writes a TCP connection of the direct path with raw
// system calls. The sockets are non-blocking, so a read or write returns
// at once (EAGAIN when it would wait; the goroutine then parks in the
// poller as net.Conn's would). What it skips is the runtime's
// entersyscall/exitsyscall: on a busy loopback a write, which delivers to
// the peer in the same call, often outlasts sysmon's 20 µs tick, sysmon
// then hands the P to another thread, and keeps ticking every 20 µs for
// as long as that goes on. That cost nginx does not pay; with raw calls
// sysmon sees running goroutines and backs off to its 10 ms tick.
type rawIO struct {
	rc syscall.RawConn
	// The read and the write in progress: the closures handed to rc are
	// made once per connection and work on these.
	reading, writing rawOp
	readFn, writeFn  func(fd uintptr) bool
	peekFn           func(fd uintptr)
	peeked           bool // what peekFn saw: nothing to read
	// before is what readAfter runs first, inside the read.
	before      func() error
	readAfterFn func(fd uintptr) bool
}

// rawOp is a read or write in progress: its buffer, the bytes done, the
// error that ended it.
type rawOp struct {
	buf []byte
	n   int
	err error
}

// newRawIO gives raw access to nc, or nil when nc is not a socket (tests'
// pipes): callers then use nc itself.
func newRawIO(nc net.Conn) *rawIO {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	r := &rawIO{rc: rc}
	r.readFn, r.writeFn, r.peekFn, r.readAfterFn = r.readOnce, r.writeSome, r.peekQuiet, r.sendThenRead
	return r
}

func (r *rawIO) read(p []byte) (int, error) { return r.run(&r.reading, p, false, r.readFn) }

func (r *rawIO) write(p []byte) (int, error) { return r.run(&r.writing, p, true, r.writeFn) }

// run does one read or write: op is where fn finds p and leaves the
// bytes done and the error that ended it.
func (r *rawIO) run(op *rawOp, p []byte, write bool, fn func(fd uintptr) bool) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	*op = rawOp{buf: p}
	var err error
	if write {
		err = r.rc.Write(fn)
	} else {
		err = r.rc.Read(fn)
	}
	done := *op
	*op = rawOp{}
	if err != nil {
		return done.n, err
	}
	return done.n, done.err
}

// readAfter runs before (a request's write), then waits for data and
// reads it into p. A read has to try the socket first (the poller forgets,
// as a read starts, what arrived before), and right after a request it
// finds nothing: the EAGAIN costs a system call. Sent from inside the
// read, the request's answer arrives after that start, so the read can
// wait for it first. Only for a socket with nothing unread: a pooled
// upstream connection (see rawIO.quiet) or a new one.
func (r *rawIO) readAfter(p []byte, before func() error) (int, error) {
	if len(p) == 0 {
		return 0, before()
	}
	r.before = before
	defer func() { r.before = nil }()
	return r.run(&r.reading, p, false, r.readAfterFn)
}

func (r *rawIO) sendThenRead(fd uintptr) bool {
	if before := r.before; before != nil {
		r.before = nil
		if err := before(); err != nil {
			r.reading.err = err
			return true
		}
		return false // wait for the answer
	}
	return r.readOnce(fd)
}

// readOnce reads into the buffer; false (wait for data) on EAGAIN.
func (r *rawIO) readOnce(fd uintptr) bool {
	op := &r.reading
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&op.buf[0])), uintptr(len(op.buf)))
		switch {
		case e == syscall.EINTR:
			continue
		case e == syscall.EAGAIN:
			return false
		case e != 0:
			op.err = e
		case n == 0:
			op.err = io.EOF
		default:
			op.n = int(n)
		}
		return true
	}
}

// writeSome writes what is left of the buffer; false (wait for room) on
// EAGAIN.
func (r *rawIO) writeSome(fd uintptr) bool {
	op := &r.writing
	for op.n < len(op.buf) {
		rest := op.buf[op.n:]
		n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&rest[0])), uintptr(len(rest)))
		switch {
		case e == syscall.EINTR:
			continue
		case e == syscall.EAGAIN:
			return false
		case e != 0:
			op.err = e
			return true
		}
		op.n += int(n)
	}
	return true
}

// quiet reports whether nothing can be read from an idle connection: no
// unsolicited bytes and no end of stream from the peer. One non-blocking
// peek; a pooled connection must pass it before it carries a request, or
// another client's request could get bytes meant for no one, and a
// connection the target closed is dropped before it is written to.
func (r *rawIO) quiet() bool {
	r.peeked = false
	r.rc.Control(r.peekFn)
	return r.peeked
}

func (r *rawIO) peekQuiet(fd uintptr) {
	var b [1]byte
	_, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b[0])), 1,
		syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
	r.peeked = e == syscall.EAGAIN
}
