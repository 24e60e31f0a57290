// Package node defines the node API: the only way the control plane reaches
// the machine that runs containers. The in-process agent implements it today;
// a remote client implementing the same interface lets a second machine run
// only the agent later (ECS container instances / ECS Anywhere).
package node

import (
	"context"
	"time"
)

// Node runs tasks on one machine.
type Node interface {
	// Info describes the node and its capacity.
	Info(ctx context.Context) (Info, error)
	// RunTask creates the task's sandbox and starts its containers in the
	// background. It returns once the task is accepted; progress arrives
	// through Watch. Calling it again with the same TaskID is a no-op.
	RunTask(ctx context.Context, spec TaskSpec) error
	// StopTask stops a task: each container gets its stop signal, then
	// SIGKILL after its StopTimeout. It returns at once; the STOPPED status
	// arrives through Watch. Stopping a stopped task is a no-op.
	StopTask(ctx context.Context, taskID, reason string) error
	// TaskStatus returns the current status of a task; ErrNotFound if the
	// node does not know it.
	TaskStatus(ctx context.Context, taskID string) (TaskStatus, error)
	// ListTasks returns the status of every task the node knows, running or
	// stopped and not yet removed.
	ListTasks(ctx context.Context) ([]TaskStatus, error)
	// RemoveTask forgets a STOPPED task and frees what it still holds
	// (containers, snapshots, log files stay until the logs are shipped).
	RemoveTask(ctx context.Context, taskID string) error
	// TaskStats samples the resource use of a running task.
	TaskStats(ctx context.Context, taskID string) (TaskStats, error)
	// Watch streams every status change. A new watcher first receives the
	// current status of every known task, so a restarted control plane
	// catches up on changes it missed. The channel closes when ctx ends.
	Watch(ctx context.Context) (<-chan TaskStatus, error)
}

// Info describes a node.
type Info struct {
	NodeID   string
	Hostname string
	CPU      int // CPU units, 1024 per core
	MemoryMB int
	// BridgeIP is the host side address of the task bridge, reachable from tasks.
	BridgeIP string
	// TaskSubnet is the CIDR tasks in awsvpc mode get addresses from.
	TaskSubnet string
}

// Network modes, as in ECS task definitions.
const (
	NetworkAWSVPC = "awsvpc"
	NetworkBridge = "bridge"
	NetworkHost   = "host"
	NetworkNone   = "none"
)

// TaskSpec is everything the node needs to run a task. The control plane
// resolves overrides, defaults and secrets before sending it.
type TaskSpec struct {
	TaskID      string // the last part of the task ARN
	TaskARN     string
	ClusterARN  string
	Family      string
	Revision    int
	LaunchType  string
	Region      string
	AccountID   string
	NetworkMode string
	CPU         int // task CPU units; 0 means unlimited
	MemoryMB    int // task memory hard limit; 0 means unlimited
	Containers  []ContainerSpec
	// AvailabilityZone is reported by the task metadata endpoint.
	AvailabilityZone string
	// Labels are the task's ECS tags, reported by the metadata endpoint.
	Labels map[string]string
}

// ContainerSpec is one container of a task.
type ContainerSpec struct {
	Name       string
	Image      string
	Command    []string // nil keeps the image's CMD
	EntryPoint []string // nil keeps the image's ENTRYPOINT
	// Environment is the container's full environment beyond the image's:
	// user variables plus those ECS sets (AWS_REGION, metadata URIs...).
	Environment      []KeyValue
	WorkingDirectory string
	User             string
	Hostname         string
	CPU              int // relative share in CPU units
	MemoryMB         int // hard limit; 0 means none
	// MemoryReservationMB is the soft limit.
	MemoryReservationMB    int
	Essential              bool
	DependsOn              []Dependency
	HealthCheck            *HealthCheck
	StopTimeout            time.Duration // 0 means the default, 30s
	PortMappings           []PortMapping
	Ulimits                []Ulimit
	ReadonlyRootFilesystem bool
	InitProcessEnabled     bool
	Privileged             bool
	DNSServers             []string
	ExtraHosts             []KeyValue // hostname → IP
	Log                    LogConfig
}

