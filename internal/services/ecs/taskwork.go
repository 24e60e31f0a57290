package ecs

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/kumo-project/kumo/internal/node"
	"github.com/kumo-project/kumo/internal/protocol"
	"github.com/kumo-project/kumo/internal/store"
)

// The reconcilers run every second, while ECS keeps STOPPED tasks
// describable for an hour: thousands of them can sit in tableTasks. The
// store keeps this index of the few tasks a reconciler can still act on,
// so a pass costs what those tasks cost, not what the table holds:
//
//	open/<task key>                    not STOPPED yet (the runner)
//	stopped/<stoppedAt>/<task key>     STOPPED, oldest first (expiry)
//	targets/<task key>                 in or entering target groups
const (
	workOpen    = "open/"
	workStopped = "stopped/"
	workTargets = "targets/"
)

// taskWork is the index of tableTasks the reconcilers read. Its name
// carries a version: change it when taskWorkKeys changes, so data dirs
// indexed the old way are indexed again.
var taskWork = store.Index{Name: "ecs/taskwork/v1", Table: tableTasks, Keys: taskWorkKeys}

// taskWorkView is the part of a task record its index keys come from.
type taskWorkView struct {
	Task struct {
		LastStatus string              `json:"lastStatus"`
		StoppedAt  *protocol.Timestamp `json:"stoppedAt"`
	}
	LoadBalancers []struct{}
	Registered    bool
	Draining      bool
}

func taskWorkKeys(key string, raw []byte) ([]string, error) {
	var v taskWorkView
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	var keys []string
	if v.Task.LastStatus != node.StatusStopped {
		keys = append(keys, workOpen+key)
	} else if stopped := protocol.TimeOf(v.Task.StoppedAt); !stopped.IsZero() {
		keys = append(keys, workStopped+sortableTime(stopped)+"/"+key)
	}
	// decideTarget acts only on such tasks; a STOPPED one may still have
	// to leave its target groups.
	if len(v.LoadBalancers) > 0 && (v.Registered || v.Draining || v.Task.LastStatus == statusActivating) {
		keys = append(keys, workTargets+key)
	}
	return keys, nil
}

// sortableTime formats t so that string order is time order.
func sortableTime(t time.Time) string {
	return t.UTC().Format("20060102T150405.000000000Z")
}

// indexTasks starts the store keeping taskWork, serviceTasksIndex and
// runTokensByAge, building them for a data dir written before they existed.
func (s *Service) indexTasks() error {
	for _, ix := range []store.Index{taskWork, serviceTasksIndex, runTokensByAge} {
		if err := s.store.AddIndex(ix); err != nil {
			return err
		}
	}
	return nil
}

// dueTasks reads the tasks the runner may act on at now: those not yet
// STOPPED, and those STOPPED longer than the retention ago.
func dueTasks(tx *store.Tx, now time.Time) ([]taskState, error) {
	var out []taskState
	collect := func(_, key string, raw []byte) (bool, error) {
		var st taskState
		if err := json.Unmarshal(raw, &st); err != nil {
			return false, fmt.Errorf("decode task %s: %w", key, err)
		}
		out = append(out, st)
		return true, nil
	}
	if err := tx.ScanIndex(taskWork.Name, workOpen, "", collect); err != nil {
		return nil, err
	}
	// Index keys of tasks stopped at the cutoff or later sort at or after
	// it: decide expires only tasks stopped strictly longer ago.
	cutoff := workStopped + sortableTime(now.Add(-stoppedTaskRetention))
	err := tx.ScanIndex(taskWork.Name, workStopped, "", func(indexKey, key string, raw []byte) (bool, error) {
		if indexKey >= cutoff {
			return false, nil
		}
		return collect(indexKey, key, raw)
	})
	return out, err
}

// openTasks reads a cluster's tasks that are not STOPPED yet, by the
// cluster's key (account/region/name).
func openTasks(tx *store.Tx, cluster string) ([]taskRecord, error) {
	return listWork[taskRecord](tx, workOpen+cluster+"/")
}

// listWork decodes every task under one prefix of taskWork.
func listWork[T any](tx *store.Tx, prefix string) ([]T, error) {
	var out []T
	err := tx.ScanIndex(taskWork.Name, prefix, "", func(_, key string, raw []byte) (bool, error) {
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			return false, fmt.Errorf("decode task %s: %w", key, err)
		}
		out = append(out, v)
		return true, nil
	})
	return out, err
}
