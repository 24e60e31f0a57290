// Package logstore is kumo's CloudWatch Logs storage engine: log groups
// and streams with their metadata, and each stream's events in append-only,
// zstd-compressed segment files with a sparse time index.
//
//	<dir>/meta.db                      groups and streams (bbolt)
//	<dir>/streams/<id>/<seq>.seg       a stream's segments: blocks of events
//
// An Append returns only once its events are written and fsynced
// (concurrent appends to a stream share one write and one fsync), so an
// acknowledged event survives kill -9; a torn tail left by a crash is
// truncated when the store opens. Retention drops whole segments and
// rewrites the one straddling the cutoff; reads hide expired events in the
// meantime.
package logstore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Errors callers test with errors.Is; the API layer maps them to AWS codes.
var (
	ErrNotFound      = errors.New("not found")
	ErrAlreadyExists = errors.New("already exists")
	ErrClosed        = errors.New("log store closed")
)

// Clock tells the engine the time (creation, ingestion, retention).
type Clock interface {
	Now() time.Time
}

// Config configures a Store.
type Config struct {
	// Dir holds all the engine's files. Required.
	Dir string
	// Clock stamps creation and ingestion times and drives retention. Required.
	Clock Clock
	// SegmentBytes is the size after which a stream starts a new segment
	// file (retention drops whole segments). Default 8 MiB.
	SegmentBytes int64
}

// GroupSettings are the mutable attributes of a log group.
type GroupSettings struct {
	// RetentionInDays is how long events are kept; 0 keeps them forever.
	RetentionInDays int32
	KMSKeyID        string
	// LogGroupClass is STANDARD, INFREQUENT_ACCESS or DELIVERY; the API
	// layer validates and defaults it.
	LogGroupClass string
	Tags          map[string]string
}

// Group describes a log group.
type Group struct {
	Name         string
	CreationTime int64 // ms since the epoch
	GroupSettings
	StoredBytes int64
}

// Stream describes a log stream. The event times are 0 while it is empty.
type Stream struct {
	Name                string
	CreationTime        int64
	FirstEventTimestamp int64
	LastEventTimestamp  int64
	LastIngestionTime   int64
	StoredBytes         int64
	// NextSeq is the sequence number the next appended event gets; a
	// writer that noted it before an Append can tell after a crash whether
	// the Append happened (when it is the stream's only writer).
	NextSeq uint64
}

// Store is the engine. Its methods are safe for concurrent use.
type Store struct {
	cfg Config
	db  *bolt.DB

	mu     sync.RWMutex // guards groups and closed
	groups map[string]*group
	closed bool
}

// group is a log group in memory.
type group struct {
	id      uint64
	name    string
	created int64

	mu       sync.RWMutex // guards settings and streams
	settings GroupSettings
	streams  map[string]*stream
}

// Open opens (or creates) the store in cfg.Dir, recovering from any crash:
// torn segment tails are truncated and directories of deleted streams
// removed.
func Open(cfg Config) (*Store, error) {
	if cfg.Dir == "" || cfg.Clock == nil {
		return nil, errors.New("logstore: Dir and Clock are required")
	}
	if cfg.SegmentBytes <= 0 {
		cfg.SegmentBytes = 8 << 20
	}
	if err := os.MkdirAll(filepath.Join(cfg.Dir, "streams"), 0o700); err != nil {
		return nil, err
	}
	db, err := bolt.Open(filepath.Join(cfg.Dir, "meta.db"), 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("logstore: open metadata: %w", err)
	}
	s := &Store{cfg: cfg, db: db, groups: map[string]*group{}}
	if err := s.load(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Close releases the store's files. Appends in flight finish first.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	groups := s.groups
	s.mu.Unlock()
	for _, g := range groups {
		for _, st := range g.allStreams() {
			st.close()
		}
	}
	return s.db.Close()
}

// nowMillis is the clock's time in ms since the epoch.
func (s *Store) nowMillis() int64 { return s.cfg.Clock.Now().UnixMilli() }

func (s *Store) streamDir(id uint64) string {
	return filepath.Join(s.cfg.Dir, "streams", strconv.FormatUint(id, 10))
}

// lookupGroup finds a group by name.
func (s *Store) lookupGroup(name string) (*group, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, ErrClosed
	}
	g, ok := s.groups[name]
	if !ok {
		return nil, fmt.Errorf("log group %q: %w", name, ErrNotFound)
	}
	return g, nil
}

// lookupStream finds a stream by group and name.
func (s *Store) lookupStream(groupName, streamName string) (*group, *stream, error) {
	g, err := s.lookupGroup(groupName)
	if err != nil {
		return nil, nil, err
	}
	g.mu.RLock()
	st, ok := g.streams[streamName]
	g.mu.RUnlock()
	if !ok {
		return nil, nil, fmt.Errorf("log stream %q in log group %q: %w", streamName, groupName, ErrNotFound)
	}
	return g, st, nil
}

func (g *group) allStreams() []*stream {
	g.mu.RLock()
	defer g.mu.RUnlock()
	out := make([]*stream, 0, len(g.streams))
	for _, st := range g.streams {
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// describe returns a copy of the group's description.
func (g *group) describe() Group {
	g.mu.RLock()
	settings := g.settings
	settings.Tags = copyTags(g.settings.Tags)
	g.mu.RUnlock()
	out := Group{Name: g.name, CreationTime: g.created, GroupSettings: settings}
	for _, st := range g.allStreams() {
		out.StoredBytes += st.describe().StoredBytes
	}
	return out
}

// cutoff is the timestamp before which the group's events have expired
// (0 when they never expire).
func (g *group) cutoff(now int64) int64 {
	g.mu.RLock()
	days := g.settings.RetentionInDays
	g.mu.RUnlock()
	if days <= 0 {
		return 0
	}
	return now - int64(days)*24*int64(time.Hour/time.Millisecond)
}

func copyTags(tags map[string]string) map[string]string {
	if tags == nil {
		return nil
	}
	out := make(map[string]string, len(tags))
	for k, v := range tags {
		out[k] = v
	}
	return out
}
