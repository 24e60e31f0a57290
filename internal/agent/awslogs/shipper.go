package awslogs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/kumo-project/kumo/internal/agent/logdriver"
	"github.com/kumo-project/kumo/internal/clock"
)

// Timings of a shipper.
const (
	// pollInterval is how often a caught-up shipper looks for new output.
	pollInterval = 100 * time.Millisecond
	// multilineFlush is how long a multi-line event waits for more lines
	// once the output goes quiet.
	multilineFlush = time.Second
	// drainGrace is how long output must stay quiet after the container
	// exited before the shipper ends (the log driver drains for up to 2s).
	drainGrace = 2 * time.Second
	// maxRetryWait caps the wait between attempts to reach the sink.
	maxRetryWait = 10 * time.Second
	// recordsPerRound bounds the records read before the loop looks up
	// (cancellation, idle flush, non-blocking drops).
	recordsPerRound = 50000
)

// Config configures the shipper of one container's output.
type Config struct {
	// Path is the container's log file (required).
	Path string
	// Source names the file to the sink, e.g. "<taskID>/<container>"
	// (required); the sink remembers how far each source was delivered.
	Source string
	// Dest is the log stream the output goes to (required).
	Dest    Destination
	Options Options
	Sink    Sink // required
	// Finished reports whether the container has exited for good; the
	// shipper then ends once the file is drained (required).
	Finished func() bool
	Clock    clock.Clock  // default the wall clock
	Logger   *slog.Logger // default slog.Default()
}

// shipper is one run of Run.
type shipper struct {
	cfg    Config
	joiner *joiner
	batch  batch
	err    error // a send failed for good (the context ended)
	offset int64 // of the next unread byte of the file
	ctx    context.Context
	warned bool
}

// Run ships the file's output from where the sink says delivery stopped
// until ctx ends or the container finished and its output is delivered.
// Sink failures are retried: in blocking mode nothing is skipped.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Path == "" || cfg.Source == "" || cfg.Sink == nil || cfg.Finished == nil {
		return errors.New("awslogs: Path, Source, Sink and Finished are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &shipper{cfg: cfg, ctx: ctx}
	s.joiner = newJoiner(cfg.Options.StartPattern, s.take)
	offset, err := s.prepare()
	if err != nil {
		return err
	}
	s.offset = offset
	r, err := s.open(offset)
	if r == nil {
		return err
	}
	defer r.Close()
	return s.follow(r)
}

// prepare creates the group (awslogs-create-group) and the stream, and
// asks where delivery stopped.
func (s *shipper) prepare() (int64, error) {
	var offset int64
	err := s.retry(func() error {
		if err := s.ensure(); err != nil {
			return err
		}
		var err error
		offset, err = s.cfg.Sink.Delivered(s.ctx, s.cfg.Dest, s.cfg.Source)
		return err
	})
	return offset, err
}

// ensure creates the group (with awslogs-create-group) and the stream
// unless they exist.
func (s *shipper) ensure() error {
	if s.cfg.Options.CreateGroup {
		if err := s.cfg.Sink.EnsureGroup(s.ctx, s.cfg.Dest); err != nil {
			return err
		}
	}
	return s.cfg.Sink.EnsureStream(s.ctx, s.cfg.Dest)
}

// open waits for the log file to exist. It returns a nil reader when the
// container finished without ever writing one.
func (s *shipper) open(offset int64) (*logdriver.Reader, error) {
	for {
		r, err := logdriver.NewReader(s.cfg.Path, offset)
		if err == nil {
			return r, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("awslogs: %w", err)
		}
		if s.cfg.Finished() {
			return nil, nil
		}
		if err := s.sleep(pollInterval); err != nil {
			return nil, err
		}
	}
}

