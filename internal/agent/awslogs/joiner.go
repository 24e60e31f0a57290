package awslogs

import (
	"regexp"
	"unicode/utf8"

	"github.com/kumo-project/kumo/internal/agent/logdriver"
)

// maxEventBytes is the largest message the driver sends in one event,
// Docker's awslogs limit (256 KiB less the 26 bytes AWS counts per event);
// longer lines are split.
const maxEventBytes = 256*1024 - 26

// pendingEvent is an event being assembled, with the file offset just
// past its last line.
type pendingEvent struct {
	timestamp int64
	message   []byte
	end       int64
}

// joiner turns log records into events: it rejoins lines the log driver
// split (Partial), and, with a start pattern, joins the lines of a
// multi-line event (each line then ends with "\n", as in Docker).
type joiner struct {
	start *regexp.Regexp
	emit  func(ev Event, end int64)

	partial       []byte // fragments of a line the driver split
	partialStream string
	partialTime   int64

	pending *pendingEvent // multi-line mode: the event being assembled
	lastTs  int64         // keeps the events of a stream chronological
}

func newJoiner(start *regexp.Regexp, emit func(Event, int64)) *joiner {
	return &joiner{start: start, emit: emit}
}

// add takes the record that ends at file offset end.
func (j *joiner) add(rec logdriver.Record, end int64) {
	ts := rec.TimeNanos / 1e6
	if len(j.partial) > 0 && rec.Stream != j.partialStream {
		j.line(j.partialTime, j.partial, end) // the other stream cut in: the fragment stands alone
		j.partial = nil
	}
	if rec.Partial {
		if len(j.partial) == 0 {
			j.partialStream, j.partialTime = rec.Stream, ts
		}
		j.partial = append(j.partial, rec.Message...)
		return
	}
	line := []byte(rec.Message)
	if len(j.partial) > 0 {
		line, ts = append(j.partial, line...), j.partialTime
		j.partial = nil
	}
	j.line(ts, line, end)
}

// line takes one whole line.
func (j *joiner) line(ts int64, line []byte, end int64) {
	if j.start == nil {
		j.send(ts, line, end)
		return
	}
	if j.pending != nil && j.start.Match(line) {
		j.flush()
	}
	if j.pending == nil {
		j.pending = &pendingEvent{timestamp: ts}
	}
	j.pending.message = append(append(j.pending.message, line...), '\n')
	j.pending.end = end
	if len(j.pending.message) >= maxEventBytes {
		j.flush()
	}
}

// flush sends the multi-line event being assembled, if any.
func (j *joiner) flush() {
	if p := j.pending; p != nil {
		j.pending = nil
		j.send(p.timestamp, p.message, p.end)
	}
}

// flushAll sends everything held, fragments included (the source ended).
func (j *joiner) flushAll(end int64) {
	if len(j.partial) > 0 {
		j.line(j.partialTime, j.partial, end)
		j.partial = nil
	}
	j.flush()
}

// send emits a message as one event, or several if it is too long. The
// events of a stream never go back in time.
func (j *joiner) send(ts int64, msg []byte, end int64) {
	ts = max(ts, j.lastTs)
	j.lastTs = ts
	for len(msg) > maxEventBytes {
		cut := maxEventBytes
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		// Only the last piece carries the offset: a crash between pieces
		// resends the whole line, never a part of it twice.
		j.emit(Event{Timestamp: ts, Message: string(msg[:cut])}, -1)
		msg = msg[cut:]
	}
	j.emit(Event{Timestamp: ts, Message: string(msg)}, end)
}
