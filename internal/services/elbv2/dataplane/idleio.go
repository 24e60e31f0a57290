package dataplane

import (
	"net"
	"time"
)

// idleIO is what the bufio reader and writer of a direct-path connection
// sit on. Every read and write may wait at most the idle timeout, as ALB
// closes a connection on which no data moved for that long: a client that
// sent nothing (or stopped reading), a target that does not answer (504)
// or stalls mid-body. The deadline moves only when it falls outside
// [now+idle, now+idle*65/64], so a busy connection changes it about once
// in idle/64 rather than at every call (each change is a runtime timer
// update).
type idleIO struct {
	nc   net.Conn
	raw  *rawIO // nil (or !rawCalls): nc's own reads and writes
	idle time.Duration
	// before, when set, runs at the start of the next read (see
	// rawIO.readAfter): the flush of a request whose answer it reads.
	before func() error
	// deadline is the one set on nc, as time since clockBase; 0: none.
	deadline time.Duration
}

// clockBase lets arm read the monotonic clock alone (time.Since of a
// time with a monotonic reading), where time.Now reads the wall clock
// too: arm runs at every read and write.
var clockBase = time.Now()

func newIdleIO(nc net.Conn, idle time.Duration) *idleIO {
	return &idleIO{nc: nc, raw: newRawIO(nc), idle: idle}
}

func (c *idleIO) Read(p []byte) (int, error) {
	c.arm()
	before := c.before
	c.before = nil
	switch {
	case c.raw != nil && rawCalls && before != nil:
		return c.raw.readAfter(p, before)
	case before != nil:
		if err := before(); err != nil {
			return 0, err
		}
	}
	if c.raw == nil || !rawCalls {
		return c.nc.Read(p)
	}
	return c.raw.read(p)
}

func (c *idleIO) Write(p []byte) (int, error) {
	c.arm()
	if c.raw == nil || !rawCalls {
		return c.nc.Write(p)
	}
	return c.raw.write(p)
}

func (c *idleIO) arm() {
	now := time.Since(clockBase)
	if d := c.deadline - now; c.deadline != 0 && d >= c.idle && d <= c.idle+c.idle/64 {
		return
	}
	c.deadline = now + c.idle + c.idle/64
	c.nc.SetDeadline(clockBase.Add(c.deadline))
}

// disarm clears the deadline, for the connection's next owner.
func (c *idleIO) disarm() {
	c.deadline = 0
	c.nc.SetDeadline(time.Time{})
}

// quiet reports whether nothing waits to be read on an idle connection
// (see rawIO.quiet); without raw access it cannot tell and says yes.
func (c *idleIO) quiet() bool { return c.raw == nil || c.raw.quiet() }

// rawConn is a connection whose reads and writes are rawIO's: what a TLS
// session of the front sits on, so its records travel by raw calls too.
type rawConn struct {
	net.Conn
	raw *rawIO
}

// withRawIO wraps nc in a rawConn when raw calls are possible, else
// returns it as it is.
func withRawIO(nc net.Conn) net.Conn {
	if raw := newRawIO(nc); raw != nil && rawCalls {
		return &rawConn{Conn: nc, raw: raw}
	}
	return nc
}

func (c *rawConn) Read(p []byte) (int, error)  { return c.raw.read(p) }
func (c *rawConn) Write(p []byte) (int, error) { return c.raw.write(p) }
