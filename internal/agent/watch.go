package agent

import (
	"context"
	"errors"

	"github.com/kumo-project/kumo/internal/node"
)

// watcher is one Watch stream. Statuses are coalesced per task: a slow
// reader skips intermediate statuses of a task but always gets its latest,
// and the agent never blocks on a reader.
type watcher struct {
	wake    chan struct{} // capacity 1
	pending map[string]node.TaskStatus
	order   []string // task IDs in pending, oldest change first
}

// Watch streams status changes, starting with the status of every known
// task. The channel closes when ctx ends or the agent closes.
func (a *Agent) Watch(ctx context.Context) (<-chan node.TaskStatus, error) {
	w := &watcher{wake: make(chan struct{}, 1), pending: make(map[string]node.TaskStatus)}
	a.mu.Lock()
	if !a.started || a.closed {
		a.mu.Unlock()
		return nil, errors.New("agent: not running")
	}
	for _, t := range a.tasks {
		w.push(t.rec.Status)
	}
	a.watchers[w] = struct{}{}
	a.mu.Unlock()

	out := make(chan node.TaskStatus)
	go func() {
		defer close(out)
		defer func() {
			a.mu.Lock()
			delete(a.watchers, w)
			a.mu.Unlock()
		}()
		for {
			for _, st := range a.drain(w) {
				select {
				case out <- st:
				case <-ctx.Done():
					return
				case <-a.ctx.Done():
					return
				}
			}
			select {
			case <-w.wake:
			case <-ctx.Done():
				return
			case <-a.ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// push queues a status for the watcher; Agent.mu must be held.
func (w *watcher) push(st node.TaskStatus) {
	if _, queued := w.pending[st.TaskID]; !queued {
		w.order = append(w.order, st.TaskID)
	}
	w.pending[st.TaskID] = cloneStatus(st)
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// drain takes the watcher's queued statuses.
func (a *Agent) drain(w *watcher) []node.TaskStatus {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]node.TaskStatus, 0, len(w.order))
	for _, id := range w.order {
		out = append(out, w.pending[id])
	}
	w.order = w.order[:0]
	clear(w.pending)
	return out
}

// notifyLocked tells every watcher about t's status; Agent.mu must be held.
func (a *Agent) notifyLocked(t *task) {
	for w := range a.watchers {
		w.push(t.rec.Status)
	}
}
