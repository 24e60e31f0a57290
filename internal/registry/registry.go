package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/kumo-project/kumo/internal/clock"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
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

// ---- blob uploads ----

// StartUpload opens an upload session in repo and returns its ID.
func (r *Registry) StartUpload(ctx context.Context, repo string) (string, error) {
	if err := r.checkWrite(ctx, repo); err != nil {
		return "", err
	}
	u, err := r.uploads.start(repo, r.clock.Now())
	if err != nil {
		return "", err
	}
	return u.ID, nil
}

// AppendUpload writes body at offset of upload id (offset < 0: at the end)
// and returns the upload's new size. An offset other than the current size
// fails with BLOB_UPLOAD_INVALID and HTTP status 416.
func (r *Registry) AppendUpload(ctx context.Context, repo, id string, offset int64, body io.Reader) (int64, error) {
	u, err := r.uploads.get(repo, id)
	if err != nil {
		return 0, err
	}
	return u.append(offset, body)
}

// UploadSize returns how many bytes upload id has received.
func (r *Registry) UploadSize(ctx context.Context, repo, id string) (int64, error) {
	u, err := r.uploads.get(repo, id)
	if err != nil {
		return 0, err
	}
	return u.Size(), nil
}

// CompleteUpload verifies upload id against d, makes it blob d and links
// it into repo. A digest mismatch ends the session with DIGEST_INVALID and
// stores nothing.
func (r *Registry) CompleteUpload(ctx context.Context, repo, id string, d digest.Digest) (int64, error) {
	u, err := r.uploads.get(repo, id)
	if err != nil {
		return 0, err
	}
	if err := d.Validate(); err != nil {
		return 0, newError(CodeDigestInvalid, "invalid digest %q: %v", d, err)
	}
	tmp, size, err := u.seal(d)
	if err != nil {
		r.uploads.drop(u)
		return 0, err
	}
	defer r.uploads.drop(u)
	r.gcMu.RLock()
	defer r.gcMu.RUnlock()
	if err := r.blobs.commit(tmp, d); err != nil {
		os.Remove(tmp)
		return 0, err
	}
	return size, r.meta.linkBlob(repo, d, size, r.clock.Now())
}

// CancelUpload ends upload id and deletes what it received.
func (r *Registry) CancelUpload(ctx context.Context, repo, id string) error {
	u, err := r.uploads.get(repo, id)
	if err != nil {
		return err
	}
	r.uploads.drop(u)
	return nil
}

// PutBlob stores body as blob d in repo in one call.
func (r *Registry) PutBlob(ctx context.Context, repo string, d digest.Digest, body io.Reader) (int64, error) {
	id, err := r.StartUpload(ctx, repo)
	if err != nil {
		return 0, err
	}
	if _, err := r.AppendUpload(ctx, repo, id, 0, body); err != nil {
		r.CancelUpload(ctx, repo, id)
		return 0, err
	}
	return r.CompleteUpload(ctx, repo, id, d)
}

// MountBlob links blob d into repo without copying it, if repository from
// holds it (any repository when from is empty). It reports false when the
// blob is not available, and the caller falls back to an upload.
func (r *Registry) MountBlob(ctx context.Context, repo, from string, d digest.Digest) (bool, error) {
	if err := r.checkWrite(ctx, repo); err != nil {
		return false, err
	}
	r.gcMu.RLock()
	defer r.gcMu.RUnlock()
	var size int64
	var ok bool
	var err error
	if from != "" {
		if ValidateName(from) != nil {
			return false, nil
		}
		size, ok, err = r.meta.blobLink(from, d)
	} else {
		size, ok, err = r.meta.firstBlobLink(d)
	}
	if err != nil || !ok {
		return false, err
	}
	if _, _, err := r.blobs.stat(d); err != nil {
		return false, nil
	}
	return true, r.meta.linkBlob(repo, d, size, r.clock.Now())
}

// ---- blob reads and deletes ----

// BlobSize returns the size of blob d if repo holds it, else BLOB_UNKNOWN.
func (r *Registry) BlobSize(ctx context.Context, repo string, d digest.Digest) (int64, error) {
	size, ok, err := r.meta.blobLink(repo, d)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, newError(CodeBlobUnknown, "blob %s is not in repository %q", d, repo)
	}
	return size, nil
}

// OpenBlob opens blob d of repo for reading; the caller closes it.
func (r *Registry) OpenBlob(ctx context.Context, repo string, d digest.Digest) (*os.File, int64, error) {
	if _, err := r.BlobSize(ctx, repo, d); err != nil {
		return nil, 0, err
	}
	f, err := r.blobs.open(d)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, fi.Size(), nil
}

