package ecs

import (
	"context"
	"regexp"

	"github.com/kumo-project/kumo/internal/arn"
	"github.com/kumo-project/kumo/internal/protocol"
	"github.com/kumo-project/kumo/internal/store"
	"github.com/kumo-project/kumo/internal/wire/ecswire"
)

const defaultCluster = "default"

var clusterNamePattern = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,255}$`)

func (sc scope) clusterARN(name string) string {
	return arn.New("ecs", sc.region, sc.account, "cluster/"+name)
}

// clusterName returns the name a cluster parameter (name or ARN) refers to,
// "default" when it is empty.
func clusterName(ref string) string {
	if ref == "" {
		return defaultCluster
	}
	if a, err := arn.Parse(ref); err == nil {
		if name, ok := cutPrefix(a.Resource, "cluster/"); ok {
			return name
		}
	}
	return ref
}

func cutPrefix(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && s[:len(prefix)] == prefix {
		return s[len(prefix):], true
	}
	return s, false
}

// activeCluster reads an ACTIVE cluster or answers ClusterNotFoundException.
func activeCluster(tx *store.Tx, sc scope, ref string) (clusterRecord, error) {
	c, ok, err := store.Get[clusterRecord](tx, tableClusters, sc.key(clusterName(ref)))
	if err != nil {
		return c, serverException(err)
	}
	if !ok || c.Cluster.Status != statusActive {
		return c, clusterNotFound()
	}
	return c, nil
}

// CreateCluster creates a cluster, or returns the existing one of that name.
func (s *Service) CreateCluster(ctx context.Context, in *ecswire.CreateClusterRequest) (*ecswire.CreateClusterResponse, error) {
	sc := scopeOf(ctx)
	name := in.ClusterName
	if name == "" {
		name = defaultCluster
	}
	if !clusterNamePattern.MatchString(name) {
		return nil, invalidParameter("Cluster name can only contain letters, numbers, hyphens and underscores and must be 1-255 characters long.")
	}
	if err := validateTags(in.Tags); err != nil {
		return nil, err
	}
	if err := validateClusterSettings(in.Settings); err != nil {
		return nil, err
	}
	var out ecswire.Cluster
	err := s.store.Update(func(tx *store.Tx) error {
		existing, ok, err := store.Get[clusterRecord](tx, tableClusters, sc.key(name))
		if err != nil {
			return err
		}
		if ok && existing.Cluster.Status == statusActive {
			out = existing.Cluster
			return nil
		}
		c := ecswire.Cluster{
			ClusterArn:        sc.clusterARN(name),
			ClusterName:       name,
			Status:            statusActive,
			Tags:              in.Tags,
			Settings:          withDefaultSettings(in.Settings),
			Configuration:     in.Configuration,
			CapacityProviders: in.CapacityProviders,
		}
		out = c
		return tx.Put(tableClusters, sc.key(name), clusterRecord{Cluster: c})
	})
	if err != nil {
		return nil, serverException(err)
	}
	return &ecswire.CreateClusterResponse{Cluster: s.withCounts(ctx, out, nil)}, nil
}

func withDefaultSettings(in []ecswire.ClusterSetting) []ecswire.ClusterSetting {
	for _, st := range in {
		if st.Name == "containerInsights" {
			return in
		}
	}
	return append(in, ecswire.ClusterSetting{Name: "containerInsights", Value: "disabled"})
}

func validateClusterSettings(settings []ecswire.ClusterSetting) error {
	for _, st := range settings {
		if st.Name != "containerInsights" {
			return invalidParameter("Unsupported cluster setting name %q.", st.Name)
		}
		switch st.Value {
		case "enabled", "disabled", "enhanced":
		default:
			return invalidParameter("Cluster setting containerInsights must be enabled, disabled or enhanced, not %q.", st.Value)
		}
	}
	return nil
}

// withCounts returns c with its task and service counts; with include it
// keeps only the optional parts asked for (nil include keeps them all).
func (s *Service) withCounts(ctx context.Context, c ecswire.Cluster, include []string) *ecswire.Cluster {
	sc := scopeOf(ctx)
	s.store.View(func(tx *store.Tx) error {
		tasks, err := openTasks(tx, sc.key(c.ClusterName)) // stopped ones count nowhere
		if err != nil {
			return err
		}
		for _, t := range tasks {
			switch t.Task.LastStatus {
			case "RUNNING":
				c.RunningTasksCount++
			case "PROVISIONING", "PENDING", "ACTIVATING":
				c.PendingTasksCount++
			}
		}
		services, err := store.List[serviceRecord](tx, tableServices, sc.key(c.ClusterName)+"/")
		for _, svc := range services {
			if svc.Service.Status == serviceActive {
				c.ActiveServicesCount++
			}
		}
		return err
	})
	if include == nil {
		return &c
	}
	wants := map[string]bool{}
	for _, f := range include {
		wants[f] = true
	}
	if !wants["TAGS"] {
		c.Tags = nil
	}
	if !wants["SETTINGS"] {
		c.Settings = nil
	}
	if !wants["CONFIGURATIONS"] {
		c.Configuration = nil
	}
	if wants["STATISTICS"] {
		c.Statistics = []ecswire.KeyValuePair{
			{Name: "runningFargateTasksCount", Value: new(itoa(int(c.RunningTasksCount)))},
			{Name: "pendingFargateTasksCount", Value: new(itoa(int(c.PendingTasksCount)))},
			{Name: "activeFargateServiceCount", Value: new(itoa(int(c.ActiveServicesCount)))},
			{Name: "drainingFargateServiceCount", Value: new("0")},
		}
	}
	return &c
}

// DescribeClusters describes clusters by name or ARN; unknown ones are
// reported as failures with reason MISSING.
func (s *Service) DescribeClusters(ctx context.Context, in *ecswire.DescribeClustersRequest) (*ecswire.DescribeClustersResponse, error) {
	sc := scopeOf(ctx)
	refs := in.Clusters
	if len(refs) == 0 {
		refs = []string{defaultCluster}
	}
	if len(refs) > 100 {
		return nil, invalidParameter("Clusters can have at most 100 items.")
	}
	include := in.Include
	if include == nil {
		include = []string{}
	}
	out := &ecswire.DescribeClustersResponse{Clusters: []ecswire.Cluster{}, Failures: []ecswire.Failure{}}
	err := s.store.View(func(tx *store.Tx) error {
		for _, ref := range refs {
			name := clusterName(ref)
			c, ok, err := store.Get[clusterRecord](tx, tableClusters, sc.key(name))
			if err != nil {
				return err
			}
			if !ok {
				out.Failures = append(out.Failures, ecswire.Failure{Arn: sc.clusterARN(name), Reason: "MISSING"})
				continue
			}
			out.Clusters = append(out.Clusters, c.Cluster)
		}
		return nil
	})
	if err != nil {
		return nil, serverException(err)
	}
	for i, c := range out.Clusters {
		out.Clusters[i] = *s.withCounts(ctx, c, include)
	}
	return out, nil
}

// ListClusters lists the ARNs of the active clusters.
func (s *Service) ListClusters(ctx context.Context, in *ecswire.ListClustersRequest) (*ecswire.ListClustersResponse, error) {
	sc := scopeOf(ctx)
	max, err := maxResults(in.MaxResults, 100)
	if err != nil {
		return nil, err
	}
	var arns []string
	err = s.store.View(func(tx *store.Tx) error {
		all, err := store.List[clusterRecord](tx, tableClusters, sc.key())
		for _, c := range all {
			if c.Cluster.Status == statusActive {
				arns = append(arns, c.Cluster.ClusterArn)
			}
		}
		return err
	})
	if err != nil {
		return nil, serverException(err)
	}
	page, next, err := pageOfNames(arns, in.NextToken, max)
	if err != nil {
		return nil, err
	}
	return &ecswire.ListClustersResponse{ClusterArns: page, NextToken: next}, nil
}

// DeleteCluster marks an empty cluster INACTIVE. A cluster with active
// services or tasks is refused, as AWS does.
func (s *Service) DeleteCluster(ctx context.Context, in *ecswire.DeleteClusterRequest) (*ecswire.DeleteClusterResponse, error) {
	sc := scopeOf(ctx)
	var out ecswire.Cluster
	err := s.store.Update(func(tx *store.Tx) error {
		c, err := activeCluster(tx, sc, in.Cluster)
		if err != nil {
			return err
		}
		services, err := store.List[serviceRecord](tx, tableServices, sc.key(c.Cluster.ClusterName)+"/")
		if err != nil {
			return serverException(err)
		}
		for _, svc := range services {
			if svc.Service.Status != serviceInactive {
				return protocol.ClientError("ClusterContainsServicesException", "The Cluster cannot be deleted while Services are active.")
			}
		}
		tasks, err := openTasks(tx, sc.key(c.Cluster.ClusterName))
		if err != nil {
			return serverException(err)
		}
		if len(tasks) > 0 {
			return protocol.ClientError("ClusterContainsTasksException", "The Cluster cannot be deleted while Tasks are active.")
		}
		c.Cluster.Status = statusInactive
		out = c.Cluster
		return tx.Put(tableClusters, sc.key(c.Cluster.ClusterName), c)
	})
	if err != nil {
		return nil, err
	}
	return &ecswire.DeleteClusterResponse{Cluster: &out}, nil
}

// UpdateClusterSettings changes cluster settings (containerInsights).
func (s *Service) UpdateClusterSettings(ctx context.Context, in *ecswire.UpdateClusterSettingsRequest) (*ecswire.UpdateClusterSettingsResponse, error) {
	sc := scopeOf(ctx)
	if err := validateClusterSettings(in.Settings); err != nil {
		return nil, err
	}
	var out ecswire.Cluster
	err := s.store.Update(func(tx *store.Tx) error {
		c, err := activeCluster(tx, sc, in.Cluster)
		if err != nil {
			return err
		}
		for _, st := range in.Settings {
			c.Cluster.Settings = setSetting(c.Cluster.Settings, st)
		}
		out = c.Cluster
		return tx.Put(tableClusters, sc.key(c.Cluster.ClusterName), c)
	})
	if err != nil {
		return nil, err
	}
	return &ecswire.UpdateClusterSettingsResponse{Cluster: s.withCounts(ctx, out, nil)}, nil
}

func setSetting(settings []ecswire.ClusterSetting, st ecswire.ClusterSetting) []ecswire.ClusterSetting {
	for i := range settings {
		if settings[i].Name == st.Name {
			settings[i].Value = st.Value
			return settings
		}
	}
	return append(settings, st)
}
