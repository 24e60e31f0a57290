package ecs

import (
	"bytes"
	"encoding/json"
	"sync"

	"github.com/kumo-project/kumo/internal/store"
	"github.com/kumo-project/kumo/internal/wire/ecswire"
)

// maxCachedTasks bounds the cache; past it the cache starts over.
const maxCachedTasks = 20000

// taskCache keeps decoded tasks for DescribeTasks, the call users and
// waiters poll most. An entry is used only while the stored bytes are the
// very bytes it was decoded from, so it can never show a stale task.
// Entries are shared: callers may reassign fields of the Task they get (it
// is a copy) but must not change what its slices point to.
type taskCache struct {
	mu      sync.Mutex
	entries map[string]cachedTask
}

type cachedTask struct {
	raw  []byte
	task ecswire.Task
}

// task returns the task stored at key in tx, decoding it only when it
// changed since the last call.
func (c *taskCache) task(tx *store.Tx, key string) (ecswire.Task, bool, error) {
	raw := tx.GetRaw(tableTasks, key)
	if raw == nil {
		return ecswire.Task{}, false, nil
	}
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if ok && bytes.Equal(e.raw, raw) {
		return e.task, true, nil
	}
	var v taskView
	if err := json.Unmarshal(raw, &v); err != nil {
		return ecswire.Task{}, false, err
	}
	c.mu.Lock()
	if c.entries == nil || len(c.entries) >= maxCachedTasks {
		c.entries = map[string]cachedTask{}
	}
	c.entries[key] = cachedTask{raw: bytes.Clone(raw), task: v.Task}
	c.mu.Unlock()
	return v.Task, true, nil
}

// taskView is the part of a task record DescribeTasks shows: decoding only
// it skips the node spec, the larger half of the record.
type taskView struct {
	Task ecswire.Task
}