// DeleteBlob removes blob d from repo; the bytes go at the next GC if no
// other repository or manifest needs them.
func (r *Registry) DeleteBlob(ctx context.Context, repo string, d digest.Digest) error {
	if err := r.checkWrite(ctx, repo); err != nil {
		return err
	}
	ok, err := r.meta.unlinkBlob(repo, d)
	if err != nil {
		return err
	}
	if !ok {
		return newError(CodeBlobUnknown, "blob %s is not in repository %q", d, repo)
	}
	return nil
}

// ---- manifests ----

// Manifest is a stored manifest's bytes with its digest and media type.
type Manifest struct {
	Digest    digest.Digest
	MediaType string
	Body      []byte
}

// Image describes a manifest of a repository, as ECR's DescribeImages
// reports it.
type Image struct {
	Digest    digest.Digest
	Tags      []string
	MediaType string
	// ArtifactType is the artifactType member, else an image manifest's
	// config media type (ECR's artifactMediaType).
	ArtifactType    string
	ConfigMediaType string
	// Size is the size of the manifest itself.
	Size int64
	// ImageSize is config plus layers (the children's sum for an index).
	ImageSize int64
	PushedAt  time.Time
	Subject   digest.Digest
}

func imageOf(d digest.Digest, rec manifestRecord, tags []string) Image {
	return Image{
		Digest: d, Tags: tags, MediaType: rec.MediaType, ArtifactType: artifactTypeOf(rec),
		ConfigMediaType: rec.ConfigMediaType, Size: rec.Size, ImageSize: rec.ImageSize,
		PushedAt: rec.PushedAt, Subject: rec.Subject,
	}
}

// PutResult is what a manifest push stored.
type PutResult struct {
	Digest digest.Digest
	// Subject is the digest of the manifest's subject, if it has one.
	Subject digest.Digest
	// Tags are the tags now pointing at the manifest by this push.
	Tags []string
}

// PutManifest validates body and stores it in repo under ref (a tag or
// the manifest's digest) and the extra tags. Every blob and child manifest
// it references must already be in repo (MANIFEST_BLOB_UNKNOWN otherwise),
// except non-distributable layers and the subject.
func (r *Registry) PutManifest(ctx context.Context, repo, ref, contentType string, body []byte, tags ...string) (PutResult, error) {
	if err := r.checkWrite(ctx, repo); err != nil {
		return PutResult{}, err
	}
	p, err := parseManifest(body, contentType)
	if err != nil {
		return PutResult{}, err
	}
	d, tags, err := manifestDigestAndTags(ref, body, tags)
	if err != nil {
		return PutResult{}, err
	}
	rec, err := r.storeManifest(ctx, repo, d, p, body, tags)
	if err != nil {
		return PutResult{}, err
	}
	r.emit(ctx, Event{Kind: EventManifestPushed, Repository: repo, Digest: d, MediaType: rec.MediaType, Tags: tags})
	return PutResult{Digest: d, Subject: rec.Subject, Tags: tags}, nil
}

// storeManifest checks references and tag policy and stores manifest d,
// holding the locks that keep GC and other manifest writes out. Events are
// emitted by the caller after the locks are released, so a callback may
// call back into the registry.
func (r *Registry) storeManifest(ctx context.Context, repo string, d digest.Digest, p *parsedManifest, body []byte, tags []string) (manifestRecord, error) {
	r.gcMu.RLock()
	defer r.gcMu.RUnlock()
	r.manifestMu.Lock()
	defer r.manifestMu.Unlock()
	rec, err := r.recordFor(repo, p, int64(len(body)))
	if err != nil {
		return rec, err
	}
	if err := r.checkTags(ctx, repo, tags, d); err != nil {
		return rec, err
	}
	if old, ok, err := r.meta.manifest(repo, d); err != nil {
		return rec, err
	} else if ok {
		rec.PushedAt = old.PushedAt
	}
	if err := r.storeBytes(d, body); err != nil {
		return rec, err
	}
	return rec, r.meta.putManifest(repo, d, rec, tags)
}

// manifestDigestAndTags computes the manifest digest (with the algorithm
// of ref when ref is a digest, which must match) and the tags to set.
func manifestDigestAndTags(ref string, body []byte, extra []string) (digest.Digest, []string, error) {
	var tags []string
	var d digest.Digest
	if isDigestRef(ref) {
		want, err := ParseDigest(ref)
		if err != nil {
			return "", nil, err
		}
		d = want.Algorithm().FromBytes(body)
		if d != want {
			return "", nil, newError(CodeDigestInvalid, "manifest digest %s does not match reference %s", d, want)
		}
	} else {
		d = digest.Canonical.FromBytes(body)
		tags = append(tags, ref)
	}
	tags = append(tags, extra...)
	for _, t := range tags {
		if err := ValidateTag(t); err != nil {
			return "", nil, err
		}
	}
	return d, tags, nil
}

