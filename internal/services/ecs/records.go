package ecs

import (
	"time"

	"github.com/kumo-project/kumo/internal/node"
	"github.com/kumo-project/kumo/internal/wire/ecswire"
)

// Store tables of the ECS service. Keys start with account/region.
const (
	tableClusters  = "ecs/clusters"  // account/region/clusterName
	tableTaskDefs  = "ecs/taskdefs"  // account/region/family/revision (zero-padded)
	tableFamilies  = "ecs/families"  // account/region/family → last revision ever used
	tableTasks     = "ecs/tasks"     // account/region/clusterName/taskID
	tableTaskIndex = "ecs/taskindex" // taskID → key in tableTasks
	tableRunTokens = "ecs/runtokens" // account/region/clientToken → the tasks that RunTask started
	tableServices  = "ecs/services"  // account/region/clusterName/serviceName
)

// Cluster statuses.
const (
	statusActive   = "ACTIVE"
	statusInactive = "INACTIVE"
)

// clusterRecord is a stored cluster. Task and service counts are derived
// when the cluster is described, never stored.
type clusterRecord struct {
	Cluster ecswire.Cluster
}

// taskDefRecord is one revision of a task definition family.
type taskDefRecord struct {
	TaskDefinition ecswire.TaskDefinition
	Tags           []ecswire.Tag
}

// familyRecord remembers the last revision of a family, so revisions are
// never reused even after every revision was deleted.
type familyRecord struct {
	LastRevision int32
}

// taskRecord is a task: what DescribeTasks shows, what was sent to the
// node, and how far the runner got with it.
type taskRecord struct {
	Task ecswire.Task
	Spec node.TaskSpec
	// Submitted is set once the node accepted the task.
	Submitted bool
	// StopSent is set once the node was asked to stop the task.
	StopSent bool
	// NodeSeq is the Seq of the last node status applied.
	NodeSeq uint64

	// LoadBalancers are the target groups a service task joins once the
	// node runs it (ECS's ACTIVATING step).
	LoadBalancers []ecswire.LoadBalancer `json:",omitempty"`
	// Registered is set once the task is in its target groups.
	Registered bool `json:",omitempty"`
	// Draining holds the stop back while the task leaves its target groups
	// (ECS's DEACTIVATING step); the service scheduler clears it.
	Draining bool `json:",omitempty"`
	// DrainStartedAt is when the targets were deregistered; zero until then.
	DrainStartedAt time.Time `json:",omitempty"`
}
