package ecs

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"time"

	"github.com/kumo-project/kumo/internal/arn"
	"github.com/kumo-project/kumo/internal/node"
	"github.com/kumo-project/kumo/internal/protocol"
	"github.com/kumo-project/kumo/internal/store"
	"github.com/kumo-project/kumo/internal/wire/ecswire"
)

var startedByPattern = regexp.MustCompile(`^[a-zA-Z0-9_/-]{0,128}$`)

func (sc scope) taskARN(cluster, id string) string {
	return arn.New("ecs", sc.region, sc.account, "task/"+cluster+"/"+id)
}

// taskKey returns the store key of a task parameter (ID or ARN) in cluster.
func taskKey(sc scope, cluster, ref string) (key, id string) {
	id = ref
	if a, err := arn.Parse(ref); err == nil {
		parts := strings.Split(a.Resource, "/")
		id = parts[len(parts)-1]
		if len(parts) == 3 {
			cluster = parts[1]
		}
	}
	return sc.key(cluster, id), id
}

// RunTask starts count tasks of a task definition on the local node.
func (s *Service) RunTask(ctx context.Context, in *ecswire.RunTaskRequest) (*ecswire.RunTaskResponse, error) {
	sc := scopeOf(ctx)
	count := int(deref(in.Count, 1))
	if count < 1 || count > 10 {
		return nil, invalidParameter("Count must be between 1 and 10.")
	}
	if !startedByPattern.MatchString(in.StartedBy) {
		return nil, invalidParameter("startedBy can contain up to 128 letters, numbers, hyphens, forward slashes and underscores.")
	}
	if err := validateTags(in.Tags); err != nil {
		return nil, err
	}
	if len(in.ClientToken) > 64 {
		return nil, invalidParameter("clientToken must be at most 64 characters.")
	}
	var tasks []ecswire.Task
	err := s.store.Update(func(tx *store.Tx) error {
		cluster, err := activeCluster(tx, sc, in.Cluster)
		if err != nil {
			return err
		}
		if done, ok, err := s.earlierRun(tx, sc, in.ClientToken); err != nil || ok {
			tasks = done
			return err
		}
		td, err := findTaskDef(tx, sc, in.TaskDefinition)
		if err != nil {
			return err
		}
		if td.TaskDefinition.Status != tdActive {
			return clientException("TaskDefinition is inactive")
		}
		plan, err := planRun(in, td)
		if err != nil {
			return err
		}
		for i := 0; i < count; i++ {
			rec := s.newTask(sc, cluster.Cluster, plan, in, td.Tags)
			if err := tx.Put(tableTasks, sc.key(cluster.Cluster.ClusterName, rec.Spec.TaskID), rec); err != nil {
				return err
			}
			if err := tx.Put(tableTaskIndex, rec.Spec.TaskID, sc.key(cluster.Cluster.ClusterName, rec.Spec.TaskID)); err != nil {
				return err
			}
			tasks = append(tasks, rec.Task)
		}
		return s.rememberRun(tx, sc, in.ClientToken, tasks)
	})
	if err != nil {
		return nil, err
	}
	s.nudge()
	return &ecswire.RunTaskResponse{Tasks: tasks, Failures: []ecswire.Failure{}}, nil
}

// runTokenLifetime is how long a RunTask clientToken makes the call
// idempotent (ECS documents it as a unique, case-sensitive identifier).
const runTokenLifetime = time.Hour

// runToken remembers the tasks a RunTask call with a clientToken started.
type runToken struct {
	Keys []string // task store keys
	At   time.Time
}

