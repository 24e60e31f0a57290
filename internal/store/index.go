package store

import (
	"fmt"
	"maps"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// Index is a secondary table of keys derived from the records of a table.
// Every Put and Delete on the table updates it in the same transaction,
// so it never disagrees with the records, also across a crash. Periodic
// work reads the few records it needs through an index instead of
// scanning the whole table.
//
// An index entry maps an index key to the key of its record; the index's
// own table is read through ScanIndex, not Get.
type Index struct {
	// Name is the index's own table. Change it whenever Keys changes: an
	// index is built from its table only when its own table is missing.
	Name string
	// Table is the table it indexes.
	Table string
	// Keys returns the index keys of one record from its key and stored
	// JSON; none leaves the record out. Index keys must be unique across
	// the table's records: end them with the record's key.
	Keys func(key string, raw []byte) ([]string, error)
}

// AddIndex starts keeping ix up to date. When the index's table is
// missing (a new index, or a data dir written before it existed), it is
// built from every record of its table, in the same transaction that
// starts keeping it, so no write falls between. Add indexes before anything
// writes to their tables.
func (s *Store) AddIndex(ix Index) error {
	s.addMu.Lock()
	defer s.addMu.Unlock()
	before := s.indexes.Load()
	err := s.db.Update(func(btx *bolt.Tx) error {
		s.setIndexes(withIndex(before, ix))
		if btx.Bucket([]byte(ix.Name)) != nil {
			return nil
		}
		return (&Tx{btx: btx, s: s}).buildIndex(ix)
	})
	if err != nil {
		s.setIndexes(before)
		return fmt.Errorf("index %s of %s: %w", ix.Name, ix.Table, err)
	}
	return nil
}

func (s *Store) setIndexes(m *map[string]Index) { s.indexes.Store(m) }

// withIndex returns a copy of the index set m with ix added or replaced.
func withIndex(m *map[string]Index, ix Index) *map[string]Index {
	out := map[string]Index{}
	if m != nil {
		out = maps.Clone(*m)
	}
	out[ix.Name] = ix
	return &out
}

// buildIndex writes the index entries of every record of ix's table.
func (tx *Tx) buildIndex(ix Index) error {
	idx, err := tx.btx.CreateBucketIfNotExists([]byte(ix.Name))
	if err != nil {
		return err
	}
	return tx.Scan(ix.Table, "", "", func(key string, raw []byte) (bool, error) {
		keys, err := ix.Keys(key, raw)
		if err != nil {
			return false, fmt.Errorf("record %s: %w", key, err)
		}
		for _, k := range keys {
			if err := idx.Put([]byte(k), []byte(key)); err != nil {
				return false, err
			}
		}
		return true, nil
	})
}

// reindex moves the index entries of the record at key from its old
// stored JSON to its next one (nil for none). It runs before the record is
// written, while old is still valid.
func (tx *Tx) reindex(table, key string, old, next []byte) error {
	all := tx.s.indexes.Load()
	if all == nil {
		return nil
	}
	for _, ix := range *all {
		if ix.Table != table {
			continue
		}
		if err := tx.moveEntries(ix, key, old, next); err != nil {
			return fmt.Errorf("index %s of %s/%s: %w", ix.Name, table, key, err)
		}
	}
	return nil
}

func (tx *Tx) moveEntries(ix Index, key string, old, next []byte) error {
	oldKeys, err := indexKeys(ix, key, old)
	if err != nil {
		return err
	}
	newKeys, err := indexKeys(ix, key, next)
	if err != nil {
		return err
	}
	if slices.Equal(oldKeys, newKeys) {
		return nil
	}
	idx, err := tx.btx.CreateBucketIfNotExists([]byte(ix.Name))
	if err != nil {
		return err
	}
	for _, k := range oldKeys {
		if !slices.Contains(newKeys, k) {
			if err := idx.Delete([]byte(k)); err != nil {
				return err
			}
		}
	}
	for _, k := range newKeys {
		if !slices.Contains(oldKeys, k) {
			if err := idx.Put([]byte(k), []byte(key)); err != nil {
				return err
			}
		}
	}
	return nil
}

func indexKeys(ix Index, key string, raw []byte) ([]string, error) {
	if raw == nil {
		return nil, nil
	}
	return ix.Keys(key, raw)
}

// ScanIndex calls fn for each entry of an added index whose index key
// starts with prefix, in index key order, starting at the first index key
// ≥ from (when from is not empty), with its record's key and stored JSON.
// fn returns false to stop. The JSON is valid only until the transaction
// ends and must not be changed.
func (tx *Tx) ScanIndex(index, prefix, from string, fn func(indexKey, key string, raw []byte) (bool, error)) error {
	ix, ok := tx.index(index)
	if !ok {
		return fmt.Errorf("index %s: %w (AddIndex it first)", index, ErrNotFound)
	}
	return tx.Scan(index, prefix, from, func(indexKey string, key []byte) (bool, error) {
		raw := tx.GetRaw(ix.Table, string(key))
		if raw == nil {
			// Impossible while every write goes through Put and Delete.
			return false, fmt.Errorf("index %s: %s names missing record %s/%s", index, indexKey, ix.Table, key)
		}
		return fn(indexKey, string(key), raw)
	})
}

func (tx *Tx) index(name string) (Index, bool) {
	all := tx.s.indexes.Load()
	if all == nil {
		return Index{}, false
	}
	ix, ok := (*all)[name]
	return ix, ok
}
