package store

import (
	"errors"
	"path/filepath"
	"testing"
)

type item struct {
	Name  string
	Count int
}

func TestPutGetListDelete(t *testing.T) {
	t.Parallel()
	s, err := Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Update(func(tx *Tx) error {
		for _, k := range []string{"a/2", "a/1", "b/1"} {
			if err := tx.Put("items", k, item{Name: k}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.View(func(tx *Tx) error {
		got, err := List[item](tx, "items", "a/")
		if err != nil {
			return err
		}
		if len(got) != 2 || got[0].Name != "a/1" || got[1].Name != "a/2" {
			t.Errorf("List(a/) = %+v, want a/1, a/2", got)
		}
		v, ok, err := Get[item](tx, "items", "b/1")
		if err != nil || !ok || v.Name != "b/1" {
			t.Errorf("Get(b/1) = %+v %v %v", v, ok, err)
		}
		_, ok, _ = Get[item](tx, "missing-table", "x")
		if ok {
			t.Error("Get from a missing table found a record")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestFailedUpdateLeavesNothing(t *testing.T) {
	t.Parallel()
	s, err := Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	boom := errors.New("boom")
	err = s.Update(func(tx *Tx) error {
		if err := tx.Put("items", "x", item{Name: "x"}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update error = %v, want boom", err)
	}
	s.View(func(tx *Tx) error {
		if _, ok, _ := Get[item](tx, "items", "x"); ok {
			t.Error("record of a failed transaction is visible")
		}
		return nil
	})
}

func TestReopenKeepsCommittedState(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	s.Update(func(tx *Tx) error { return tx.Put("items", "k", item{Count: 7}) })
	s.Close()
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.View(func(tx *Tx) error {
		v, ok, err := Get[item](tx, "items", "k")
		if !ok || err != nil || v.Count != 7 {
			t.Errorf("after reopen Get = %+v %v %v", v, ok, err)
		}
		return nil
	})
}