// follow reads the file as it grows and ships its events.
func (s *shipper) follow(r *logdriver.Reader) error {
	lastRead := s.cfg.Clock.Now()
	var finishedAt time.Time
	for {
		if s.cfg.Options.NonBlocking {
			s.dropBacklog(r)
		}
		n, offset, err := s.readRound(r)
		if err != nil {
			return err
		}
		now := s.cfg.Clock.Now()
		if n > 0 {
			lastRead = now
		}
		if now.Sub(lastRead) >= multilineFlush {
			s.joiner.flush()
		}
		if n == recordsPerRound {
			continue
		}
		if !s.batch.open && len(s.batch.events) > 0 {
			if err := s.send(); err != nil {
				return err
			}
		}
		if s.cfg.Finished() {
			if finishedAt.IsZero() {
				finishedAt = now
			}
			if now.Sub(finishedAt) >= drainGrace && now.Sub(lastRead) >= drainGrace {
				s.joiner.flushAll(offset)
				if s.err != nil {
					return s.err
				}
				return s.send()
			}
		}
		if err := s.sleep(pollInterval); err != nil {
			return err
		}
	}
}

// readRound feeds the joiner the records written so far, at most
// recordsPerRound, and returns how many it read and the offset reached.
func (s *shipper) readRound(r *logdriver.Reader) (int, int64, error) {
	for n := 0; n < recordsPerRound; n++ {
		rec, end, err := r.Next()
		if errors.Is(err, io.EOF) {
			return n, s.offset, s.err
		}
		if err != nil {
			return n, s.offset, fmt.Errorf("awslogs: %w", err)
		}
		s.offset = end
		s.joiner.add(rec, end)
		if s.err != nil {
			return n, s.offset, s.err
		}
	}
	return recordsPerRound, s.offset, s.err
}

// take is the joiner's output: it adds ev to the batch, sending the batch
// first when ev does not fit. A piece of a split line (end < 0) starts a
// batch of its own so that all pieces of a line travel together (at most
// four pieces of 256 KiB: they fit one batch).
func (s *shipper) take(ev Event, end int64) {
	if s.err != nil {
		return
	}
	full := !s.batch.fits(ev) || (end < 0 && len(s.batch.events) > 0)
	if full && !s.batch.open {
		if s.err = s.send(); s.err != nil {
			return
		}
	}
	s.batch.add(ev, end)
}

// send delivers the batch, retrying until the sink takes it.
func (s *shipper) send() error {
	if len(s.batch.events) == 0 {
		return nil
	}
	failed := false
	err := s.retry(func() error {
		if failed {
			// The stream (or group) may have been deleted meanwhile: make
			// it again, as at the start.
			s.ensure()
		}
		err := s.cfg.Sink.Put(s.ctx, s.cfg.Dest, s.cfg.Source, s.batch.offset, s.batch.events)
		failed = err != nil
		return err
	})
	if err == nil {
		s.batch.reset()
	}
	return err
}

// dropBacklog is non-blocking mode: output more than MaxBufferSize bytes
// behind the end of the file is skipped, as Docker drops messages when its
// buffer is full.
func (s *shipper) dropBacklog(r *logdriver.Reader) {
	info, err := os.Stat(s.cfg.Path)
	if err != nil {
		return
	}
	dropped := 0
	for info.Size()-s.offset > s.cfg.Options.MaxBufferSize {
		_, end, err := r.Next()
		if err != nil {
			break
		}
		s.offset = end
		dropped++
	}
	if dropped > 0 {
		s.cfg.Logger.Warn("awslogs: non-blocking buffer full, lines dropped", "stream", s.cfg.Dest.Stream, "lines", dropped)
	}
}

// retry calls fn until it succeeds or ctx ends, waiting longer after each
// failure; the first failure of a run of them is logged.
func (s *shipper) retry(fn func() error) error {
	wait := 100 * time.Millisecond
	for {
		err := fn()
		if err == nil {
			s.warned = false
			return nil
		}
		if s.ctx.Err() != nil {
			return s.ctx.Err()
		}
		if !s.warned {
			s.cfg.Logger.Warn("awslogs: delivery failed, retrying", "group", s.cfg.Dest.Group, "stream", s.cfg.Dest.Stream, "err", err)
			s.warned = true
		}
		if err := s.sleep(wait); err != nil {
			return err
		}
		wait = min(2*wait, maxRetryWait)
	}
}

func (s *shipper) sleep(d time.Duration) error {
	select {
	case <-s.ctx.Done():
		return s.ctx.Err()
	case <-s.cfg.Clock.After(d):
		return nil
	}
}
