package registry

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"
)

// The metadata store is one bbolt file. Layout:
//
//	repos/<name>/blobs/<digest>            = linkedAt (unix ns) | size
//	repos/<name>/manifests/<digest>        = manifestRecord (JSON)
//	repos/<name>/tags/<tag>                = digest
//	repos/<name>/referrers/<subject>\x00<digest> = empty
//
// A repository exists once it holds a link, a manifest or a tag.
var (
	bucketRepos     = []byte("repos")
	bucketBlobs     = []byte("blobs")
	bucketManifests = []byte("manifests")
	bucketTags      = []byte("tags")
	bucketReferrers = []byte("referrers")
)

// manifestRecord is what the store knows about a manifest beside its bytes,
// which live in the blob store under the manifest's digest.
type manifestRecord struct {
	MediaType       string            `json:"mediaType"`
	Size            int64             `json:"size"`
	ArtifactType    string            `json:"artifactType,omitempty"`
	ConfigMediaType string            `json:"configMediaType,omitempty"`
	Subject         digest.Digest     `json:"subject,omitempty"`
	Annotations     map[string]string `json:"annotations,omitempty"`
	// Blobs are the config and layers the manifest holds (kept by GC).
	Blobs []digest.Digest `json:"blobs,omitempty"`
	// Children are the manifests an index lists.
	Children []digest.Digest `json:"children,omitempty"`
	// ImageSize is the sum of config and layer sizes (of children for an index).
	ImageSize int64     `json:"imageSize"`
	PushedAt  time.Time `json:"pushedAt"`
}

// meta is the bbolt-backed metadata store.
type meta struct {
	db *bolt.DB
}

func openMeta(path string) (*meta, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open registry metadata %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketRepos)
		return err
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return &meta{db: db}, nil
}

func (m *meta) close() error { return m.db.Close() }

// repoBucket returns the bucket of repo, or nil when it does not exist.
func repoBucket(tx *bolt.Tx, repo string) *bolt.Bucket {
	return tx.Bucket(bucketRepos).Bucket([]byte(repo))
}

// createRepoBucket returns the bucket of repo with its sub-buckets, creating them.
func createRepoBucket(tx *bolt.Tx, repo string) (*bolt.Bucket, error) {
	b, err := tx.Bucket(bucketRepos).CreateBucketIfNotExists([]byte(repo))
	if err != nil {
		return nil, err
	}
	for _, name := range [][]byte{bucketBlobs, bucketManifests, bucketTags, bucketReferrers} {
		if _, err := b.CreateBucketIfNotExists(name); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func encodeLink(linked time.Time, size int64) []byte {
	v := make([]byte, 16)
	binary.BigEndian.PutUint64(v, uint64(linked.UnixNano()))
	binary.BigEndian.PutUint64(v[8:], uint64(size))
	return v
}

func decodeLink(v []byte) (time.Time, int64) {
	if len(v) != 16 {
		return time.Time{}, 0
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(v))), int64(binary.BigEndian.Uint64(v[8:]))
}

// linkBlob records that repo holds blob d.
func (m *meta) linkBlob(repo string, d digest.Digest, size int64, now time.Time) error {
	return m.db.Update(func(tx *bolt.Tx) error {
		b, err := createRepoBucket(tx, repo)
		if err != nil {
			return err
		}
		return b.Bucket(bucketBlobs).Put([]byte(d), encodeLink(now, size))
	})
}

// blobLink returns the size of blob d if repo holds it.
func (m *meta) blobLink(repo string, d digest.Digest) (size int64, ok bool, err error) {
	err = m.db.View(func(tx *bolt.Tx) error {
		b := repoBucket(tx, repo)
		if b == nil {
			return nil
		}
		v := b.Bucket(bucketBlobs).Get([]byte(d))
		if v != nil {
			_, size = decodeLink(v)
			ok = true
		}
		return nil
	})
	return size, ok, err
}

// firstBlobLink returns the size of blob d in any repository that holds it.
func (m *meta) firstBlobLink(d digest.Digest) (size int64, ok bool, err error) {
	err = m.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRepos).ForEachBucket(func(name []byte) error {
			if ok {
				return nil
			}
			if v := tx.Bucket(bucketRepos).Bucket(name).Bucket(bucketBlobs).Get([]byte(d)); v != nil {
				_, size = decodeLink(v)
				ok = true
			}
			return nil
		})
	})
	return size, ok, err
}

// unlinkBlob removes blob d from repo; ok is false if repo did not hold it.
func (m *meta) unlinkBlob(repo string, d digest.Digest) (ok bool, err error) {
	err = m.db.Update(func(tx *bolt.Tx) error {
		b := repoBucket(tx, repo)
		if b == nil || b.Bucket(bucketBlobs).Get([]byte(d)) == nil {
			return nil
		}
		ok = true
		return b.Bucket(bucketBlobs).Delete([]byte(d))
	})
	return ok, err
}

