package ecs

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/kumo-project/kumo/internal/wire/ecswire"
)

var namePattern = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,255}$`)

// fargateMemory lists, for each Fargate CPU size, the memory sizes (MiB) it
// allows, as the ECS documentation's table does.
var fargateMemory = map[int][]int{
	256:   {512, 1024, 2048},
	512:   steps(1024, 4096, 1024),
	1024:  steps(2048, 8192, 1024),
	2048:  steps(4096, 16384, 1024),
	4096:  steps(8192, 30720, 1024),
	8192:  steps(16384, 61440, 4096),
	16384: steps(32768, 122880, 8192),
}

func steps(from, to, by int) []int {
	var out []int
	for v := from; v <= to; v += by {
		out = append(out, v)
	}
	return out
}

// parseCPU reads a task cpu value: CPU units ("1024") or vCPUs ("1 vCPU", "0.25 vcpu").
func parseCPU(s string) (int, bool) {
	s = strings.TrimSpace(strings.ToLower(s))
	if v, ok := strings.CutSuffix(s, "vcpu"); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		return int(f * 1024), err == nil && f > 0
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n > 0
}

// parseMemory reads a task memory value: MiB ("2048") or GB ("2 GB", "0.5GB").
func parseMemory(s string) (int, bool) {
	s = strings.TrimSpace(strings.ToLower(s))
	if v, ok := strings.CutSuffix(s, "gb"); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		return int(f * 1024), err == nil && f > 0
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n > 0
}

// normalizeTaskDefinition checks a registration as ECS does and returns the
// task definition with ECS's defaults filled in.
func normalizeTaskDefinition(in *ecswire.RegisterTaskDefinitionRequest) (*ecswire.TaskDefinition, error) {
	if !namePattern.MatchString(in.Family) {
		return nil, clientException("Family name can contain up to 255 letters (uppercase and lowercase), numbers, hyphens, and underscores.")
	}
	if len(in.ContainerDefinitions) == 0 {
		return nil, clientException("Container list cannot be empty.")
	}
	td := &ecswire.TaskDefinition{
		Family:                  in.Family,
		TaskRoleArn:             in.TaskRoleArn,
		ExecutionRoleArn:        in.ExecutionRoleArn,
		NetworkMode:             in.NetworkMode,
		ContainerDefinitions:    in.ContainerDefinitions,
		Volumes:                 in.Volumes,
		PlacementConstraints:    in.PlacementConstraints,
		RequiresCompatibilities: in.RequiresCompatibilities,
		PidMode:                 in.PidMode,
		IpcMode:                 in.IpcMode,
		ProxyConfiguration:      in.ProxyConfiguration,
		EphemeralStorage:        in.EphemeralStorage,
		RuntimePlatform:         in.RuntimePlatform,
		EnableFaultInjection:    in.EnableFaultInjection,
	}
	taskCPU, taskMem := 0, 0
	if in.Cpu != "" {
		n, ok := parseCPU(in.Cpu)
		if !ok {
			return nil, clientException("Invalid 'cpu' setting for task.")
		}
		taskCPU = n
		td.Cpu = strconv.Itoa(n)
	}
	if in.Memory != "" {
		n, ok := parseMemory(in.Memory)
		if !ok {
			return nil, clientException("Invalid 'memory' setting for task.")
		}
		taskMem = n
		td.Memory = strconv.Itoa(n)
	}
	if err := validateContainers(td, taskMem); err != nil {
		return nil, err
	}
	fargateErr := checkFargate(td, taskCPU, taskMem)
	if contains(in.RequiresCompatibilities, "FARGATE") && fargateErr != nil {
		return nil, fargateErr
	}
	td.Compatibilities = []string{"EC2"}
	if fargateErr == nil {
		td.Compatibilities = append(td.Compatibilities, "FARGATE")
	}
	return td, nil
}

// checkFargate reports why a task definition cannot run on Fargate.
func checkFargate(td *ecswire.TaskDefinition, cpu, mem int) error {
	if td.NetworkMode != "awsvpc" {
		return clientException("Fargate only supports network mode 'awsvpc'.")
	}
	if cpu == 0 {
		return clientException("Fargate requires that 'cpu' be defined at the task level.")
	}
	if mem == 0 {
		return clientException("Fargate requires that 'memory' be defined at the task level.")
	}
	allowed := false
	for _, m := range fargateMemory[cpu] {
		allowed = allowed || m == mem
	}
	if !allowed {
		return clientException("No Fargate configuration exists for given values: %d CPU, %d memory. See the Amazon ECS documentation for the valid values.", cpu, mem)
	}
	for _, c := range td.ContainerDefinitions {
		if c.LogConfiguration != nil && c.LogConfiguration.LogDriver == "awslogs" && td.ExecutionRoleArn == "" {
			return clientException("Fargate requires task definition to have execution role ARN to support log driver awslogs.")
		}
	}
	return nil
}

// validateContainers checks the container definitions and fills defaults.
func validateContainers(td *ecswire.TaskDefinition, taskMem int) error {
	names := map[string]bool{}
	essential, sumMem := 0, 0
	for i := range td.ContainerDefinitions {
		c := &td.ContainerDefinitions[i]
		if !namePattern.MatchString(c.Name) {
			return clientException("Container name can contain up to 255 letters (uppercase and lowercase), numbers, hyphens, and underscores.")
		}
		if names[c.Name] {
			return clientException("Duplicate container names found: %s", c.Name)
		}
		names[c.Name] = true
		if strings.TrimSpace(c.Image) == "" {
			return clientException("Container.image should not be null or empty.")
		}
		if c.Essential == nil {
			c.Essential = boolPtr(true)
		}
		if *c.Essential {
			essential++
		}
		if err := validateContainerMemory(c, taskMem); err != nil {
			return err
		}
		sumMem += int(deref(c.Memory, deref(c.MemoryReservation, 0)))
		if err := normalizePorts(c, td.NetworkMode); err != nil {
			return err
		}
		if err := normalizeHealthCheck(c); err != nil {
			return err
		}
		if t := c.StopTimeout; t != nil && (*t < 2 || *t > 120) {
			return clientException("Invalid 'stopTimeout' setting for container '%s'. The valid range is 2-120 seconds.", c.Name)
		}
		if c.LogConfiguration != nil && c.LogConfiguration.LogDriver == "awslogs" && c.LogConfiguration.Options["awslogs-group"] == "" {
			return clientException("Log driver awslogs requires options: awslogs-group")
		}
	}
	if essential == 0 {
		return clientException("Task definition must have at least one essential container.")
	}
	if taskMem > 0 && sumMem > taskMem {
		return clientException("Invalid 'memory' setting for container. The memory of the containers (%d MiB) exceeds the task memory (%d MiB).", sumMem, taskMem)
	}
	for _, c := range td.ContainerDefinitions {
		for _, d := range c.DependsOn {
			if !names[d.ContainerName] || d.ContainerName == c.Name {
				return clientException("Container '%s' depends on an unknown container '%s'.", c.Name, d.ContainerName)
			}
		}
	}
	return nil
}

func validateContainerMemory(c *ecswire.ContainerDefinition, taskMem int) error {
	if taskMem == 0 && c.Memory == nil && c.MemoryReservation == nil {
		return clientException("Invalid setting for container '%s'. At least one of 'memory' or 'memoryReservation' must be specified.", c.Name)
	}
	if c.Memory != nil && *c.Memory < 6 {
		return clientException("Invalid 'memory' setting for container '%s'. The minimum memory limit is 6 MiB.", c.Name)
	}
	if c.Memory != nil && c.MemoryReservation != nil && *c.MemoryReservation > *c.Memory {
		return clientException("Invalid setting for container '%s'. The value for 'memoryReservation' must be less than the value for 'memory'.", c.Name)
	}
	if taskMem > 0 && c.Memory != nil && int(*c.Memory) > taskMem {
		return clientException("Invalid 'memory' setting for container '%s'. The container memory (%d MiB) exceeds the task memory (%d MiB).", c.Name, *c.Memory, taskMem)
	}
	return nil
}

// normalizePorts fills protocol and, in awsvpc mode, the host port (which
// must equal the container port there).
func normalizePorts(c *ecswire.ContainerDefinition, mode string) error {
	for i := range c.PortMappings {
		p := &c.PortMappings[i]
		if p.ContainerPort == nil {
			if p.ContainerPortRange != "" {
				return clientException("Container port ranges are not supported by kumo yet.")
			}
			return clientException("Invalid port mapping for container '%s': containerPort is required.", c.Name)
		}
		if *p.ContainerPort < 1 || *p.ContainerPort > 65535 {
			return clientException("Invalid containerPort %d for container '%s'.", *p.ContainerPort, c.Name)
		}
		if p.Protocol == "" {
			p.Protocol = "tcp"
		}
		switch mode {
		case "awsvpc", "host":
			if p.HostPort != nil && *p.HostPort != *p.ContainerPort {
				return clientException("When networkMode=%s, the host ports and container ports in port mappings must match.", mode)
			}
			p.HostPort = int32Ptr(*p.ContainerPort)
		}
	}
	return nil
}

// normalizeHealthCheck fills ECS's health check defaults and checks ranges.
func normalizeHealthCheck(c *ecswire.ContainerDefinition) error {
	h := c.HealthCheck
	if h == nil {
		return nil
	}
	if len(h.Command) == 0 || (h.Command[0] != "CMD" && h.Command[0] != "CMD-SHELL" && h.Command[0] != "NONE") {
		return clientException("Invalid healthCheck command for container '%s': it must start with CMD, CMD-SHELL or NONE.", c.Name)
	}
	fields := []struct {
		name     string
		v        **int32
		def      int32
		min, max int32
	}{
		{"interval", &h.Interval, 30, 5, 300},
		{"timeout", &h.Timeout, 5, 2, 60},
		{"retries", &h.Retries, 3, 1, 10},
		{"startPeriod", &h.StartPeriod, 0, 0, 300},
	}
	for _, f := range fields {
		if *f.v == nil {
			*f.v = int32Ptr(f.def)
		}
		if **f.v < f.min || **f.v > f.max {
			return clientException("Invalid healthCheck %s %d for container '%s'. The valid range is %d-%d.", f.name, **f.v, c.Name, f.min, f.max)
		}
	}
	return nil
}

func boolPtr(b bool) *bool    { return &b }
func int32Ptr(n int32) *int32 { return &n }

// deref is *p, or def when p is nil (a member the request left out).
func deref[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}
