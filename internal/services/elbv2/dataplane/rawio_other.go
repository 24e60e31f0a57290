//go:build !linux

package dataplane

import "net"

// rawIO is Linux's; elsewhere connections use net.Conn's own reads and
// writes.
type rawIO struct{}

func newRawIO(net.Conn) *rawIO { return nil }

func (*rawIO) read([]byte) (int, error) { panic("unreachable") }
func (*rawIO) readAfter([]byte, func() error) (int, error) {
	panic("unreachable")
}
func (*rawIO) write([]byte) (int, error) { panic("unreachable") }
func (*rawIO) quiet() bool               { return true }
