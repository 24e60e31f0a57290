package ecs

import (
	"path/filepath"
	"testing"

	"github.com/kumo-project/kumo/internal/store"
	"github.com/kumo-project/kumo/internal/wire/ecswire"
)

func TestTaskCacheNeverStale(t *testing.T) {
	t.Parallel()
	st, err := store.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var c taskCache
	put := func(status string) {
		st.Update(func(tx *store.Tx) error {
			return tx.Put(tableTasks, "k", taskRecord{Task: ecswire.Task{LastStatus: status}})
		})
	}
	get := func() (string, bool) {
		var task ecswire.Task
		var ok bool
		st.View(func(tx *store.Tx) error {
			task, ok, err = c.task(tx, "k")
			return err
		})
		return task.LastStatus, ok
	}
	if _, ok := get(); ok {
		t.Fatal("a missing task was found")
	}
	put("PENDING")
	if s, _ := get(); s != "PENDING" {
		t.Fatalf("got %q, want PENDING", s)
	}
	if s, _ := get(); s != "PENDING" {
		t.Fatalf("cached read got %q, want PENDING", s)
	}
	put("RUNNING")
	if s, _ := get(); s != "RUNNING" {
		t.Errorf("after an update got %q, want RUNNING", s)
	}
}
