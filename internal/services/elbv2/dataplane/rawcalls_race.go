//go:build race

package dataplane

// rawCalls is off in race-detector builds: the detector sees what
// net.Conn's system calls touch, not what raw ones do.
const rawCalls = false
