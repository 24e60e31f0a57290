// Package store is kumo's one embedded, transactional state store. Every
// service keeps its control-plane state here, in tables of JSON records
// keyed by strings. Writes are serializable bbolt transactions, fsynced on
// commit, so a kill -9 never leaves a half-applied change.
//
// The store never invents IDs, ARNs or timestamps: callers make them, so the
// same inputs always give the same state. Reads decode into fresh values, so
// a caller may change what it read without touching the store.
//
// An Index keeps a secondary table of a table's records in step with every
// write, so periodic work can read the few records it needs (ScanIndex)
// instead of the whole table.
package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ErrNotFound is returned by Must-style reads of a missing record.
var ErrNotFound = errors.New("not found")

// Store is an open state database.
type Store struct {
	db *bolt.DB

	addMu   sync.Mutex                       // serializes AddIndex
	indexes atomic.Pointer[map[string]Index] // by index name; replaced whole
}

// Open opens (creating if needed) the store at path.
func Open(path string) (*Store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Update runs fn in a read-write transaction, committed if fn returns nil.
func (s *Store) Update(fn func(tx *Tx) error) error {
	return s.db.Update(func(btx *bolt.Tx) error { return fn(&Tx{btx: btx, s: s}) })
}

// View runs fn in a read-only transaction.
func (s *Store) View(fn func(tx *Tx) error) error {
	return s.db.View(func(btx *bolt.Tx) error { return fn(&Tx{btx: btx, s: s}) })
}

// Tx is a transaction over named tables.
type Tx struct {
	btx *bolt.Tx
	s   *Store
}

func (tx *Tx) table(name string) (*bolt.Bucket, error) {
	if tx.btx.Writable() {
		return tx.btx.CreateBucketIfNotExists([]byte(name))
	}
	return tx.btx.Bucket([]byte(name)), nil
}

// Put stores v as JSON under key in table.
func (tx *Tx) Put(table, key string, v any) error {
	b, err := tx.table(table)
	if err != nil {
		return err
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s/%s: %w", table, key, err)
	}
	if err := tx.reindex(table, key, b.Get([]byte(key)), data); err != nil {
		return err
	}
	return b.Put([]byte(key), data)
}

// Get decodes the record at key into v and reports whether it exists.
func (tx *Tx) Get(table, key string, v any) (bool, error) {
	b, err := tx.table(table)
	if err != nil || b == nil {
		return false, err
	}
	data := b.Get([]byte(key))
	if data == nil {
		return false, nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return false, fmt.Errorf("decode %s/%s: %w", table, key, err)
	}
	return true, nil
}

// GetRaw returns the stored JSON of the record at key, or nil. The bytes
// are valid only until the transaction ends and must not be changed.
func (tx *Tx) GetRaw(table, key string) []byte {
	b, err := tx.table(table)
	if err != nil || b == nil {
		return nil
	}
	return b.Get([]byte(key))
}

// Delete removes the record at key; deleting a missing key is not an error.
func (tx *Tx) Delete(table, key string) error {
	b, err := tx.table(table)
	if err != nil || b == nil {
		return err
	}
	if err := tx.reindex(table, key, b.Get([]byte(key)), nil); err != nil {
		return err
	}
	return b.Delete([]byte(key))
}

// Scan calls fn for each record whose key starts with prefix, in key order,
// starting at the first key ≥ from (when from is not empty). fn returns
// false to stop.
func (tx *Tx) Scan(table, prefix, from string, fn func(key string, raw []byte) (bool, error)) error {
	b, err := tx.table(table)
	if err != nil || b == nil {
		return err
	}
	c := b.Cursor()
	start := prefix
	if from > start {
		start = from
	}
	p := []byte(prefix)
	for k, v := c.Seek([]byte(start)); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
		more, err := fn(string(k), v)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// NextSequence returns the next value of a counter kept per table.
func (tx *Tx) NextSequence(table string) (uint64, error) {
	b, err := tx.table(table)
	if err != nil {
		return 0, err
	}
	if b == nil {
		return 0, errors.New("sequence in a read-only transaction")
	}
	return b.NextSequence()
}

// Get reads the record at key as a T.
func Get[T any](tx *Tx, table, key string) (T, bool, error) {
	var v T
	ok, err := tx.Get(table, key, &v)
	return v, ok, err
}

// List reads every record under prefix, in key order.
func List[T any](tx *Tx, table, prefix string) ([]T, error) {
	var out []T
	err := tx.Scan(table, prefix, "", func(key string, raw []byte) (bool, error) {
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			return false, fmt.Errorf("decode %s/%s: %w", table, key, err)
		}
		out = append(out, v)
		return true, nil
	})
	return out, err
}