// recordFor checks that everything p references is in repo and builds
// the manifest's record.
func (r *Registry) recordFor(repo string, p *parsedManifest, size int64) (manifestRecord, error) {
	rec := manifestRecord{
		MediaType: p.MediaType, Size: size, ArtifactType: p.ArtifactType,
		Annotations: p.Annotations, PushedAt: r.clock.Now(),
	}
	if p.Subject != nil {
		rec.Subject = p.Subject.Digest
	}
	if p.Config != nil {
		rec.ConfigMediaType = p.Config.MediaType
	}
	for _, desc := range configAndLayers(p) {
		rec.ImageSize += desc.Size
		if isNonDistributable(desc.MediaType) {
			continue
		}
		size, ok, err := r.meta.blobLink(repo, desc.Digest)
		if err != nil {
			return rec, err
		}
		if !ok {
			return rec, &Error{Code: CodeManifestBlobUnknown, Message: fmt.Sprintf("blob %s is not in repository %q", desc.Digest, repo), Detail: map[string]string{"digest": desc.Digest.String()}}
		}
		if size != desc.Size {
			return rec, newError(CodeManifestInvalid, "blob %s has size %d, manifest says %d", desc.Digest, size, desc.Size)
		}
		rec.Blobs = append(rec.Blobs, desc.Digest)
	}
	for _, desc := range p.Manifests {
		child, ok, err := r.meta.manifest(repo, desc.Digest)
		if err != nil {
			return rec, err
		}
		if !ok {
			return rec, &Error{Code: CodeManifestBlobUnknown, Message: fmt.Sprintf("manifest %s is not in repository %q", desc.Digest, repo), Detail: map[string]string{"digest": desc.Digest.String()}}
		}
		rec.ImageSize += child.ImageSize
		rec.Children = append(rec.Children, desc.Digest)
	}
	return rec, nil
}

func configAndLayers(p *parsedManifest) []ocispec.Descriptor {
	if p.Config == nil {
		return nil
	}
	return append([]ocispec.Descriptor{*p.Config}, p.Layers...)
}

// checkTags asks the policy whether each tag may point at d.
func (r *Registry) checkTags(ctx context.Context, repo string, tags []string, d digest.Digest) error {
	if r.cfg.Policy == nil {
		return nil
	}
	for _, t := range tags {
		current, _, err := r.meta.resolveTag(repo, t)
		if err != nil {
			return err
		}
		if err := r.cfg.Policy.CheckTagPush(ctx, repo, t, current, d); err != nil {
			return policyError(err)
		}
	}
	return nil
}