// repoExists reports whether repo has any content.
func (m *meta) repoExists(repo string) (ok bool, err error) {
	err = m.db.View(func(tx *bolt.Tx) error {
		ok = repoBucket(tx, repo) != nil
		return nil
	})
	return ok, err
}

func referrerKey(subject, d digest.Digest) []byte {
	return []byte(string(subject) + "\x00" + string(d))
}

// putManifest stores the record of manifest d in repo and points tags at it,
// in one transaction.
func (m *meta) putManifest(repo string, d digest.Digest, rec manifestRecord, tags []string) error {
	val, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return m.db.Update(func(tx *bolt.Tx) error {
		b, err := createRepoBucket(tx, repo)
		if err != nil {
			return err
		}
		if err := b.Bucket(bucketManifests).Put([]byte(d), val); err != nil {
			return err
		}
		for _, t := range tags {
			if err := b.Bucket(bucketTags).Put([]byte(t), []byte(d)); err != nil {
				return err
			}
		}
		if rec.Subject != "" {
			return b.Bucket(bucketReferrers).Put(referrerKey(rec.Subject, d), nil)
		}
		return nil
	})
}

// manifest returns the record of manifest d in repo.
func (m *meta) manifest(repo string, d digest.Digest) (rec manifestRecord, ok bool, err error) {
	err = m.db.View(func(tx *bolt.Tx) error {
		b := repoBucket(tx, repo)
		if b == nil {
			return nil
		}
		v := b.Bucket(bucketManifests).Get([]byte(d))
		if v == nil {
			return nil
		}
		ok = true
		return json.Unmarshal(v, &rec)
	})
	return rec, ok, err
}

// resolveTag returns the digest tag points at in repo.
func (m *meta) resolveTag(repo, tag string) (d digest.Digest, ok bool, err error) {
	err = m.db.View(func(tx *bolt.Tx) error {
		b := repoBucket(tx, repo)
		if b == nil {
			return nil
		}
		if v := b.Bucket(bucketTags).Get([]byte(tag)); v != nil {
			d, ok = digest.Digest(v), true
		}
		return nil
	})
	return d, ok, err
}

