package ecs

import (
	"strconv"
	"time"

	"github.com/kumo-project/kumo/internal/node"
	"github.com/kumo-project/kumo/internal/wire/ecswire"
)

// defaultStopTimeout is ECS's grace period between SIGTERM and SIGKILL.
const defaultStopTimeout = 30 * time.Second

// taskPlan is what RunTask decided for one task, before it is stored.
type taskPlan struct {
	taskDef    ecswire.TaskDefinition
	overrides  ecswire.TaskOverride
	launchType string
	cpu        string
	memory     string
}

// buildSpec turns a task definition and the run's overrides into what the
// node runs: resolved commands, environment, limits and health checks.
func buildSpec(sc scope, p taskPlan, taskID, taskARN, clusterARN, az string) (node.TaskSpec, error) {
	td := p.taskDef
	spec := node.TaskSpec{
		TaskID:           taskID,
		TaskARN:          taskARN,
		ClusterARN:       clusterARN,
		Family:           td.Family,
		Revision:         int(td.Revision),
		LaunchType:       p.launchType,
		Region:           sc.region,
		AccountID:        sc.account,
		NetworkMode:      networkModeOf(td),
		AvailabilityZone: az,
	}
	spec.CPU, _ = parseCPU(p.cpu)
	spec.MemoryMB, _ = parseMemory(p.memory)
	for _, c := range td.ContainerDefinitions {
		if len(c.Secrets) > 0 {
			return spec, clientException("ResourceInitializationError: unable to pull secrets: kumo does not implement Secrets Manager and SSM parameters yet (container %s)", c.Name)
		}
		cs := containerSpec(c, overrideFor(p.overrides, c.Name))
		cs.Environment = append(ecsEnvironment(sc, p.launchType), cs.Environment...)
		spec.Containers = append(spec.Containers, cs)
	}
	return spec, nil
}

// networkModeOf is the task definition's network mode; ECS's default on
// Linux is bridge.
func networkModeOf(td ecswire.TaskDefinition) string {
	if td.NetworkMode == "" {
		return node.NetworkBridge
	}
	return td.NetworkMode
}

func overrideFor(o ecswire.TaskOverride, name string) *ecswire.ContainerOverride {
	for i := range o.ContainerOverrides {
		if o.ContainerOverrides[i].Name == name {
			return &o.ContainerOverrides[i]
		}
	}
	return nil
}

// ecsEnvironment is what ECS sets in every container.
func ecsEnvironment(sc scope, launchType string) []node.KeyValue {
	execEnv := "AWS_ECS_FARGATE"
	if launchType == "EC2" {
		execEnv = "AWS_ECS_EC2"
	}
	return []node.KeyValue{
		{Name: "AWS_REGION", Value: sc.region},
		{Name: "AWS_DEFAULT_REGION", Value: sc.region},
		{Name: "AWS_EXECUTION_ENV", Value: execEnv},
	}
}

func containerSpec(c ecswire.ContainerDefinition, o *ecswire.ContainerOverride) node.ContainerSpec {
	cs := node.ContainerSpec{
		Name:                   c.Name,
		Image:                  c.Image,
		Command:                c.Command,
		EntryPoint:             c.EntryPoint,
		WorkingDirectory:       c.WorkingDirectory,
		User:                   c.User,
		Hostname:               c.Hostname,
		CPU:                    int(c.Cpu),
		MemoryMB:               int(deref(c.Memory, 0)),
		MemoryReservationMB:    int(deref(c.MemoryReservation, 0)),
		Essential:              c.Essential == nil || *c.Essential,
		StopTimeout:            defaultStopTimeout,
		ReadonlyRootFilesystem: c.ReadonlyRootFilesystem != nil && *c.ReadonlyRootFilesystem,
		Privileged:             c.Privileged != nil && *c.Privileged,
		DNSServers:             c.DnsServers,
	}
	if c.StopTimeout != nil {
		cs.StopTimeout = time.Duration(*c.StopTimeout) * time.Second
	}
	if c.LinuxParameters != nil && c.LinuxParameters.InitProcessEnabled != nil {
		cs.InitProcessEnabled = *c.LinuxParameters.InitProcessEnabled
	}
	for _, kv := range c.Environment {
		cs.Environment = setEnv(cs.Environment, kv.Name, deref(kv.Value, ""))
	}
	for _, d := range c.DependsOn {
		cs.DependsOn = append(cs.DependsOn, node.Dependency{ContainerName: d.ContainerName, Condition: d.Condition})
	}
	if h := c.HealthCheck; h != nil && len(h.Command) > 0 && h.Command[0] != "NONE" {
		cs.HealthCheck = &node.HealthCheck{
			Command:     h.Command,
			Interval:    seconds(h.Interval, 30),
			Timeout:     seconds(h.Timeout, 5),
			Retries:     int(deref(h.Retries, 3)),
			StartPeriod: seconds(h.StartPeriod, 0),
		}
	}
	for _, p := range c.PortMappings {
		cs.PortMappings = append(cs.PortMappings, node.PortMapping{
			ContainerPort: int(deref(p.ContainerPort, 0)), HostPort: int(deref(p.HostPort, 0)), Protocol: p.Protocol,
		})
	}
	for _, u := range c.Ulimits {
		cs.Ulimits = append(cs.Ulimits, node.Ulimit{Name: u.Name, Soft: int64(u.SoftLimit), Hard: int64(u.HardLimit)})
	}
	for _, h := range c.ExtraHosts {
		cs.ExtraHosts = append(cs.ExtraHosts, node.KeyValue{Name: h.Hostname, Value: h.IpAddress})
	}
	if l := c.LogConfiguration; l != nil {
		cs.Log = node.LogConfig{Driver: l.LogDriver, Options: l.Options}
	}
	applyOverride(&cs, o)
	return cs
}

func applyOverride(cs *node.ContainerSpec, o *ecswire.ContainerOverride) {
	if o == nil {
		return
	}
	if o.Command != nil {
		cs.Command = o.Command
	}
	for _, kv := range o.Environment {
		cs.Environment = setEnv(cs.Environment, kv.Name, deref(kv.Value, ""))
	}
	if o.Cpu != nil {
		cs.CPU = int(*o.Cpu)
	}
	if o.Memory != nil {
		cs.MemoryMB = int(*o.Memory)
	}
	if o.MemoryReservation != nil {
		cs.MemoryReservationMB = int(*o.MemoryReservation)
	}
}

func setEnv(env []node.KeyValue, name, value string) []node.KeyValue {
	for i := range env {
		if env[i].Name == name {
			env[i].Value = value
			return env
		}
	}
	return append(env, node.KeyValue{Name: name, Value: value})
}

func seconds(v *int32, def int32) time.Duration {
	return time.Duration(deref(v, def)) * time.Second
}

func itoa32(n int32) string { return strconv.Itoa(int(n)) }