// KeyValue is a name and a value.
type KeyValue struct {
	Name  string
	Value string
}

// Dependency conditions of dependsOn.
const (
	ConditionStart    = "START"
	ConditionComplete = "COMPLETE"
	ConditionSuccess  = "SUCCESS"
	ConditionHealthy  = "HEALTHY"
)

// Dependency makes a container wait for another one.
type Dependency struct {
	ContainerName string
	Condition     string
}

// HealthCheck is a container health check. Command is as in ECS:
// ["CMD", args...] or ["CMD-SHELL", "command line"].
type HealthCheck struct {
	Command     []string
	Interval    time.Duration
	Timeout     time.Duration
	Retries     int
	StartPeriod time.Duration
}

// PortMapping publishes a container port. In bridge mode HostPort 0 asks for
// a dynamic host port; in awsvpc and host mode HostPort equals ContainerPort.
type PortMapping struct {
	ContainerPort int
	HostPort      int
	Protocol      string // tcp or udp
}

// Ulimit is one resource limit.
type Ulimit struct {
	Name string
	Soft int64
	Hard int64
}

// LogConfig selects where stdout and stderr go. Every container's output is
// always kept on the node; Driver and Options tell the log shipper where to
// send it (for example "awslogs").
type LogConfig struct {
	Driver  string
	Options map[string]string
}

// Task statuses the node reports, in order. The control plane adds ECS's
// ACTIVATING and DEACTIVATING around its own work (load balancer
// registration and deregistration).
const (
	StatusProvisioning   = "PROVISIONING"
	StatusPending        = "PENDING"
	StatusRunning        = "RUNNING"
	StatusStopping       = "STOPPING"
	StatusDeprovisioning = "DEPROVISIONING"
	StatusStopped        = "STOPPED"
)

// Stop codes, as ECS reports them.
const (
	StopTaskFailedToStart         = "TaskFailedToStart"
	StopEssentialContainerExited  = "EssentialContainerExited"
	StopUserInitiated             = "UserInitiated"
	StopServiceSchedulerInitiated = "ServiceSchedulerInitiated"
)

// Health statuses.
const (
	HealthUnknown   = "UNKNOWN"
	HealthHealthy   = "HEALTHY"
	HealthUnhealthy = "UNHEALTHY"
)

// TaskStatus is the node's view of a task.
type TaskStatus struct {
	TaskID string
	Status string
	// Seq grows with every change of this task, so a watcher can drop
	// statuses older than one it already applied.
	Seq                uint64
	PullStartedAt      time.Time
	PullStoppedAt      time.Time
	StartedAt          time.Time // all essential containers started
	StoppingAt         time.Time
	ExecutionStoppedAt time.Time // the last container exited
	StoppedAt          time.Time
	StopCode           string
	StoppedReason      string
	HealthStatus       string
	// Network of the task; empty for host and none.
	PrivateIPv4 string
	MACAddress  string
	Containers  []ContainerStatus
}

// ContainerStatus is the node's view of one container.
type ContainerStatus struct {
	Name            string
	Status          string // PENDING, RUNNING, STOPPED
	ExitCode        *int
	Reason          string // e.g. "CannotPullContainerError: ...", "OutOfMemoryError: Container killed due to memory usage"
	RuntimeID       string
	ImageDigest     string
	HealthStatus    string
	NetworkBindings []NetworkBinding
	StartedAt       time.Time
	FinishedAt      time.Time
}

// NetworkBinding is a published port.
type NetworkBinding struct {
	BindIP        string
	ContainerPort int
	HostPort      int
	Protocol      string
}

// TaskStats is a sample of a task's resource use.
type TaskStats struct {
	TaskID     string
	Read       time.Time
	Containers []ContainerStats
}

// ContainerStats is a sample of one container's resource use.
type ContainerStats struct {
	Name             string
	CPUUsageNanos    uint64 // cumulative CPU time
	MemoryUsageBytes uint64
	MemoryLimitBytes uint64
	NetworkRxBytes   uint64
	NetworkTxBytes   uint64
}
