// Package logdriver is containerd's "binary" logging driver for kumo and the
// reader of the files it writes.
//
//	container stdout ─fd 3─┐
//	                       ├─► Main ─► <task>/logs/<container>.log (JSON lines, fsync ≤200ms)
//	container stderr ─fd 4─┘
//
// The driver process is a child of the container's shim, not of kumo, so it
// keeps recording while kumo is down or killed; the file is the node's
// durable copy of a container's output, which log shippers read with Reader.
package logdriver

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// MaxLine is the longest message one record holds; longer lines are split
// into records marked Partial, all but the last.
const MaxLine = 256 * 1024

// flushInterval bounds how long a printed line may sit in memory.
const flushInterval = 200 * time.Millisecond

// drainTimeout bounds how long the driver keeps reading after SIGTERM (the
// shim sends it after closing the pipes, so only buffered output is left).
const drainTimeout = 2 * time.Second

// Record is one line (or fragment of a line) a container printed.
type Record struct {
	TimeNanos int64  `json:"t"`           // when the driver read it, unix nanoseconds
	Stream    string `json:"s"`           // "stdout" or "stderr"
	Message   string `json:"m"`           // the line without its newline
	Partial   bool   `json:"p,omitempty"` // the line continues in the next record of the stream
}

// Time returns when the record was read.
func (r Record) Time() time.Time { return time.Unix(0, r.TimeNanos).UTC() }

// Main runs the driver as the shim starts it: stdout on fd 3, stderr on fd 4,
// fd 5 closed to tell the shim the driver is ready. It appends records to
// path until both streams end.
func Main(path string) error {
	stdout := os.NewFile(3, "container-stdout")
	stderr := os.NewFile(4, "container-stderr")
	ready := os.NewFile(5, "container-wait")
	if stdout == nil || stderr == nil || ready == nil {
		return errors.New("log driver: fds 3, 4 and 5 must be open (run by a containerd shim)")
	}
	terminate := make(chan os.Signal, 1)
	signal.Notify(terminate, syscall.SIGTERM, syscall.SIGINT)
	return run(path, stdout, stderr, func() error { return ready.Close() }, terminate)
}

// run copies both streams into the file at path. It returns when both
// streams end, or drainTimeout after a signal on terminate.
func run(path string, stdout, stderr io.Reader, ready func() error, terminate <-chan os.Signal) error {
	w, err := openWriter(path)
	if err != nil {
		return err
	}
	if err := ready(); err != nil {
		w.close()
		return fmt.Errorf("log driver: signal ready: %w", err)
	}
	var wg sync.WaitGroup
	for _, s := range []struct {
		name string
		r    io.Reader
	}{{"stdout", stdout}, {"stderr", stderr}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			copyLines(w, s.name, s.r)
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	tick := time.NewTicker(flushInterval)
	defer tick.Stop()
	var drainDeadline <-chan time.Time
	for {
		select {
		case <-done:
			return w.close()
		case <-tick.C:
			w.sync()
		case <-terminate:
			w.sync()
			drainDeadline = time.After(drainTimeout)
		case <-drainDeadline:
			return w.close()
		}
	}
}

// copyLines turns a stream into records, splitting lines longer than MaxLine.
func copyLines(w *writer, stream string, r io.Reader) {
	br := bufio.NewReaderSize(r, MaxLine)
	for {
		line, err := br.ReadSlice('\n')
		switch {
		case err == nil:
			w.write(Record{Stream: stream, Message: string(line[:len(line)-1])})
		case errors.Is(err, bufio.ErrBufferFull):
			w.write(Record{Stream: stream, Message: string(line), Partial: true})
		default:
			if len(line) > 0 { // the stream ended without a final newline
				w.write(Record{Stream: stream, Message: string(line)})
			}
			return
		}
	}
}

// writer appends records to the log file; safe for concurrent use.
type writer struct {
	mu  sync.Mutex
	f   *os.File
	buf *bufio.Writer
	err error // first write error; later writes are dropped
}

func openWriter(path string) (*writer, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("log driver: %w", err)
	}
	return &writer{f: f, buf: bufio.NewWriterSize(f, 64*1024)}, nil
}

func (w *writer) write(r Record) {
	r.TimeNanos = time.Now().UnixNano()
	line, _ := json.Marshal(r) // a Record always marshals
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return
	}
	if _, err := w.buf.Write(append(line, '\n')); err != nil {
		w.err = err
	}
}

// sync flushes buffered records to the file and the file to disk.
func (w *writer) sync() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil && w.buf.Buffered() > 0 {
		if err := w.buf.Flush(); err != nil {
			w.err = err
		} else if err := w.f.Sync(); err != nil {
			w.err = err
		}
	}
	return w.err
}

func (w *writer) close() error {
	err := w.sync()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	return err
}
