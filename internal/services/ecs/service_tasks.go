package ecs

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"

	"github.com/kumo-project/kumo/internal/node"
	"github.com/kumo-project/kumo/internal/store"
)

// A service scheduler pass decides on a service's tasks, while ECS keeps
// STOPPED tasks describable for an hour. Of those, decideService reads
// only the ones countFailures may count (the PRIMARY deployment's failed
// tasks) and the ones in Counted, to know they are still stored. The
// store keeps this index of service tasks, per cluster and group, so a
// pass reads those and the open tasks, not the cluster's every task:
//
//	<cluster key>/<group>/open/<task key>                  not STOPPED yet
//	<cluster key>/<group>/failed/<startedBy>/<task key>    STOPPED, failed()
//
// Group and startedBy are path-escaped: both are the user's to choose in
// RunTask, and must not reach into another group's keys.
const (
	serviceOpen   = "open/"
	serviceFailed = "failed/"
)

// serviceTasksIndex is the index of tableTasks the service scheduler
// reads. Change its version when serviceTaskKeys changes.
var serviceTasksIndex = store.Index{Name: "ecs/servicetasks/v1", Table: tableTasks, Keys: serviceTaskKeys}

// serviceTaskView is the part of a task record its index keys come from.
type serviceTaskView struct {
	Task struct {
		Group         string `json:"group"`
		StartedBy     string `json:"startedBy"`
		LastStatus    string `json:"lastStatus"`
		DesiredStatus string `json:"desiredStatus"`
		StopCode      string `json:"stopCode"`
		StoppedReason string `json:"stoppedReason"`
	}
}

func serviceTaskKeys(key string, raw []byte) ([]string, error) {
	var v serviceTaskView
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	t := v.Task
	cluster, _, ok := cutLast(key, "/")
	if !ok || !strings.HasPrefix(t.Group, "service:") {
		return nil, nil
	}
	prefix := serviceTasksPrefix(cluster, t.Group)
	if t.LastStatus != node.StatusStopped {
		return []string{prefix + serviceOpen + key}, nil
	}
	// Decided with the scheduler's own rule, so the index and
	// countFailures never disagree.
	st := serviceTask{desiredStatus: t.DesiredStatus, stopCode: t.StopCode, stoppedReason: t.StoppedReason}
	if st.failed() {
		return []string{prefix + serviceFailed + url.PathEscape(t.StartedBy) + "/" + key}, nil
	}
	return nil, nil
}

// serviceTasksPrefix is where the index keys of a group's tasks in a
// cluster (account/region/clusterName) start.
func serviceTasksPrefix(cluster, group string) string {
	return cluster + "/" + url.PathEscape(group) + "/"
}

// cutLast slices s around its last sep.
func cutLast(s, sep string) (before, after string, found bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// serviceTasks reads the tasks of a service that decideService needs:
// those not yet STOPPED, the PRIMARY deployment's failed ones, and the
// ones in Counted. Any other stopped task changes none of its decisions.
// They come in task key order, as a scan of the cluster lists them, so
// the decisions are the same as over every task.
func serviceTasks(tx *store.Tx, rec serviceRecord) ([]taskRecord, error) {
	cluster := rec.scope().key(clusterName(rec.Service.ClusterArn))
	group := serviceGroup(rec.Service.ServiceName)
	prefix := serviceTasksPrefix(cluster, group)
	found := map[string]taskRecord{}
	read := func(_, key string, raw []byte) (bool, error) {
		return true, decodeTask(found, key, raw)
	}
	if err := tx.ScanIndex(serviceTasksIndex.Name, prefix+serviceOpen, "", read); err != nil {
		return nil, err
	}
	if primary := rec.primary(); primary != nil {
		failed := prefix + serviceFailed + url.PathEscape(primary.Id) + "/"
		if err := tx.ScanIndex(serviceTasksIndex.Name, failed, "", read); err != nil {
			return nil, err
		}
	}
	if err := readCounted(tx, rec.Counted, cluster, group, found); err != nil {
		return nil, err
	}
	keys := slices.Sorted(maps.Keys(found))
	out := make([]taskRecord, 0, len(keys))
	for _, k := range keys {
		out = append(out, found[k])
	}
	return out, nil
}

// openServiceTasks reads a service's tasks that are not STOPPED: all its
// running and pending counts come from.
func openServiceTasks(tx *store.Tx, cluster, group string) ([]taskRecord, error) {
	found := map[string]taskRecord{}
	err := tx.ScanIndex(serviceTasksIndex.Name, serviceTasksPrefix(cluster, group)+serviceOpen, "",
		func(_, key string, raw []byte) (bool, error) { return true, decodeTask(found, key, raw) })
	return slices.Collect(maps.Values(found)), err
}

// readCounted adds to found the counted tasks still stored in the
// cluster with the group, read by ID: a counted task of an older
// deployment is in neither of the index's lists.
func readCounted(tx *store.Tx, ids []string, cluster, group string, found map[string]taskRecord) error {
	for _, id := range ids {
		key, ok, err := store.Get[string](tx, tableTaskIndex, id)
		if err != nil {
			return err
		}
		if !ok || !strings.HasPrefix(key, cluster+"/") {
			continue
		}
		if _, seen := found[key]; seen {
			continue
		}
		raw := tx.GetRaw(tableTasks, key)
		if raw == nil {
			continue
		}
		if err := decodeTask(found, key, raw); err != nil {
			return err
		}
		if found[key].Task.Group != group {
			delete(found, key)
		}
	}
	return nil
}

func decodeTask(found map[string]taskRecord, key string, raw []byte) error {
	var t taskRecord
	if err := json.Unmarshal(raw, &t); err != nil {
		return fmt.Errorf("decode task %s: %w", key, err)
	}
	found[key] = t
	return nil
}
