package ecr

import (
	"context"
	"encoding/json"
	"time"

	"github.com/kumo-project/kumo/internal/registry"
	"github.com/kumo-project/kumo/internal/store"
	"github.com/kumo-project/kumo/internal/wire/ecrwire"
	"github.com/opencontainers/go-digest"
)

// registryPolicy is what ECR lets the registry store: only into
// repositories that exist, and never moving an immutable tag.
type registryPolicy struct{ s *Service }

var _ registry.Policy = registryPolicy{}

// CheckRepository refuses writes to repositories that were not created.
func (p registryPolicy) CheckRepository(ctx context.Context, repo string) error {
	_, ok, err := p.s.repoByName(repo)
	if err == nil && !ok {
		err = registry.NewError(registry.CodeNameUnknown, "The repository with name '"+repo+"' does not exist in the registry")
	}
	return err
}

// CheckTagPush refuses to point an immutable tag at another manifest.
func (p registryPolicy) CheckTagPush(ctx context.Context, repo, tag string, current, next digest.Digest) error {
	if current == "" || current == next {
		return nil
	}
	rec, ok, err := p.s.repoByName(repo)
	if err != nil || !ok {
		return err
	}
	if tagImmutable(rec.Repository, tag) {
		return registry.NewError(registry.CodeTagInvalid, tagImmutableMessage(tag, repo))
	}
	return nil
}

// repoByName reads a repository whatever its account and region.
func (s *Service) repoByName(name string) (rec repoRecord, ok bool, err error) {
	err = s.store.View(func(tx *store.Tx) error {
		rec, ok, err = store.Get[repoRecord](tx, tableRepos, name)
		return err
	})
	return rec, ok, err
}

// tagImmutable reports whether tag may not be moved in repo: IMMUTABLE
// repositories, IMMUTABLE_WITH_EXCLUSION except for tags matching a filter,
// MUTABLE_WITH_EXCLUSION only for tags matching a filter.
func tagImmutable(repo ecrwire.Repository, tag string) bool {
	matches := false
	for _, f := range repo.ImageTagMutabilityExclusionFilters {
		if matchWildcard(f.Filter, tag) {
			matches = true
		}
	}
	switch repo.ImageTagMutability {
	case immutable:
		return true
	case immutableWithExclusion:
		return !matches
	case mutableWithExclusion:
		return matches
	}
	return false
}

// onRegistryEvent keeps ECR's records in step with the registry: scan on
// push, the last pull time, and forgetting deleted images.
func (s *Service) onRegistryEvent(ctx context.Context, e registry.Event) {
	key := imageKey(e.Repository, e.Digest.String())
	switch e.Kind {
	case registry.EventManifestPushed:
		rec, ok, err := s.repoByName(e.Repository)
		if err != nil || !ok || !s.scansOnPush(rec) {
			return
		}
		if im, err := s.registry.Image(ctx, e.Repository, e.Digest.String()); err == nil && scannable(im) {
			s.queueScan(e.Repository, e.Digest)
		}
	case registry.EventManifestPulled:
		s.recordPull(key, e.Time)
	case registry.EventManifestDeleted:
		if err := s.store.Update(func(tx *store.Tx) error { return tx.Delete(tableImages, key) }); err != nil {
			s.log.Error("ecr: forget deleted image", "key", key, "err", err)
		}
	}
}

// pullTimeResolution is how old a recorded pull time gets before a pull
// rewrites it. ECR refreshes lastRecordedPullTime at least once every 24
// hours; kumo keeps it within a minute, and spares busy images a store
// write (an fsync) on every pull.
const pullTimeResolution = time.Minute

// recordPull records that the image at key was pulled at the given time,
// unless a pull less than pullTimeResolution earlier is recorded.
func (s *Service) recordPull(key string, at time.Time) {
	var last struct{ LastPulledAt time.Time } // the one member needed, not the scan findings
	err := s.store.View(func(tx *store.Tx) error {
		_, err := tx.Get(tableImages, key, &last)
		return err
	})
	if err == nil && at.Sub(last.LastPulledAt) < pullTimeResolution {
		return
	}
	s.editImage(key, func(r *imageRecord) { r.LastPulledAt = at })
}

// editImage changes the image record at key, creating it if needed.
func (s *Service) editImage(key string, edit func(*imageRecord)) {
	err := s.store.Update(func(tx *store.Tx) error {
		rec, _, err := store.Get[imageRecord](tx, tableImages, key)
		if err != nil {
			return err
		}
		edit(&rec)
		return tx.Put(tableImages, key, rec)
	})
	if err != nil {
		s.log.Error("ecr: update image record", "key", key, "err", err)
	}
}

// imageRecords reads ECR's records of repo's images by digest.
func (s *Service) imageRecords(repo string) (map[string]imageRecord, error) {
	out := map[string]imageRecord{}
	err := s.store.View(func(tx *store.Tx) error {
		prefix := repo + imageKeyMarker
		return tx.Scan(tableImages, prefix, "", func(key string, raw []byte) (bool, error) {
			var rec imageRecord
			err := json.Unmarshal(raw, &rec)
			out[key[len(prefix):]] = rec
			return true, err
		})
	})
	return out, err
}
