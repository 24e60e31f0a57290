package registry

import (
	"context"
	"io"
	"os"

	"github.com/opencontainers/go-digest"
)

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