// storeBytes writes small content (a manifest) as blob d, through the same
// verify-then-rename path as uploads.
func (r *Registry) storeBytes(d digest.Digest, body []byte) error {
	f, err := os.CreateTemp(r.uploads.dir, "manifest-")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(body)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = r.blobs.commit(tmp, d)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// resolve turns a tag or digest reference into the manifest digest and record.
func (r *Registry) resolve(repo, ref string) (digest.Digest, manifestRecord, error) {
	if err := ValidateName(repo); err != nil {
		return "", manifestRecord{}, err
	}
	var d digest.Digest
	if isDigestRef(ref) {
		var err error
		if d, err = ParseDigest(ref); err != nil {
			return "", manifestRecord{}, err
		}
	} else {
		if err := ValidateTag(ref); err != nil {
			return "", manifestRecord{}, newError(CodeManifestUnknown, "invalid tag %q", ref)
		}
		td, ok, err := r.meta.resolveTag(repo, ref)
		if err != nil {
			return "", manifestRecord{}, err
		}
		if !ok {
			return "", manifestRecord{}, newError(CodeManifestUnknown, "tag %q is not in repository %q", ref, repo)
		}
		d = td
	}
	rec, ok, err := r.meta.manifest(repo, d)
	if err != nil {
		return "", manifestRecord{}, err
	}
	if !ok {
		return "", manifestRecord{}, newError(CodeManifestUnknown, "manifest %s is not in repository %q", d, repo)
	}
	return d, rec, nil
}

// Image returns the description of the manifest ref (tag or digest) of repo.
func (r *Registry) Image(ctx context.Context, repo, ref string) (Image, error) {
	d, rec, err := r.resolve(repo, ref)
	if err != nil {
		return Image{}, err
	}
	return imageOf(d, rec, nil), nil
}

// GetManifest returns the manifest ref (tag or digest) of repo.
func (r *Registry) GetManifest(ctx context.Context, repo, ref string) (Manifest, error) {
	d, rec, err := r.resolve(repo, ref)
	if err != nil {
		return Manifest{}, err
	}
	body, err := os.ReadFile(r.blobs.path(d))
	if errors.Is(err, fs.ErrNotExist) {
		slog.Error("registry: manifest bytes missing", "repository", repo, "digest", d)
		return Manifest{}, newError(CodeManifestUnknown, "manifest %s is not stored", d)
	}
	if err != nil {
		return Manifest{}, err
	}
	return Manifest{Digest: d, MediaType: rec.MediaType, Body: body}, nil
}

// DeleteManifest deletes ref from repo: a tag removes only the tag, a
// digest removes the manifest and every tag pointing at it.
func (r *Registry) DeleteManifest(ctx context.Context, repo, ref string) error {
	if err := r.checkWrite(ctx, repo); err != nil {
		return err
	}
	ev, err := r.deleteRef(repo, ref)
	if err != nil {
		return err
	}
	r.emit(ctx, ev)
	return nil
}

// deleteRef deletes a tag or a manifest under manifestMu and returns the
// event to report once the lock is released.
func (r *Registry) deleteRef(repo, ref string) (Event, error) {
	r.manifestMu.Lock()
	defer r.manifestMu.Unlock()
	if !isDigestRef(ref) {
		if err := ValidateTag(ref); err != nil {
			return Event{}, newError(CodeManifestUnknown, "invalid tag %q", ref)
		}
		d, err := r.meta.deleteTag(repo, ref)
		if err != nil {
			return Event{}, err
		}
		return Event{Kind: EventTagDeleted, Repository: repo, Digest: d, Tags: []string{ref}}, nil
	}
	d, err := ParseDigest(ref)
	if err != nil {
		return Event{}, err
	}
	rec, tags, err := r.meta.deleteManifest(repo, d)
	if err != nil {
		return Event{}, err
	}
	return Event{Kind: EventManifestDeleted, Repository: repo, Digest: d, MediaType: rec.MediaType, Tags: tags}, nil
}

// Images lists every manifest of repo with its tags, oldest push first.
func (r *Registry) Images(ctx context.Context, repo string) ([]Image, error) {
	entries, err := r.meta.images(repo)
	if err != nil {
		return nil, err
	}
	out := make([]Image, 0, len(entries))
	for _, e := range entries {
		out = append(out, imageOf(e.Digest, e.Record, e.Tags))
	}
	return out, nil
}

// Tags lists repo's tags in lexical order after last, at most n (n < 0:
// all), and whether more follow. An unknown repository is NAME_UNKNOWN.
func (r *Registry) Tags(ctx context.Context, repo, last string, n int) ([]string, bool, error) {
	if err := ValidateName(repo); err != nil {
		return nil, false, err
	}
	return r.meta.tags(repo, last, n)
}

// Repositories lists repository names in lexical order after last, at
// most n (n < 0: all), and whether more follow.
func (r *Registry) Repositories(ctx context.Context, last string, n int) ([]string, bool, error) {
	return r.meta.repos(last, n)
}

// DeleteRepository removes repo and everything it holds; blobs no other
// repository needs go at the next GC. A repository that never held
// anything is not an error, as ECR repositories exist before any push.
func (r *Registry) DeleteRepository(ctx context.Context, repo string) error {
	if err := ValidateName(repo); err != nil {
		return err
	}
	r.manifestMu.Lock()
	defer r.manifestMu.Unlock()
	return r.meta.deleteRepo(repo)
}

// Referrers returns descriptors of repo's manifests whose subject is
// subject, keeping only artifactType when it is not empty.
func (r *Registry) Referrers(ctx context.Context, repo string, subject digest.Digest, artifactType string) ([]ocispec.Descriptor, error) {
	if err := ValidateName(repo); err != nil {
		return nil, err
	}
	refs, err := r.meta.referrers(repo, subject)
	if err != nil {
		return nil, err
	}
	out := []ocispec.Descriptor{}
	for _, ref := range refs {
		at := artifactTypeOf(ref.Record)
		if artifactType != "" && at != artifactType {
			continue
		}
		out = append(out, ocispec.Descriptor{
			MediaType: ref.Record.MediaType, Digest: ref.Digest, Size: ref.Record.Size,
			ArtifactType: at, Annotations: ref.Record.Annotations,
		})
	}
	return out, nil
}
