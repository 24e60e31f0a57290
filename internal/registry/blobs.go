package registry

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/opencontainers/go-digest"
)

// blobStore keeps blob content on disk by digest: <root>/blobs/<alg>/<hex>.
// A blob file appears only through an atomic rename of a fully written,
// digest-verified and synced temporary file, so a reader never sees a
// partial blob, even after a crash. One file serves every repository that
// links the digest; which repository may see which blob lives in the
// metadata store, not here.
type blobStore struct {
	dir string // <root>/blobs
}

func (s *blobStore) path(d digest.Digest) string {
	return filepath.Join(s.dir, d.Algorithm().String(), d.Encoded())
}

// stat returns the size and modification time of a stored blob.
func (s *blobStore) stat(d digest.Digest) (int64, time.Time, error) {
	fi, err := os.Stat(s.path(d))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, time.Time{}, newError(CodeBlobUnknown, "blob %s is not stored", d)
	}
	if err != nil {
		return 0, time.Time{}, err
	}
	return fi.Size(), fi.ModTime(), nil
}

// open opens a stored blob for reading.
func (s *blobStore) open(d digest.Digest) (*os.File, error) {
	f, err := os.Open(s.path(d))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, newError(CodeBlobUnknown, "blob %s is not stored", d)
	}
	return f, err
}

// commit moves a verified, synced temporary file into place as blob d.
// Renaming over an existing blob is harmless (same content) and refreshes
// its modification time, which keeps a blob being re-pushed out of the
// garbage collector's reach for the grace period.
func (s *blobStore) commit(tmp string, d digest.Digest) error {
	dir := filepath.Dir(s.path(d))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.Rename(tmp, s.path(d)); err != nil {
		return fmt.Errorf("commit blob %s: %w", d, err)
	}
	return syncDir(dir)
}

// remove deletes a blob file; a missing file is not an error.
func (s *blobStore) remove(d digest.Digest) error {
	err := os.Remove(s.path(d))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// walk calls fn for every stored blob with its modification time.
func (s *blobStore) walk(fn func(d digest.Digest, mod time.Time) error) error {
	algs, err := os.ReadDir(s.dir)
	if err != nil {
		return err
	}
	for _, alg := range algs {
		entries, err := os.ReadDir(filepath.Join(s.dir, alg.Name()))
		if err != nil {
			return err
		}
		for _, e := range entries {
			d := digest.NewDigestFromEncoded(digest.Algorithm(alg.Name()), e.Name())
			if d.Validate() != nil {
				continue // not a blob of ours
			}
			info, err := e.Info()
			if err != nil {
				continue // removed meanwhile
			}
			if err := fn(d, info.ModTime()); err != nil {
				return err
			}
		}
	}
	return nil
}

// syncDir flushes a directory so a rename in it survives a crash.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
