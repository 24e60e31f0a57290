package awslogs

// PutLogEvents limits a batch must keep.
const (
	maxBatchEvents = 10000
	maxBatchBytes  = 1 << 20 // messages plus 26 bytes per event
	eventOverhead  = 26
	maxBatchSpanMs = 24*60*60*1000 - 1
)

// batch collects events up to PutLogEvents's limits. offset is the source
// offset just past the last whole line in it.
type batch struct {
	events []Event
	bytes  int
	offset int64
	// open is set while the last event is a piece of a line whose last
	// piece has not come yet: the batch cannot be sent then.
	open bool
}

// fits reports whether ev can join the batch within AWS's limits.
func (b *batch) fits(ev Event) bool {
	if len(b.events) == 0 {
		return true
	}
	return len(b.events) < maxBatchEvents &&
		b.bytes+len(ev.Message)+eventOverhead <= maxBatchBytes &&
		ev.Timestamp-b.events[0].Timestamp <= maxBatchSpanMs
}

// add appends ev, which ends at source offset end (< 0: a piece of a line
// that continues in the next event).
func (b *batch) add(ev Event, end int64) {
	b.events = append(b.events, ev)
	b.bytes += len(ev.Message) + eventOverhead
	b.open = end < 0
	if end >= 0 {
		b.offset = end
	}
}

func (b *batch) reset() {
	b.events, b.bytes, b.open = nil, 0, false
}
