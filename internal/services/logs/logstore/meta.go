package logstore

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	bolt "go.etcd.io/bbolt"
)

// Metadata layout in meta.db:
//
//	groups/<group name>             → groupRecord (JSON)
//	streams/<group id, 8 bytes BE>/ → bucket: <stream name> → streamRecord (JSON)
//
// Both group and stream ids come from the groups bucket's sequence.
var (
	bucketGroups  = []byte("groups")
	bucketStreams = []byte("streams")
)

type groupRecord struct {
	ID           uint64        `json:"id"`
	Name         string        `json:"name"`
	CreationTime int64         `json:"creationTime"`
	Settings     GroupSettings `json:"settings"`
}

type streamRecord struct {
	ID           uint64 `json:"id"`
	Name         string `json:"name"`
	CreationTime int64  `json:"creationTime"`
}

func idKey(id uint64) []byte { return binary.BigEndian.AppendUint64(nil, id) }

// load reads all metadata, opens every stream's segments, and removes
// stream directories that no metadata refers to (left by a crash during a
// delete).
func (s *Store) load() error {
	live := map[string]bool{}
	err := s.db.Update(func(tx *bolt.Tx) error {
		groups, err := tx.CreateBucketIfNotExists(bucketGroups)
		if err != nil {
			return err
		}
		streams, err := tx.CreateBucketIfNotExists(bucketStreams)
		if err != nil {
			return err
		}
		return groups.ForEach(func(_, v []byte) error {
			var rec groupRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("logstore: group record: %w", err)
			}
			g := &group{id: rec.ID, name: rec.Name, created: rec.CreationTime, settings: rec.Settings, streams: map[string]*stream{}}
			s.groups[g.name] = g
			b := streams.Bucket(idKey(g.id))
			if b == nil {
				return nil
			}
			return b.ForEach(func(_, v []byte) error {
				var sr streamRecord
				if err := json.Unmarshal(v, &sr); err != nil {
					return fmt.Errorf("logstore: stream record: %w", err)
				}
				st, err := openStream(s, g, sr)
				if err != nil {
					return err
				}
				g.streams[st.name] = st
				live[strconv.FormatUint(sr.ID, 10)] = true
				return nil
			})
		})
	})
	if err != nil {
		return err
	}
	return removeOrphans(filepath.Join(s.cfg.Dir, "streams"), live)
}

func removeOrphans(dir string, live map[string]bool) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !live[e.Name()] {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// CreateGroup creates a log group. It fails with ErrAlreadyExists if the
// name is taken.
func (s *Store) CreateGroup(name string, settings GroupSettings) (Group, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Group{}, ErrClosed
	}
	if _, ok := s.groups[name]; ok {
		return Group{}, fmt.Errorf("log group %q: %w", name, ErrAlreadyExists)
	}
	settings.Tags = copyTags(settings.Tags)
	rec := groupRecord{Name: name, CreationTime: s.nowMillis(), Settings: settings}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketGroups)
		id, err := b.NextSequence()
		if err != nil {
			return err
		}
		rec.ID = id
		return putJSON(b, []byte(name), rec)
	})
	if err != nil {
		return Group{}, fmt.Errorf("create log group %q: %w", name, err)
	}
	g := &group{id: rec.ID, name: name, created: rec.CreationTime, settings: settings, streams: map[string]*stream{}}
	s.groups[name] = g
	return g.describe(), nil
}

// DeleteGroup deletes a log group with all its streams and events.
func (s *Store) DeleteGroup(name string) error {
	s.mu.Lock()
	g, ok := s.groups[name]
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	if !ok {
		s.mu.Unlock()
		return fmt.Errorf("log group %q: %w", name, ErrNotFound)
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketGroups).Delete([]byte(name)); err != nil {
			return err
		}
		if err := tx.Bucket(bucketStreams).DeleteBucket(idKey(g.id)); err != nil && err != bolt.ErrBucketNotFound {
			return err
		}
		return nil
	})
	if err == nil {
		delete(s.groups, name)
	}
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("delete log group %q: %w", name, err)
	}
	for _, st := range g.allStreams() {
		if err := st.remove(); err != nil {
			return err
		}
	}
	return nil
}