// earlierRun returns the tasks an earlier RunTask with the same clientToken
// started, as they are now: the SDKs send a token with every RunTask and
// retry on network errors, and a retry must not start the tasks again.
func (s *Service) earlierRun(tx *store.Tx, sc scope, token string) ([]ecswire.Task, bool, error) {
	if token == "" {
		return nil, false, nil
	}
	rt, ok, err := store.Get[runToken](tx, tableRunTokens, sc.key(token))
	if err != nil || !ok || s.clock.Now().Sub(rt.At) > runTokenLifetime {
		return nil, false, err
	}
	var tasks []ecswire.Task
	for _, key := range rt.Keys {
		rec, found, err := store.Get[taskRecord](tx, tableTasks, key)
		if err != nil {
			return nil, false, err
		}
		if found {
			tasks = append(tasks, rec.Task)
		}
	}
	return tasks, true, nil
}

// runTokensByAge indexes tableRunTokens by when each was written, oldest
// first, so the runner deletes the tokens past their lifetime without
// reading the others.
var runTokensByAge = store.Index{Name: "ecs/runtokens-by-age/v1", Table: tableRunTokens,
	Keys: func(key string, raw []byte) ([]string, error) {
		var rt runToken
		if err := json.Unmarshal(raw, &rt); err != nil {
			return nil, err
		}
		return []string{sortableTime(rt.At) + "/" + key}, nil
	}}

