package registry

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// writebackChunk is how many received bytes an upload lets pile up in the
// page cache before it asks the kernel to start writing them to disk. A
// blob is then mostly on disk by the time its last byte arrives, and the
// fsync that seals it, which the client waits for, has little left to do.
const writebackChunk = 8 << 20

// upload is one blob upload session: bytes appended in order to a
// temporary file while a SHA-256 runs over them, so completing a sha256
// upload needs no second read.
type upload struct {
	ID      string
	Repo    string
	Started time.Time

	mu     sync.Mutex
	file   *os.File
	size   int64
	hash   hash.Hash
	queued int64 // bytes handed to the kernel's writeback so far
	broken bool  // a write failed; the file no longer matches size
}

// uploadSet holds the open upload sessions. Sessions live in memory and
// in <root>/uploads; a restart forgets them and deletes their files, since
// a client resumes a lost session by starting a new one.
type uploadSet struct {
	dir string
	mu  sync.Mutex
	m   map[string]*upload
}

// newUploadSet empties dir of leftovers from a previous run (a crash
// mid-push leaves them) and returns an empty set.
func newUploadSet(dir string) (*uploadSet, error) {
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return &uploadSet{dir: dir, m: map[string]*upload{}}, nil
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// start opens a new session for repo.
func (s *uploadSet) start(repo string, now time.Time) (*upload, error) {
	id := newID()
	f, err := os.OpenFile(filepath.Join(s.dir, id), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, err
	}
	u := &upload{ID: id, Repo: repo, Started: now, file: f, hash: sha256.New()}
	s.mu.Lock()
	s.m[id] = u
	s.mu.Unlock()
	return u, nil
}

// get returns the session id of repo.
func (s *uploadSet) get(repo, id string) (*upload, error) {
	s.mu.Lock()
	u, ok := s.m[id]
	s.mu.Unlock()
	if !ok || u.Repo != repo {
		return nil, newError(CodeBlobUploadUnknown, "upload %q is not known in repository %q", id, repo)
	}
	return u, nil
}

// drop forgets a session and deletes its file unless it was committed.
func (s *uploadSet) drop(u *upload) {
	s.mu.Lock()
	delete(s.m, u.ID)
	s.mu.Unlock()
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.file != nil {
		u.file.Close()
		os.Remove(u.file.Name())
		u.file = nil
	}
}

// expire drops sessions started before cutoff (abandoned pushes).
func (s *uploadSet) expire(cutoff time.Time) int {
	s.mu.Lock()
	var old []*upload
	for _, u := range s.m {
		if u.Started.Before(cutoff) {
			old = append(old, u)
		}
	}
	s.mu.Unlock()
	for _, u := range old {
		s.drop(u)
	}
	return len(old)
}

// Size returns the number of bytes received so far.
func (u *upload) Size() int64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.size
}

// append writes r at offset, which must be where the upload ends (a
// negative offset means "at the end", as a streamed PATCH has no range).
// Bytes read before a client hangs up stay, so the client can ask for the
// upload's range and resume.
func (u *upload) append(offset int64, r io.Reader) (int64, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.file == nil || u.broken {
		return u.size, newError(CodeBlobUploadUnknown, "upload %q is closed", u.ID)
	}
	if offset >= 0 && offset != u.size {
		e := *errRangeInvalid
		e.Message = fmt.Sprintf("chunk starts at %d, upload has %d bytes", offset, u.size)
		return u.size, &e
	}
	buf := make([]byte, 256<<10)
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			if _, werr := u.file.Write(buf[:n]); werr != nil {
				u.broken = true
				return u.size, werr
			}
			u.hash.Write(buf[:n])
			u.size += int64(n)
			u.startWriteback()
		}
		if rerr == io.EOF {
			return u.size, nil
		}
		if rerr != nil {
			return u.size, newError(CodeBlobUploadInvalid, "reading chunk: %v", rerr)
		}
	}
}

// startWriteback starts writing the bytes received since the last call to
// disk, without waiting, once there are writebackChunk of them. It is a
// hint that only moves disk work earlier: seal's fsync is what makes the
// blob durable, so a failure here changes nothing and is ignored.
func (u *upload) startWriteback() {
	if u.size-u.queued < writebackChunk {
		return
	}
	raw, err := u.file.SyscallConn()
	if err != nil {
		return
	}
	_ = raw.Control(func(fd uintptr) {
		_ = unix.SyncFileRange(int(fd), u.queued, u.size-u.queued, unix.SYNC_FILE_RANGE_WRITE)
	})
	u.queued = u.size
}

// seal checks the received bytes against want, syncs and closes the file,
// and returns its path for the blob store to rename into place. On a
// mismatch the session stays open; the caller decides to drop it.
func (u *upload) seal(want digest.Digest) (string, int64, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.file == nil || u.broken {
		return "", 0, newError(CodeBlobUploadUnknown, "upload %q is closed", u.ID)
	}
	got, err := u.digest(want.Algorithm())
	if err != nil {
		return "", 0, err
	}
	if got != want {
		return "", 0, newError(CodeDigestInvalid, "content digest %s does not match %s", got, want)
	}
	if err := u.file.Sync(); err != nil {
		return "", 0, err
	}
	name := u.file.Name()
	if err := u.file.Close(); err != nil {
		return "", 0, err
	}
	u.file = nil
	return name, u.size, nil
}

// digest returns the digest of the received bytes under alg: the running
// SHA-256, or a re-read of the file for other algorithms.
func (u *upload) digest(alg digest.Algorithm) (digest.Digest, error) {
	if alg == digest.SHA256 {
		return digest.NewDigest(alg, u.hash), nil
	}
	if !alg.Available() {
		return "", newError(CodeDigestInvalid, "digest algorithm %q is not supported", alg)
	}
	if _, err := u.file.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	d, err := alg.FromReader(io.LimitReader(u.file, u.size))
	if _, serr := u.file.Seek(0, io.SeekEnd); err == nil && serr != nil {
		err = serr
	}
	return d, err
}
