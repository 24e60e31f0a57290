package store

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"testing"
)

// byCount indexes items with a positive Count under "pos/<key>", and every
// item under "name/<Name>/<key>".
var byCount = Index{
	Name:  "items-by-count",
	Table: "items",
	Keys: func(key string, raw []byte) ([]string, error) {
		var it item
		if err := json.Unmarshal(raw, &it); err != nil {
			return nil, err
		}
		keys := []string{"name/" + it.Name + "/" + key}
		if it.Count > 0 {
			keys = append(keys, "pos/"+key)
		}
		return keys, nil
	},
}

func openStore(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func put(t *testing.T, s *Store, items map[string]item) {
	t.Helper()
	err := s.Update(func(tx *Tx) error {
		for k, v := range items {
			if err := tx.Put("items", k, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// scanned returns "indexKey=key" for each entry under prefix, checking
// that the record handed over is the one the entry names.
func scanned(t *testing.T, s *Store, index, prefix string) []string {
	t.Helper()
	var out []string
	err := s.View(func(tx *Tx) error {
		return tx.ScanIndex(index, prefix, "", func(indexKey, key string, raw []byte) (bool, error) {
			if want := tx.GetRaw("items", key); string(raw) != string(want) {
				t.Errorf("ScanIndex gave %s for %s, stored is %s", raw, key, want)
			}
			out = append(out, indexKey+"="+key)
			return true, nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestIndexFollowsPutAndDelete(t *testing.T) {
	t.Parallel()
	s := openStore(t, filepath.Join(t.TempDir(), "state.db"))
	if err := s.AddIndex(byCount); err != nil {
		t.Fatal(err)
	}
	put(t, s, map[string]item{"a": {Name: "x", Count: 1}, "b": {Name: "y"}, "c": {Name: "x", Count: 2}})
	if got, want := scanned(t, s, byCount.Name, "pos/"), []string{"pos/a=a", "pos/c=c"}; !slices.Equal(got, want) {
		t.Errorf("pos/ after puts = %v, want %v", got, want)
	}
	// a drops out of pos/ and moves name; b joins pos/; c goes.
	put(t, s, map[string]item{"a": {Name: "z"}, "b": {Name: "y", Count: 5}})
	if err := s.Update(func(tx *Tx) error { return tx.Delete("items", "c") }); err != nil {
		t.Fatal(err)
	}
	if got, want := scanned(t, s, byCount.Name, ""), []string{"name/y/b=b", "name/z/a=a", "pos/b=b"}; !slices.Equal(got, want) {
		t.Errorf("index after changes = %v, want %v", got, want)
	}
}

func TestIndexOfFailedUpdateLeavesNothing(t *testing.T) {
	t.Parallel()
	s := openStore(t, filepath.Join(t.TempDir(), "state.db"))
	if err := s.AddIndex(byCount); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := s.Update(func(tx *Tx) error {
		if err := tx.Put("items", "a", item{Name: "x", Count: 1}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update error = %v, want boom", err)
	}
	if got := scanned(t, s, byCount.Name, ""); len(got) != 0 {
		t.Errorf("index entries of a failed transaction: %v", got)
	}
}

// TestAddIndexBuildsMissingIndex opens a store written without the index,
// as a data dir of an older kumo is: adding it indexes the records there.
// Reopened, the index is kept, not built again.
func TestAddIndexBuildsMissingIndex(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.db")
	old := openStore(t, path)
	put(t, old, map[string]item{"a": {Name: "x", Count: 1}, "b": {Name: "y"}})
	old.Close()

	s := openStore(t, path)
	if err := s.AddIndex(byCount); err != nil {
		t.Fatal(err)
	}
	if got, want := scanned(t, s, byCount.Name, "pos/"), []string{"pos/a=a"}; !slices.Equal(got, want) {
		t.Errorf("built index pos/ = %v, want %v", got, want)
	}
	put(t, s, map[string]item{"b": {Name: "y", Count: 1}})
	s.Close()

	// A Keys that would index nothing shows whether reopening rebuilt it.
	again := openStore(t, path)
	kept := byCount
	kept.Keys = func(string, []byte) ([]string, error) { return nil, nil }
	if err := again.AddIndex(kept); err != nil {
		t.Fatal(err)
	}
	if got, want := scanned(t, again, byCount.Name, "pos/"), []string{"pos/a=a", "pos/b=b"}; !slices.Equal(got, want) {
		t.Errorf("reopened index pos/ = %v, want %v", got, want)
	}
}

func TestAddIndexOfUndecodableRecordFails(t *testing.T) {
	t.Parallel()
	s := openStore(t, filepath.Join(t.TempDir(), "state.db"))
	err := s.Update(func(tx *Tx) error { return tx.Put("items", "bad", "not an item") })
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddIndex(byCount); err == nil {
		t.Fatal("AddIndex over a record Keys cannot read succeeded")
	}
	// The failed index is not kept: writes still work without it.
	put(t, s, map[string]item{"a": {Name: "x", Count: 1}})
	err = s.View(func(tx *Tx) error {
		return tx.ScanIndex(byCount.Name, "", "", func(string, string, []byte) (bool, error) { return true, nil })
	})
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("ScanIndex of a failed index = %v, want ErrNotFound", err)
	}
}

func TestScanIndexStopsAndStartsFrom(t *testing.T) {
	t.Parallel()
	s := openStore(t, filepath.Join(t.TempDir(), "state.db"))
	if err := s.AddIndex(byCount); err != nil {
		t.Fatal(err)
	}
	put(t, s, map[string]item{"a": {Count: 1}, "b": {Count: 1}, "c": {Count: 1}, "d": {Count: 1}})
	var got []string
	err := s.View(func(tx *Tx) error {
		return tx.ScanIndex(byCount.Name, "pos/", "pos/b", func(_, key string, _ []byte) (bool, error) {
			got = append(got, key)
			return key < "c", nil
		})
	})
	if err != nil || !slices.Equal(got, []string{"b", "c"}) {
		t.Errorf("ScanIndex from pos/b until c = %v, %v; want [b c]", got, err)
	}
}
