package node

import "errors"

// ErrNotFound means the node does not know the task.
var ErrNotFound = errors.New("not found")
