package ecs

import (
	"context"
	"regexp"
	"strings"

	"github.com/kumo-project/kumo/internal/arn"
	"github.com/kumo-project/kumo/internal/node"
	"github.com/kumo-project/kumo/internal/protocol"
	"github.com/kumo-project/kumo/internal/store"
	"github.com/kumo-project/kumo/internal/wire/ecswire"
)

var serviceNamePattern = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,255}$`)

func (sc scope) serviceARN(cluster, name string) string {
	return arn.New("ecs", sc.region, sc.account, "service/"+cluster+"/"+name)
}

// serviceKey returns the store key of a service parameter (name or ARN).
func serviceKey(sc scope, cluster, ref string) (key, name string) {
	name = ref
	if a, err := arn.Parse(ref); err == nil {
		parts := strings.Split(a.Resource, "/")
		name = parts[len(parts)-1]
		if len(parts) == 3 {
			cluster = parts[1]
		}
	}
	return sc.key(cluster, name), name
}

func serviceNotFound() error {
	return protocol.ClientError("ServiceNotFoundException", "Service not found.")
}

func serviceNotActive() error {
	return protocol.ClientError("ServiceNotActiveException", "Service was not ACTIVE.")
}

// serviceGroup is the task group of a service's tasks.
func serviceGroup(name string) string { return "service:" + name }

// CreateService creates a REPLICA service with the rolling update
// deployment controller; the scheduler starts its tasks.
func (s *Service) CreateService(ctx context.Context, in *ecswire.CreateServiceRequest) (*ecswire.CreateServiceResponse, error) {
	sc := scopeOf(ctx)
	if err := checkCreateService(in); err != nil {
		return nil, err
	}
	if err := s.checkLoadBalancers(ctx, in.LoadBalancers); err != nil {
		return nil, err
	}
	var out ecswire.Service
	err := s.store.Update(func(tx *store.Tx) error {
		cluster, err := activeCluster(tx, sc, in.Cluster)
		if err != nil {
			return err
		}
		key := sc.key(cluster.Cluster.ClusterName, in.ServiceName)
		existing, ok, err := store.Get[serviceRecord](tx, tableServices, key)
		if err != nil {
			return serverException(err)
		}
		if ok && existing.Service.Status != serviceInactive {
			return invalidParameter("Creation of service was not idempotent.")
		}
		td, err := findTaskDef(tx, sc, in.TaskDefinition)
		if err != nil {
			return err
		}
		if td.TaskDefinition.Status != tdActive {
			return invalidParameter("TaskDefinition is inactive")
		}
		plan, err := planRun(&ecswire.RunTaskRequest{LaunchType: in.LaunchType, NetworkConfiguration: in.NetworkConfiguration}, td)
		if err != nil {
			return err
		}
		if err := checkContainerPorts(in.LoadBalancers, td.TaskDefinition); err != nil {
			return err
		}
		rec := s.newService(sc, cluster.Cluster, in, td.TaskDefinition, plan.launchType)
		out = rec.Service
		return tx.Put(tableServices, key, rec)
	})
	if err != nil {
		return nil, err
	}
	s.nudgeServices()
	return &ecswire.CreateServiceResponse{Service: &out}, nil
}

// checkCreateService checks what CreateService needs before it reads the
// store, and refuses the features kumo does not implement.
func checkCreateService(in *ecswire.CreateServiceRequest) error {
	if !serviceNamePattern.MatchString(in.ServiceName) {
		return invalidParameter("Service name can only contain letters, numbers, hyphens and underscores and must be 1-255 characters long.")
	}
	if in.TaskDefinition == "" {
		return invalidParameter("TaskDefinition must be specified.")
	}
	if in.SchedulingStrategy == "DAEMON" {
		return invalidParameter("kumo does not implement the DAEMON scheduling strategy yet.")
	}
	if in.DesiredCount == nil {
		return invalidParameter("The desiredCount must be specified for services with the REPLICA scheduling strategy.")
	}
	if *in.DesiredCount < 0 {
		return invalidParameter("The desiredCount must be at least 0.")
	}
	if in.DeploymentController != nil && in.DeploymentController.Type != "" && in.DeploymentController.Type != "ECS" {
		return invalidParameter("kumo implements only the ECS (rolling update) deployment controller, not %s.", in.DeploymentController.Type)
	}
	if len(in.CapacityProviderStrategy) > 0 {
		return invalidParameter("kumo does not implement capacity provider strategies yet; use launchType FARGATE.")
	}
	if len(in.PlacementStrategy) > 0 || len(in.PlacementConstraints) > 0 {
		return errPlacement()
	}
	if err := checkUnsupportedServiceFeatures(in.ServiceRegistries, in.ServiceConnectConfiguration, in.VolumeConfigurations, in.VpcLatticeConfigurations); err != nil {
		return err
	}
	if err := validateTags(in.Tags); err != nil {
		return err
	}
	return checkDeploymentConfiguration(in.DeploymentConfiguration)
}

// errPlacement refuses placement settings, as ECS does for Fargate: kumo
// runs every task on its one node.
func errPlacement() error {
	return invalidParameter("Placement strategies and constraints are not supported with FARGATE launch type.")
}

func checkUnsupportedServiceFeatures(registries []ecswire.ServiceRegistry, connect *ecswire.ServiceConnectConfiguration,
	volumes []ecswire.ServiceVolumeConfiguration, lattice []ecswire.VpcLatticeConfiguration) error {
	switch {
	case len(registries) > 0:
		return invalidParameter("kumo does not implement service registries (Cloud Map) yet.")
	case connect != nil && connect.Enabled:
		return invalidParameter("kumo does not implement Service Connect yet.")
	case len(volumes) > 0:
		return invalidParameter("kumo does not implement service volume configurations yet.")
	case len(lattice) > 0:
		return invalidParameter("kumo does not implement VPC Lattice yet.")
	}
	return nil
}

// checkDeploymentConfiguration applies ECS's ranges to a rolling update's
// percentages; kumo's rolling update needs a maximum of at least 100%.
func checkDeploymentConfiguration(c *ecswire.DeploymentConfiguration) error {
	if c == nil {
		return nil
	}
	if p := c.MinimumHealthyPercent; p != nil && (*p < 0 || *p > 100) {
		return invalidParameter("minimumHealthyPercent must be between 0 and 100.")
	}
	if p := c.MaximumPercent; p != nil && (*p < 100 || *p > 2000) {
		return invalidParameter("maximumPercent must be between 100 and 2000.")
	}
	if c.Strategy != "" && c.Strategy != "ROLLING" {
		return invalidParameter("kumo implements only the ROLLING deployment strategy, not %s.", c.Strategy)
	}
	if c.Alarms != nil && c.Alarms.Enable {
		return invalidParameter("kumo does not implement deployment alarms yet.")
	}
	return nil
}

// checkLoadBalancers checks that each load balancer names a target group
// that ELBv2 knows, and the container and port that join it.
func (s *Service) checkLoadBalancers(ctx context.Context, lbs []ecswire.LoadBalancer) error {
	if len(lbs) == 0 {
		return nil
	}
	if s.lbs == nil {
		return invalidParameter("Load balancers are not available: this kumo runs no ELBv2 service.")
	}
	for _, lb := range lbs {
		if lb.TargetGroupArn == "" {
			return invalidParameter("Classic Load Balancers are not supported; specify a targetGroupArn.")
		}
		if lb.ContainerName == "" || lb.ContainerPort == nil {
			return invalidParameter("containerName and containerPort must be specified for each load balancer.")
		}
		if _, err := s.lbs.TargetHealth(ctx, lb.TargetGroupArn, nil); err != nil {
			return invalidParameter("Unable to validate the specified targetGroupArn %s: %v", lb.TargetGroupArn, err)
		}
	}
	return nil
}

// checkContainerPorts checks that each load balancer's container publishes
// its port in the task definition.
func checkContainerPorts(lbs []ecswire.LoadBalancer, td ecswire.TaskDefinition) error {
	for _, lb := range lbs {
		if !hasContainerPort(td, lb.ContainerName, deref(lb.ContainerPort, 0)) {
			return invalidParameter("The container %s did not have a container port %d defined.", lb.ContainerName, deref(lb.ContainerPort, 0))
		}
	}
	return nil
}

func hasContainerPort(td ecswire.TaskDefinition, container string, port int32) bool {
	for _, c := range td.ContainerDefinitions {
		if c.Name != container {
			continue
		}
		for _, pm := range c.PortMappings {
			if deref(pm.ContainerPort, 0) == port {
				return true
			}
		}
	}
	return false
}

// newService builds an ACTIVE service with its first deployment.
func (s *Service) newService(sc scope, cluster ecswire.Cluster, in *ecswire.CreateServiceRequest, td ecswire.TaskDefinition, launchType string) serviceRecord {
	now := s.clock.Now()
	svc := ecswire.Service{
		ServiceArn:                    sc.serviceARN(cluster.ClusterName, in.ServiceName),
		ServiceName:                   in.ServiceName,
		ClusterArn:                    cluster.ClusterArn,
		LoadBalancers:                 in.LoadBalancers,
		Status:                        serviceActive,
		DesiredCount:                  *in.DesiredCount,
		LaunchType:                    launchType,
		TaskDefinition:                td.TaskDefinitionArn,
		DeploymentConfiguration:       withDeploymentDefaults(nil, in.DeploymentConfiguration),
		Events:                        []ecswire.ServiceEvent{},
		CreatedAt:                     protocol.NewTimestamp(now),
		NetworkConfiguration:          in.NetworkConfiguration,
		HealthCheckGracePeriodSeconds: in.HealthCheckGracePeriodSeconds,
		SchedulingStrategy:            "REPLICA",
		DeploymentController:          &ecswire.DeploymentController{Type: "ECS"},
		Tags:                          in.Tags,
		CreatedBy:                     "arn:aws:iam::" + sc.account + ":root",
		EnableECSManagedTags:          in.EnableECSManagedTags,
		PropagateTags:                 in.PropagateTags,
		EnableExecuteCommand:          in.EnableExecuteCommand,
	}
	if launchType == "FARGATE" {
		svc.PlatformVersion = "LATEST"
		svc.PlatformFamily = "Linux"
	}
	if svc.PropagateTags == "" {
		svc.PropagateTags = "NONE"
	}
	if len(svc.LoadBalancers) > 0 && svc.HealthCheckGracePeriodSeconds == nil {
		svc.HealthCheckGracePeriodSeconds = int32Ptr(0)
	}
	rec := serviceRecord{Service: svc, Account: sc.account, Region: sc.region, Rev: 1}
	startDeployment(&rec, now)
	return rec
}

// withDeploymentDefaults applies the given settings over the current ones
// (nil: ECS's defaults), as UpdateService does.
func withDeploymentDefaults(cur, in *ecswire.DeploymentConfiguration) *ecswire.DeploymentConfiguration {
	out := ecswire.DeploymentConfiguration{
		MinimumHealthyPercent:    int32Ptr(defaultMinimumHealthyPercent),
		MaximumPercent:           int32Ptr(defaultMaximumPercent),
		DeploymentCircuitBreaker: &ecswire.DeploymentCircuitBreaker{},
	}
	if cur != nil {
		out = *cur
	}
	if in == nil {
		return &out
	}
	if in.MinimumHealthyPercent != nil {
		out.MinimumHealthyPercent = in.MinimumHealthyPercent
	}
	if in.MaximumPercent != nil {
		out.MaximumPercent = in.MaximumPercent
	}
	if in.DeploymentCircuitBreaker != nil {
		out.DeploymentCircuitBreaker = in.DeploymentCircuitBreaker
	}
	return &out
}

// UpdateService changes a service. A new task definition, network
// configuration, platform version, load balancers or forceNewDeployment
// start a new deployment; a desired count alone scales the current one.
func (s *Service) UpdateService(ctx context.Context, in *ecswire.UpdateServiceRequest) (*ecswire.UpdateServiceResponse, error) {
	sc := scopeOf(ctx)
	if err := checkUpdateService(in); err != nil {
		return nil, err
	}
	if err := s.checkLoadBalancers(ctx, in.LoadBalancers); err != nil {
		return nil, err
	}
	var out ecswire.Service
	err := s.store.Update(func(tx *store.Tx) error {
		cluster, err := activeCluster(tx, sc, in.Cluster)
		if err != nil {
			return err
		}
		key, _ := serviceKey(sc, cluster.Cluster.ClusterName, in.Service)
		rec, ok, err := store.Get[serviceRecord](tx, tableServices, key)
		if err != nil {
			return serverException(err)
		}
		if !ok {
			return serviceNotFound()
		}
		if rec.Service.Status != serviceActive {
			return serviceNotActive()
		}
		if err := s.applyServiceUpdate(tx, sc, &rec, in); err != nil {
			return err
		}
		rec.Rev++
		out = rec.Service
		return tx.Put(tableServices, key, rec)
	})
	if err != nil {
		return nil, err
	}
	s.nudgeServices()
	out = s.withServiceCounts(ctx, out)
	return &ecswire.UpdateServiceResponse{Service: &out}, nil
}

func checkUpdateService(in *ecswire.UpdateServiceRequest) error {
	if in.DesiredCount != nil && *in.DesiredCount < 0 {
		return invalidParameter("The desiredCount must be at least 0.")
	}
	if in.DeploymentController != nil {
		return invalidParameter("kumo does not implement changing the deployment controller.")
	}
	if len(in.CapacityProviderStrategy) > 0 {
		return invalidParameter("kumo does not implement capacity provider strategies yet; use launchType FARGATE.")
	}
	if len(in.PlacementStrategy) > 0 || len(in.PlacementConstraints) > 0 {
		return errPlacement()
	}
	if err := checkUnsupportedServiceFeatures(in.ServiceRegistries, in.ServiceConnectConfiguration, in.VolumeConfigurations, in.VpcLatticeConfigurations); err != nil {
		return err
	}
	return checkDeploymentConfiguration(in.DeploymentConfiguration)
}

// applyServiceUpdate changes rec as the request asks, inside the store
// transaction, and starts a new deployment when the tasks must change.
func (s *Service) applyServiceUpdate(tx *store.Tx, sc scope, rec *serviceRecord, in *ecswire.UpdateServiceRequest) error {
	svc := &rec.Service
	redeploy := in.ForceNewDeployment
	tdARN := svc.TaskDefinition
	if in.TaskDefinition != "" {
		td, err := findTaskDef(tx, sc, in.TaskDefinition)
		if err != nil {
			return err
		}
		if td.TaskDefinition.Status != tdActive {
			return invalidParameter("TaskDefinition is inactive")
		}
		tdARN = td.TaskDefinition.TaskDefinitionArn
	}
	td, err := findTaskDef(tx, sc, tdARN)
	if err != nil {
		return err
	}
	network := svc.NetworkConfiguration
	if in.NetworkConfiguration != nil {
		network = in.NetworkConfiguration
	}
	launchType := svc.LaunchType
	if _, err := planRun(&ecswire.RunTaskRequest{LaunchType: launchType, NetworkConfiguration: network}, td); err != nil {
		return err
	}
	lbs := svc.LoadBalancers
	if in.LoadBalancers != nil {
		lbs = in.LoadBalancers
		redeploy = redeploy || !sameJSON(lbs, svc.LoadBalancers)
	}
	if err := checkContainerPorts(lbs, td.TaskDefinition); err != nil {
		return err
	}
	redeploy = redeploy || tdARN != svc.TaskDefinition || !sameJSON(network, svc.NetworkConfiguration) ||
		(in.PlatformVersion != "" && in.PlatformVersion != svc.PlatformVersion)
	svc.TaskDefinition = tdARN
	svc.NetworkConfiguration = network
	svc.LoadBalancers = lbs
	if in.PlatformVersion != "" {
		svc.PlatformVersion = in.PlatformVersion
	}
	if in.DesiredCount != nil {
		svc.DesiredCount = *in.DesiredCount
	}
	svc.DeploymentConfiguration = withDeploymentDefaults(svc.DeploymentConfiguration, in.DeploymentConfiguration)
	if in.HealthCheckGracePeriodSeconds != nil {
		svc.HealthCheckGracePeriodSeconds = in.HealthCheckGracePeriodSeconds
	}
	if in.EnableExecuteCommand != nil {
		svc.EnableExecuteCommand = *in.EnableExecuteCommand
	}
	if in.EnableECSManagedTags != nil {
		svc.EnableECSManagedTags = *in.EnableECSManagedTags
	}
	if in.PropagateTags != "" {
		svc.PropagateTags = in.PropagateTags
	}
	if redeploy {
		startDeployment(rec, s.clock.Now())
	}
	rec.primary().DesiredCount = svc.DesiredCount
	return nil
}

// DeleteService drains a service: its desired count becomes 0, its tasks
// leave their target groups and stop, then it turns INACTIVE. A service
// still scaled above 0 needs force.
func (s *Service) DeleteService(ctx context.Context, in *ecswire.DeleteServiceRequest) (*ecswire.DeleteServiceResponse, error) {
	sc := scopeOf(ctx)
	var out ecswire.Service
	err := s.store.Update(func(tx *store.Tx) error {
		cluster, err := activeCluster(tx, sc, in.Cluster)
		if err != nil {
			return err
		}
		key, _ := serviceKey(sc, cluster.Cluster.ClusterName, in.Service)
		rec, ok, err := store.Get[serviceRecord](tx, tableServices, key)
		if err != nil {
			return serverException(err)
		}
		if !ok {
			return serviceNotFound()
		}
		if rec.Service.Status == serviceInactive {
			return serviceNotActive()
		}
		force := in.Force != nil && *in.Force
		if rec.Service.DesiredCount > 0 && !force {
			return invalidParameter("The service cannot be stopped while it is scaled above 0.")
		}
		rec.Service.Status = serviceDraining
		rec.Service.DesiredCount = 0
		rec.Rev++
		out = rec.Service
		return tx.Put(tableServices, key, rec)
	})
	if err != nil {
		return nil, err
	}
	s.nudgeServices()
	out = s.withServiceCounts(ctx, out)
	return &ecswire.DeleteServiceResponse{Service: &out}, nil
}

// DescribeServices describes up to 10 services; unknown ones are failures
// with reason MISSING.
func (s *Service) DescribeServices(ctx context.Context, in *ecswire.DescribeServicesRequest) (*ecswire.DescribeServicesResponse, error) {
	sc := scopeOf(ctx)
	if len(in.Services) > 10 {
		return nil, invalidParameter("services can have at most 10 items.")
	}
	out := &ecswire.DescribeServicesResponse{Services: []ecswire.Service{}, Failures: []ecswire.Failure{}}
	err := s.store.View(func(tx *store.Tx) error {
		cluster, err := activeCluster(tx, sc, in.Cluster)
		if err != nil {
			return err
		}
		name := cluster.Cluster.ClusterName
		for _, ref := range in.Services {
			key, svcName := serviceKey(sc, name, ref)
			rec, ok, err := store.Get[serviceRecord](tx, tableServices, key)
			if err != nil {
				return serverException(err)
			}
			if !ok {
				out.Failures = append(out.Failures, ecswire.Failure{Arn: sc.serviceARN(name, svcName), Reason: "MISSING"})
				continue
			}
			tasks, err := openServiceTasks(tx, sc.key(name), serviceGroup(rec.Service.ServiceName))
			if err != nil {
				return serverException(err)
			}
			svc := countServiceTasks(rec.Service, tasks)
			if !contains(in.Include, "TAGS") {
				svc.Tags = nil
			}
			out.Services = append(out.Services, svc)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// withServiceCounts returns svc with its task counts read from the store.
func (s *Service) withServiceCounts(ctx context.Context, svc ecswire.Service) ecswire.Service {
	sc := scopeOf(ctx)
	s.store.View(func(tx *store.Tx) error {
		tasks, err := openServiceTasks(tx, sc.key(clusterName(svc.ClusterArn)), serviceGroup(svc.ServiceName))
		svc = countServiceTasks(svc, tasks)
		return err
	})
	return svc
}

// countServiceTasks fills the running and pending counts of a service and
// its deployments from its open tasks (openServiceTasks).
func countServiceTasks(svc ecswire.Service, tasks []taskRecord) ecswire.Service {
	svc.RunningCount, svc.PendingCount = 0, 0
	deps := make([]ecswire.Deployment, len(svc.Deployments))
	copy(deps, svc.Deployments)
	svc.Deployments = deps
	for _, t := range tasks {
		if t.Task.Group != serviceGroup(svc.ServiceName) {
			continue
		}
		running, pending := taskCounts(t.Task)
		svc.RunningCount += running
		svc.PendingCount += pending
		for i := range svc.Deployments {
			if svc.Deployments[i].Id == t.Task.StartedBy {
				svc.Deployments[i].RunningCount += running
				svc.Deployments[i].PendingCount += pending
			}
		}
	}
	return svc
}

// taskCounts tells whether a task counts as running or pending, as ECS
// counts them for services.
func taskCounts(t ecswire.Task) (running, pending int32) {
	switch {
	case t.LastStatus == node.StatusRunning:
		return 1, 0
	case t.DesiredStatus == "RUNNING" && (t.LastStatus == node.StatusProvisioning || t.LastStatus == node.StatusPending || t.LastStatus == statusActivating):
		return 0, 1
	}
	return 0, 0
}

// ListServices lists the ARNs of a cluster's services that are not
// INACTIVE.
func (s *Service) ListServices(ctx context.Context, in *ecswire.ListServicesRequest) (*ecswire.ListServicesResponse, error) {
	sc := scopeOf(ctx)
	max, err := maxResults(in.MaxResults, 100)
	if err != nil {
		return nil, err
	}
	if in.MaxResults == nil {
		max = 10
	}
	var arns []string
	err = s.store.View(func(tx *store.Tx) error {
		cluster, err := activeCluster(tx, sc, in.Cluster)
		if err != nil {
			return err
		}
		all, err := store.List[serviceRecord](tx, tableServices, sc.key(cluster.Cluster.ClusterName)+"/")
		if err != nil {
			return serverException(err)
		}
		for _, r := range all {
			if matchesServiceFilter(r.Service, in) {
				arns = append(arns, r.Service.ServiceArn)
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
	return &ecswire.ListServicesResponse{ServiceArns: page, NextToken: next}, nil
}

func matchesServiceFilter(svc ecswire.Service, in *ecswire.ListServicesRequest) bool {
	switch {
	case svc.Status == serviceInactive:
		return false
	case in.LaunchType != "" && svc.LaunchType != in.LaunchType:
		return false
	case in.SchedulingStrategy != "" && svc.SchedulingStrategy != in.SchedulingStrategy:
		return false
	}
	return true
}
