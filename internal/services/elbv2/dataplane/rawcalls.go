//go:build !race

package dataplane

// rawCalls: reads and writes of direct-path sockets go through rawIO.
const rawCalls = true