// Group describes one log group.
func (s *Store) Group(name string) (Group, error) {
	g, err := s.lookupGroup(name)
	if err != nil {
		return Group{}, err
	}
	return g.describe(), nil
}

// Groups describes every log group, sorted by name.
func (s *Store) Groups() []Group {
	s.mu.RLock()
	groups := make([]*group, 0, len(s.groups))
	for _, g := range s.groups {
		groups = append(groups, g)
	}
	s.mu.RUnlock()
	sort.Slice(groups, func(i, j int) bool { return groups[i].name < groups[j].name })
	out := make([]Group, len(groups))
	for i, g := range groups {
		out[i] = g.describe()
	}
	return out
}

// UpdateGroup changes a group's settings: update edits a copy, which is
// stored only if update returns nil.
func (s *Store) UpdateGroup(name string, update func(*GroupSettings) error) (Group, error) {
	g, err := s.lookupGroup(name)
	if err != nil {
		return Group{}, err
	}
	g.mu.Lock()
	settings := g.settings
	settings.Tags = copyTags(g.settings.Tags)
	if err := update(&settings); err != nil {
		g.mu.Unlock()
		return Group{}, err
	}
	rec := groupRecord{ID: g.id, Name: g.name, CreationTime: g.created, Settings: settings}
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketGroups)
		if b.Get([]byte(name)) == nil {
			return fmt.Errorf("log group %q: %w", name, ErrNotFound)
		}
		return putJSON(b, []byte(name), rec)
	})
	if err == nil {
		g.settings = settings
	}
	g.mu.Unlock()
	if err != nil {
		return Group{}, fmt.Errorf("update log group %q: %w", name, err)
	}
	return g.describe(), nil
}

// CreateStream creates a log stream in a group.
func (s *Store) CreateStream(groupName, streamName string) (Stream, error) {
	g, err := s.lookupGroup(groupName)
	if err != nil {
		return Stream{}, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.streams[streamName]; ok {
		return Stream{}, fmt.Errorf("log stream %q in log group %q: %w", streamName, groupName, ErrAlreadyExists)
	}
	rec := streamRecord{Name: streamName, CreationTime: s.nowMillis()}
	err = s.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketGroups).Get([]byte(groupName)) == nil {
			return fmt.Errorf("log group %q: %w", groupName, ErrNotFound)
		}
		id, err := tx.Bucket(bucketGroups).NextSequence()
		if err != nil {
			return err
		}
		rec.ID = id
		b, err := tx.Bucket(bucketStreams).CreateBucketIfNotExists(idKey(g.id))
		if err != nil {
			return err
		}
		return putJSON(b, []byte(streamName), rec)
	})
	if err != nil {
		return Stream{}, fmt.Errorf("create log stream %q: %w", streamName, err)
	}
	g.streams[streamName] = newStream(s, g, rec)
	return Stream{Name: streamName, CreationTime: rec.CreationTime}, nil
}

// DeleteStream deletes a log stream and its events.
func (s *Store) DeleteStream(groupName, streamName string) error {
	g, st, err := s.lookupStream(groupName, streamName)
	if err != nil {
		return err
	}
	g.mu.Lock()
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketStreams).Bucket(idKey(g.id))
		if b == nil {
			return nil
		}
		return b.Delete([]byte(streamName))
	})
	if err == nil && g.streams[streamName] == st {
		delete(g.streams, streamName)
	}
	g.mu.Unlock()
	if err != nil {
		return fmt.Errorf("delete log stream %q: %w", streamName, err)
	}
	return st.remove()
}

// Stream describes one log stream.
func (s *Store) Stream(groupName, streamName string) (Stream, error) {
	_, st, err := s.lookupStream(groupName, streamName)
	if err != nil {
		return Stream{}, err
	}
	return st.describe(), nil
}

// Streams describes every stream of a group, sorted by name.
func (s *Store) Streams(groupName string) ([]Stream, error) {
	g, err := s.lookupGroup(groupName)
	if err != nil {
		return nil, err
	}
	streams := g.allStreams()
	out := make([]Stream, len(streams))
	for i, st := range streams {
		out[i] = st.describe()
	}
	return out, nil
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, data)
}
