// Package awslogs is the node agent's awslogs log driver: it follows a
// container's log file (written by `kumo log-driver`) and ships its lines
// to CloudWatch Logs through a Sink, the way ECS's awslogs driver does.
//
//	<task>/logs/<container>.log ─► Reader ─► joiner (partial lines, multi-line
//	     events) ─► batcher (AWS's PutLogEvents limits) ─► Sink.Put(offset)
//
// Delivery is exactly once across crashes: every batch carries the file
// offset just past its last line, the sink stores that offset with the
// events, and a shipper (re)starting asks the sink where to resume
// (Delivered). A batch the sink already holds is recognised by its offset
// and ignored.
package awslogs

import "context"

// Destination is a log stream of an account and region.
type Destination struct {
	Account string
	Region  string
	Group   string
	Stream  string
}

// Event is one log event to store.
type Event struct {
	Timestamp int64 // ms since the epoch
	Message   string
}

// Sink stores shipped events: the CloudWatch Logs service, in process
// today, over the Logs API later.
type Sink interface {
	// EnsureGroup creates the log group unless it exists.
	EnsureGroup(ctx context.Context, dest Destination) error
	// EnsureStream creates the log stream unless it exists. The group must
	// exist.
	EnsureStream(ctx context.Context, dest Destination) error
	// Delivered returns the offset in source up to which the stream holds
	// its events: the offset of the last batch Put stored, 0 if none.
	Delivered(ctx context.Context, dest Destination, source string) (int64, error)
	// Put stores events, in chronological order, read from source up to
	// offset. A batch whose offset is not beyond Delivered is ignored, so a
	// batch sent again after a crash is stored once.
	Put(ctx context.Context, dest Destination, source string, offset int64, events []Event) error
}