// deleteManifest removes manifest d from repo with the tags pointing at it
// and its referrers entry; it returns the record and the removed tags.
func (m *meta) deleteManifest(repo string, d digest.Digest) (rec manifestRecord, tags []string, err error) {
	err = m.db.Update(func(tx *bolt.Tx) error {
		b := repoBucket(tx, repo)
		var v []byte
		if b != nil {
			v = b.Bucket(bucketManifests).Get([]byte(d))
		}
		if v == nil {
			return newError(CodeManifestUnknown, "manifest %s is not in repository %q", d, repo)
		}
		if err := json.Unmarshal(v, &rec); err != nil {
			return err
		}
		if err := b.Bucket(bucketManifests).Delete([]byte(d)); err != nil {
			return err
		}
		tb := b.Bucket(bucketTags)
		err := tb.ForEach(func(k, v []byte) error {
			if string(v) == string(d) {
				tags = append(tags, string(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, t := range tags {
			if err := tb.Delete([]byte(t)); err != nil {
				return err
			}
		}
		if rec.Subject != "" {
			return b.Bucket(bucketReferrers).Delete(referrerKey(rec.Subject, d))
		}
		return nil
	})
	return rec, tags, err
}

// deleteTag removes tag from repo and returns the digest it pointed at.
func (m *meta) deleteTag(repo, tag string) (d digest.Digest, err error) {
	err = m.db.Update(func(tx *bolt.Tx) error {
		b := repoBucket(tx, repo)
		var v []byte
		if b != nil {
			v = b.Bucket(bucketTags).Get([]byte(tag))
		}
		if v == nil {
			return newError(CodeManifestUnknown, "tag %q is not in repository %q", tag, repo)
		}
		d = digest.Digest(v)
		return b.Bucket(bucketTags).Delete([]byte(tag))
	})
	return d, err
}

// deleteRepo removes repo with all its links, manifests and tags, if it exists.
func (m *meta) deleteRepo(repo string) error {
	return m.db.Update(func(tx *bolt.Tx) error {
		if repoBucket(tx, repo) == nil {
			return nil
		}
		return tx.Bucket(bucketRepos).DeleteBucket([]byte(repo))
	})
}

// page returns up to n keys of b after last in byte order (n < 0: all),
// and whether more follow.
func page(b *bolt.Bucket, last string, n int) (keys []string, more bool) {
	keys = []string{}
	c := b.Cursor()
	var k []byte
	if last == "" {
		k, _ = c.First()
	} else {
		k, _ = c.Seek([]byte(last))
		if k != nil && string(k) == last {
			k, _ = c.Next()
		}
	}
	for ; k != nil; k, _ = c.Next() {
		if n >= 0 && len(keys) == n {
			return keys, true
		}
		keys = append(keys, string(k))
	}
	return keys, false
}

// tags lists the tags of repo in lexical order after last, at most n (n < 0: all).
func (m *meta) tags(repo, last string, n int) (tags []string, more bool, err error) {
	err = m.db.View(func(tx *bolt.Tx) error {
		b := repoBucket(tx, repo)
		if b == nil {
			return newError(CodeNameUnknown, "repository %q is not known", repo)
		}
		tags, more = page(b.Bucket(bucketTags), last, n)
		return nil
	})
	return tags, more, err
}

// repos lists repository names in lexical order after last, at most n (n < 0: all).
func (m *meta) repos(last string, n int) (names []string, more bool, err error) {
	err = m.db.View(func(tx *bolt.Tx) error {
		names, more = page(tx.Bucket(bucketRepos), last, n)
		return nil
	})
	return names, more, err
}

// referrer is one manifest whose subject is a given digest.
type referrer struct {
	Digest digest.Digest
	Record manifestRecord
}

// referrers lists the manifests of repo whose subject is subject.
func (m *meta) referrers(repo string, subject digest.Digest) (out []referrer, err error) {
	err = m.db.View(func(tx *bolt.Tx) error {
		b := repoBucket(tx, repo)
		if b == nil {
			return nil
		}
		prefix := []byte(string(subject) + "\x00")
		c := b.Bucket(bucketReferrers).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			d := digest.Digest(k[len(prefix):])
			v := b.Bucket(bucketManifests).Get([]byte(d))
			if v == nil {
				continue
			}
			var rec manifestRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return err
			}
			out = append(out, referrer{Digest: d, Record: rec})
		}
		return nil
	})
	return out, err
}

// imageEntry is a manifest of a repository with the tags pointing at it.
type imageEntry struct {
	Digest digest.Digest
	Record manifestRecord
	Tags   []string
}

// images lists every manifest of repo with its tags, oldest push first.
func (m *meta) images(repo string) (out []imageEntry, err error) {
	err = m.db.View(func(tx *bolt.Tx) error {
		b := repoBucket(tx, repo)
		if b == nil {
			return newError(CodeNameUnknown, "repository %q is not known", repo)
		}
		tagsOf := map[digest.Digest][]string{}
		err := b.Bucket(bucketTags).ForEach(func(k, v []byte) error {
			tagsOf[digest.Digest(v)] = append(tagsOf[digest.Digest(v)], string(k))
			return nil
		})
		if err != nil {
			return err
		}
		return b.Bucket(bucketManifests).ForEach(func(k, v []byte) error {
			e := imageEntry{Digest: digest.Digest(k), Tags: tagsOf[digest.Digest(k)]}
			if err := json.Unmarshal(v, &e.Record); err != nil {
				return err
			}
			out = append(out, e)
			return nil
		})
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].Record.PushedAt.Before(out[j].Record.PushedAt) })
	return out, err
}

// liveBlobs returns every digest a manifest of any repository needs (the
// manifests themselves and their blobs), plus blobs linked after cutoff:
// these belong to pushes whose manifest has not arrived yet.
func (m *meta) liveBlobs(cutoff time.Time) (map[digest.Digest]bool, error) {
	live := map[digest.Digest]bool{}
	err := m.db.View(func(tx *bolt.Tx) error {
		repos := tx.Bucket(bucketRepos)
		return repos.ForEachBucket(func(name []byte) error {
			b := repos.Bucket(name)
			err := b.Bucket(bucketManifests).ForEach(func(k, v []byte) error {
				var rec manifestRecord
				if err := json.Unmarshal(v, &rec); err != nil {
					return err
				}
				live[digest.Digest(k)] = true
				for _, d := range rec.Blobs {
					live[d] = true
				}
				return nil
			})
			if err != nil {
				return err
			}
			return b.Bucket(bucketBlobs).ForEach(func(k, v []byte) error {
				if linked, _ := decodeLink(v); linked.After(cutoff) {
					live[digest.Digest(k)] = true
				}
				return nil
			})
		})
	})
	return live, err
}

// unlinkEverywhere drops links to blobs that are gone from every repository.
func (m *meta) unlinkEverywhere(gone map[digest.Digest]bool) error {
	if len(gone) == 0 {
		return nil
	}
	return m.db.Update(func(tx *bolt.Tx) error {
		repos := tx.Bucket(bucketRepos)
		return repos.ForEachBucket(func(name []byte) error {
			bb := repos.Bucket(name).Bucket(bucketBlobs)
			for d := range gone {
				if err := bb.Delete([]byte(d)); err != nil {
					return err
				}
			}
			return nil
		})
	})
}
