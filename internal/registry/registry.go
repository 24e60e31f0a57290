package registry

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/kumo-project/kumo/internal/clock"
	"github.com/opencontainers/go-digest"
)

// Policy lets the layer above (ECR) decide what may be pushed. Errors it
// returns reach the client: a *Error keeps its code (NAME_UNKNOWN for a
// repository that was never created, TAG_INVALID for an immutable tag, as
// ECR answers); any other error is answered as DENIED with its text.
type Policy interface {
	// CheckRepository is consulted before any write to repo: starting an
	// upload, mounting a blob, putting or deleting a manifest.
	CheckRepository(ctx context.Context, repo string) error
	// CheckTagPush is consulted before tag is pointed at next; current is
	// the digest it points at now, empty when the tag is new.
	CheckTagPush(ctx context.Context, repo, tag string, current, next digest.Digest) error
}

// EventKind names what happened to a manifest.
type EventKind string

// The events the registry reports.
const (
	EventManifestPushed  EventKind = "manifest.pushed"
	EventManifestDeleted EventKind = "manifest.deleted"
	EventTagDeleted      EventKind = "tag.deleted"
	EventManifestPulled  EventKind = "manifest.pulled"
)

// Event reports a change or a pull, after it is committed.
type Event struct {
	Kind       EventKind
	Repository string
	Digest     digest.Digest
	MediaType  string
	// Tags are the tags a push set or a delete removed; for a pull, the
	// tag pulled by, if any.
	Tags []string
	Time time.Time
}

// Config configures a Registry.
type Config struct {
	// Root is the directory holding blobs, uploads and registry.db. Required.
	Root string
	// Clock stamps push times and paces RunGC; the wall clock when nil.
	Clock clock.Clock
	// Policy is consulted before pushes; nil accepts everything.
	Policy Policy
	// OnEvent is called synchronously after a manifest push, delete or
	// pull is committed, with no registry lock held (it may call back into
	// the registry); it delays the client's response, so it should be
	// quick. Optional.
	OnEvent func(context.Context, Event)
	// Auth checks credentials; nil serves everyone anonymously.
	Auth Authenticator
	// TokenRealm is the absolute URL of the token endpoint sent in Bearer
	// challenges; empty derives it from the request's host.
	TokenRealm string
	// Service names the registry in Bearer challenges; "kumo" when empty.
	Service string
	// GCGrace protects blobs and uploads younger than this from garbage
	// collection, so pushes in progress survive; 1 hour when zero.
	GCGrace time.Duration
}

// Registry is an OCI registry: content-addressed blobs on disk, metadata
// in bbolt, and the operations the HTTP handler and the ECR API share.
type Registry struct {
	cfg     Config
	clock   clock.Clock
	blobs   *blobStore
	uploads *uploadSet
	meta    *meta

	// gcMu keeps garbage collection apart from operations that create
	// references: they hold it shared, GC holds it exclusively.
	gcMu sync.RWMutex
	// manifestMu serializes manifest and tag writes so a policy check and
	// the write it allows happen with nothing in between.
	manifestMu sync.Mutex
}

// Open opens (creating if needed) the registry under cfg.Root. Upload
// sessions left by a previous run are deleted.
func Open(cfg Config) (*Registry, error) {
	if cfg.Root == "" {
		return nil, errors.New("registry: Config.Root is required")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Service == "" {
		cfg.Service = "kumo"
	}
	if cfg.GCGrace == 0 {
		cfg.GCGrace = time.Hour
	}
	blobDir := filepath.Join(cfg.Root, "blobs")
	if err := os.MkdirAll(blobDir, 0o755); err != nil {
		return nil, err
	}
	// The metadata store's file lock keeps a second process off this root,
	// so it is taken before the leftover uploads are cleared.
	m, err := openMeta(filepath.Join(cfg.Root, "registry.db"))
	if err != nil {
		return nil, err
	}
	ups, err := newUploadSet(filepath.Join(cfg.Root, "uploads"))
	if err != nil {
		m.close()
		return nil, err
	}
	return &Registry{cfg: cfg, clock: cfg.Clock, blobs: &blobStore{dir: blobDir}, uploads: ups, meta: m}, nil
}

// Close closes the metadata store.
func (r *Registry) Close() error { return r.meta.close() }

func (r *Registry) emit(ctx context.Context, e Event) {
	if r.cfg.OnEvent != nil {
		e.Time = r.clock.Now()
		r.cfg.OnEvent(ctx, e)
	}
}

// checkWrite validates repo and asks the policy whether it may be written.
func (r *Registry) checkWrite(ctx context.Context, repo string) error {
	if err := ValidateName(repo); err != nil {
		return err
	}
	if r.cfg.Policy == nil {
		return nil
	}
	return policyError(r.cfg.Policy.CheckRepository(ctx, repo))
}

// policyError keeps a policy's registry errors and turns others into DENIED.
func policyError(err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return &Error{Code: CodeDenied, Message: err.Error()}
}
