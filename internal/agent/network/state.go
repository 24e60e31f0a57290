package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/kumo-project/kumo/internal/fsutil"
	"github.com/kumo-project/kumo/internal/node"
)

// allocation is what Setup persists for one task, so that a restarted kumo
// re-adopts the same namespace, address and published ports.
type allocation struct {
	TaskID    string
	Mode      string
	NetNSName string `json:",omitempty"` // empty in host mode
	VethName  string `json:",omitempty"` // host end; awsvpc and bridge only
	IPv4      string `json:",omitempty"`
	MAC       string `json:",omitempty"`
	Ports     []node.PortMapping
	Bindings  []node.NetworkBinding
	// Ready is false while Setup is still creating the resources; an
	// allocation found not ready was interrupted by a crash.
	Ready bool
}

// netnsPath is where the task's namespace is bind-mounted, or "".
func (a *allocation) netnsPath() string {
	if a.NetNSName == "" {
		return ""
	}
	return filepath.Join(netnsDir, a.NetNSName)
}

// sandbox returns the caller's view of the allocation.
func (a *allocation) sandbox() *Sandbox {
	return &Sandbox{
		TaskID:    a.TaskID,
		Mode:      a.Mode,
		NetNSPath: a.netnsPath(),
		IPv4:      a.IPv4,
		MAC:       a.MAC,
		Bindings:  append([]node.NetworkBinding(nil), a.Bindings...),
	}
}

// stateDir stores the instance's subnet choice and one file per task.
type stateDir struct {
	dir string
}

// networkState is the instance-wide part of the state.
type networkState struct {
	Subnet string
}

func (s stateDir) tasksDir() string              { return filepath.Join(s.dir, "tasks") }
func (s stateDir) taskFile(taskID string) string { return filepath.Join(s.tasksDir(), taskID+".json") }
func (s stateDir) networkFile() string           { return filepath.Join(s.dir, "network.json") }
func (s stateDir) saveAllocation(a *allocation) error {
	return fsutil.WriteJSONAtomic(s.taskFile(a.TaskID), a)
}

func (s stateDir) init() error {
	if err := os.MkdirAll(s.tasksDir(), 0o700); err != nil {
		return fmt.Errorf("create network state dir: %w", err)
	}
	return nil
}

// loadAllocations reads every task file. Leftover temporary files of an
// interrupted write are removed.
func (s stateDir) loadAllocations() (map[string]*allocation, error) {
	entries, err := os.ReadDir(s.tasksDir())
	if err != nil {
		return nil, fmt.Errorf("read network state: %w", err)
	}
	allocs := make(map[string]*allocation)
	for _, e := range entries {
		path := filepath.Join(s.tasksDir(), e.Name())
		if strings.HasSuffix(e.Name(), ".tmp") {
			os.Remove(path)
			continue
		}
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		var a allocation
		if err := readJSON(path, &a); err != nil {
			return nil, err
		}
		allocs[a.TaskID] = &a
	}
	return allocs, nil
}

func (s stateDir) removeAllocation(taskID string) error {
	err := os.Remove(s.taskFile(taskID))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove network state of task %q: %w", taskID, err)
	}
	return nil
}

// loadSubnet returns the persisted subnet, or "" if none was chosen yet.
func (s stateDir) loadSubnet() (string, error) {
	var st networkState
	err := readJSON(s.networkFile(), &st)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	return st.Subnet, err
}

func (s stateDir) saveSubnet(subnet string) error {
	return fsutil.WriteJSONAtomic(s.networkFile(), networkState{Subnet: subnet})
}

// removeAll deletes every file this package wrote.
func (s stateDir) removeAll() error {
	err := errors.Join(os.RemoveAll(s.tasksDir()), os.Remove(s.networkFile()))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove network state: %w", err)
	}
	return nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("parse %s: %w", path, err)
	}
	return nil
}
