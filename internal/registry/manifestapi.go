package registry

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

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