// forgetRunTokens deletes the clientTokens older than their lifetime: an
// SDK sends one with every RunTask, and earlierRun ignores them by then.
func (s *Service) forgetRunTokens(now time.Time) error {
	cutoff := sortableTime(now.Add(-runTokenLifetime))
	var expired []string
	err := s.store.View(func(tx *store.Tx) error {
		return tx.ScanIndex(runTokensByAge.Name, "", "", func(indexKey, key string, _ []byte) (bool, error) {
			if indexKey >= cutoff {
				return false, nil
			}
			expired = append(expired, key)
			return true, nil
		})
	})
	if err != nil || len(expired) == 0 {
		return err
	}
	return s.store.Update(func(tx *store.Tx) error {
		for _, key := range expired {
			if err := tx.Delete(tableRunTokens, key); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Service) rememberRun(tx *store.Tx, sc scope, token string, tasks []ecswire.Task) error {
	if token == "" {
		return nil
	}
	rt := runToken{At: s.clock.Now()}
	for _, t := range tasks {
		key, _ := taskKey(sc, "", t.TaskArn) // the ARN names the cluster
		rt.Keys = append(rt.Keys, key)
	}
	return tx.Put(tableRunTokens, sc.key(token), rt)
}

// planRun checks the launch type, network configuration and overrides of a
// RunTask call against the task definition.
func planRun(in *ecswire.RunTaskRequest, td taskDefRecord) (taskPlan, error) {
	def := td.TaskDefinition
	p := taskPlan{taskDef: def, cpu: def.Cpu, memory: def.Memory, launchType: in.LaunchType}
	if in.Overrides != nil {
		p.overrides = *in.Overrides
	}
	fargateOK := contains(def.Compatibilities, "FARGATE")
	switch in.LaunchType {
	case "EC2", "EXTERNAL":
		// kumo's node is Fargate-like capacity; no container instances are registered.
		return p, invalidParameter("No Container Instances were found in your cluster.")
	case "FARGATE":
		if !fargateOK {
			return p, invalidParameter("Task definition does not support launch_type FARGATE.")
		}
	case "":
		p.launchType = "EC2"
		if fargateOK {
			p.launchType = "FARGATE"
		}
	}
	if len(in.CapacityProviderStrategy) > 0 && in.LaunchType != "" {
		return p, invalidParameter("Specifying both a launch type and capacity provider strategy is not supported. Remove one and try again.")
	}
	if err := checkNetworkConfiguration(in.NetworkConfiguration, networkModeOf(def)); err != nil {
		return p, err
	}
	if err := checkOverrides(p.overrides, def); err != nil {
		return p, err
	}
	if p.overrides.Cpu != "" {
		p.cpu = p.overrides.Cpu
	}
	if p.overrides.Memory != "" {
		p.memory = p.overrides.Memory
	}
	return p, nil
}

func checkNetworkConfiguration(nc *ecswire.NetworkConfiguration, mode string) error {
	if mode == node.NetworkAWSVPC {
		if nc == nil || nc.AwsvpcConfiguration == nil {
			return invalidParameter("Network Configuration must be provided when networkMode 'awsvpc' is specified.")
		}
		if n := len(nc.AwsvpcConfiguration.Subnets); n < 1 || n > 16 {
			return invalidParameter("subnets can have at most 16 items and must not be empty.")
		}
		return nil
	}
	if nc != nil && nc.AwsvpcConfiguration != nil {
		return invalidParameter("Network Configuration is not valid for the given networkMode of this task definition.")
	}
	return nil
}

func checkOverrides(o ecswire.TaskOverride, td ecswire.TaskDefinition) error {
	for _, co := range o.ContainerOverrides {
		found := false
		for _, c := range td.ContainerDefinitions {
			found = found || c.Name == co.Name
		}
		if !found {
			return invalidParameter("Override for container named %s is not valid. Container not found in task definition.", co.Name)
		}
		if co.Memory != nil && co.MemoryReservation != nil && *co.MemoryReservation > *co.Memory {
			return invalidParameter("Invalid setting for container '%s'. The value for 'memoryReservation' must be less than the value for 'memory'.", co.Name)
		}
	}
	if o.Cpu != "" {
		if _, ok := parseCPU(o.Cpu); !ok {
			return invalidParameter("Invalid 'cpu' override.")
		}
	}
	if o.Memory != "" {
		if _, ok := parseMemory(o.Memory); !ok {
			return invalidParameter("Invalid 'memory' override.")
		}
	}
	return nil
}

// newTask builds a PROVISIONING task and what the node will run for it.
func (s *Service) newTask(sc scope, cluster ecswire.Cluster, p taskPlan, in *ecswire.RunTaskRequest, tdTags []ecswire.Tag) taskRecord {
	id := arn.NewID()
	taskARN := sc.taskARN(cluster.ClusterName, id)
	az := s.availabilityZone(sc)
	now := protocol.NewTimestamp(s.clock.Now())
	group := in.Group
	if group == "" {
		group = "family:" + p.taskDef.Family
	}
	tags := in.Tags
	if in.PropagateTags == "TASK_DEFINITION" {
		tags = mergeTags(append([]ecswire.Tag(nil), tdTags...), in.Tags)
	}
	overrides := p.overrides
	if overrides.ContainerOverrides == nil {
		overrides.ContainerOverrides = []ecswire.ContainerOverride{}
	}
	t := ecswire.Task{
		TaskArn:              taskARN,
		ClusterArn:           cluster.ClusterArn,
		TaskDefinitionArn:    p.taskDef.TaskDefinitionArn,
		Overrides:            &overrides,
		LastStatus:           node.StatusProvisioning,
		DesiredStatus:        "RUNNING",
		Cpu:                  p.cpu,
		Memory:               p.memory,
		CreatedAt:            now,
		LaunchType:           p.launchType,
		AvailabilityZone:     az,
		Group:                group,
		StartedBy:            in.StartedBy,
		Tags:                 tags,
		Version:              1,
		EnableExecuteCommand: in.EnableExecuteCommand,
		HealthStatus:         node.HealthUnknown,
		Connectivity:         "",
	}
	if p.launchType == "FARGATE" {
		t.PlatformVersion = "1.4.0"
		t.PlatformFamily = "Linux"
		t.EphemeralStorage = &ecswire.EphemeralStorage{SizeInGiB: 20}
	}
	if networkModeOf(p.taskDef) == node.NetworkAWSVPC {
		t.Attachments = []ecswire.Attachment{eniAttachment(in.NetworkConfiguration, "PRECREATED", "", "")}
	}
	spec, specErr := buildSpec(sc, p, id, taskARN, cluster.ClusterArn, az)
	for _, c := range spec.Containers {
		t.Containers = append(t.Containers, newContainer(sc, cluster.ClusterName, id, taskARN, c, p.taskDef))
	}
	rec := taskRecord{Task: t, Spec: spec}
	if specErr != nil {
		// The task cannot start; record it stopped with the cause, as ECS does.
		markStopped(&rec, s.clock.Now(), node.StopTaskFailedToStart, protocol.AsError(specErr).Message)
	}
	return rec
}

func (s *Service) availabilityZone(sc scope) string {
	if s.az != "" {
		return s.az
	}
	return sc.region + "a"
}

func newContainer(sc scope, cluster, taskID, taskARN string, c node.ContainerSpec, td ecswire.TaskDefinition) ecswire.Container {
	wc := ecswire.Container{
		ContainerArn:      arn.New("ecs", sc.region, sc.account, "container/"+cluster+"/"+taskID+"/"+arn.NewUUID()),
		TaskArn:           taskARN,
		Name:              c.Name,
		Image:             c.Image,
		LastStatus:        node.StatusPending,
		Cpu:               itoa(c.CPU),
		NetworkInterfaces: []ecswire.NetworkInterface{},
		NetworkBindings:   []ecswire.NetworkBinding{},
	}
	if c.MemoryMB > 0 {
		wc.Memory = itoa(c.MemoryMB)
	}
	if c.MemoryReservationMB > 0 {
		wc.MemoryReservation = itoa(c.MemoryReservationMB)
	}
	if c.HealthCheck != nil {
		wc.HealthStatus = node.HealthUnknown
	}
	return wc
}

func eniAttachment(nc *ecswire.NetworkConfiguration, status, ip, mac string) ecswire.Attachment {
	details := []ecswire.KeyValuePair{}
	if nc != nil && nc.AwsvpcConfiguration != nil && len(nc.AwsvpcConfiguration.Subnets) > 0 {
		details = append(details, ecswire.KeyValuePair{Name: "subnetId", Value: new(nc.AwsvpcConfiguration.Subnets[0])})
	}
	if ip != "" {
		details = append(details,
			ecswire.KeyValuePair{Name: "networkInterfaceId", Value: new("eni-" + mac)},
			ecswire.KeyValuePair{Name: "macAddress", Value: new(mac)},
			ecswire.KeyValuePair{Name: "privateIPv4Address", Value: new(ip)})
	}
	return ecswire.Attachment{Id: arn.NewUUID(), Type: "ElasticNetworkInterface", Status: status, Details: details}
}

// StopTask asks a task to stop. The node sends each container its stop
// signal, then SIGKILL after its stopTimeout.
func (s *Service) StopTask(ctx context.Context, in *ecswire.StopTaskRequest) (*ecswire.StopTaskResponse, error) {
	sc := scopeOf(ctx)
	reason := in.Reason
	if reason == "" {
		reason = "Task stopped by user"
	}
	if len(reason) > 255 {
		return nil, invalidParameter("reason must be at most 255 characters.")
	}
	var out ecswire.Task
	err := s.store.Update(func(tx *store.Tx) error {
		cluster, err := activeCluster(tx, sc, in.Cluster)
		if err != nil {
			return err
		}
		key, _ := taskKey(sc, cluster.Cluster.ClusterName, in.Task)
		rec, ok, err := store.Get[taskRecord](tx, tableTasks, key)
		if err != nil {
			return serverException(err)
		}
		if !ok {
			return invalidParameter("The referenced task was not found.")
		}
		if rec.Task.DesiredStatus != "STOPPED" {
			rec.Task.DesiredStatus = "STOPPED"
			rec.Task.StopCode = node.StopUserInitiated
			rec.Task.StoppedReason = reason
			rec.Task.Version++
			// A task in target groups leaves them and drains first.
			if rec.Registered {
				rec.Draining = true
				if rec.Task.LastStatus == node.StatusRunning {
					rec.Task.LastStatus = statusDeactivating
				}
			}
		}
		out = rec.Task
		return tx.Put(tableTasks, key, rec)
	})
	if err != nil {
		return nil, err
	}
	s.nudge()
	s.nudgeServices()
	return &ecswire.StopTaskResponse{Task: &out}, nil
}

// DescribeTasks describes up to 100 tasks by ID or ARN; unknown ones are
// failures with reason MISSING.
func (s *Service) DescribeTasks(ctx context.Context, in *ecswire.DescribeTasksRequest) (*ecswire.DescribeTasksResponse, error) {
	sc := scopeOf(ctx)
	if len(in.Tasks) > 100 {
		return nil, invalidParameter("Tasks can have at most 100 items.")
	}
	out := &ecswire.DescribeTasksResponse{Tasks: []ecswire.Task{}, Failures: []ecswire.Failure{}}
	withTags := contains(in.Include, "TAGS")
	err := s.store.View(func(tx *store.Tx) error {
		cluster, err := activeCluster(tx, sc, in.Cluster)
		if err != nil {
			return err
		}
		name := cluster.Cluster.ClusterName
		for _, ref := range in.Tasks {
			key, id := taskKey(sc, name, ref)
			task, ok, err := s.tasks.task(tx, key)
			if err != nil {
				return serverException(err)
			}
			if !ok {
				failARN := ref
				if !arn.IsARN(ref) {
					failARN = sc.taskARN(name, id)
				}
				out.Failures = append(out.Failures, ecswire.Failure{Arn: failARN, Reason: "MISSING"})
				continue
			}
			if !withTags {
				task.Tags = nil
			} else if task.Tags == nil {
				task.Tags = []ecswire.Tag{}
			}
			out.Tasks = append(out.Tasks, task)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ListTasks lists task ARNs of a cluster, filtered as ECS filters them; the
// desired status filter defaults to RUNNING.
func (s *Service) ListTasks(ctx context.Context, in *ecswire.ListTasksRequest) (*ecswire.ListTasksResponse, error) {
	sc := scopeOf(ctx)
	max, err := maxResults(in.MaxResults, 100)
	if err != nil {
		return nil, err
	}
	if in.ContainerInstance != "" {
		return nil, invalidParameter("No container instances are registered in this cluster.")
	}
	desired := in.DesiredStatus
	if desired == "" {
		desired = "RUNNING"
	}
	var arns []string
	err = s.store.View(func(tx *store.Tx) error {
		cluster, err := activeCluster(tx, sc, in.Cluster)
		if err != nil {
			return err
		}
		tasks, err := listTasksWanting(tx, sc.key(cluster.Cluster.ClusterName), desired)
		if err != nil {
			return serverException(err)
		}
		for _, t := range tasks {
			if matchesListFilter(t.Task, in, desired) {
				arns = append(arns, t.Task.TaskArn)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	page, next, err := pageOfNames(arns, in.NextToken, max)
	if err != nil {
		return nil, err
	}
	return &ecswire.ListTasksResponse{TaskArns: page, NextToken: next}, nil
}

// listTasksWanting reads the cluster's tasks ListTasks may list for a
// desired status: for RUNNING only the open ones (a task is STOPPED in
// desire before it is in fact), not the stopped ones kept for their hour.
func listTasksWanting(tx *store.Tx, cluster, desired string) ([]taskRecord, error) {
	if desired == "RUNNING" {
		return openTasks(tx, cluster)
	}
	return store.List[taskRecord](tx, tableTasks, cluster+"/")
}

func matchesListFilter(t ecswire.Task, in *ecswire.ListTasksRequest, desired string) bool {
	if t.DesiredStatus != desired {
		return false
	}
	if in.Family != "" && !strings.Contains(t.TaskDefinitionArn, ":task-definition/"+in.Family+":") {
		return false
	}
	if in.StartedBy != "" && t.StartedBy != in.StartedBy {
		return false
	}
	if in.ServiceName != "" && t.Group != "service:"+in.ServiceName {
		return false
	}
	return in.LaunchType == "" || t.LaunchType == in.LaunchType
}
