package logs

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"

	"github.com/kumo-project/kumo/internal/arn"
	"github.com/kumo-project/kumo/internal/protocol"
	"github.com/kumo-project/kumo/internal/services/logs/logstore"
	"github.com/kumo-project/kumo/internal/wire/logswire"
)

// retentionDays are the values PutRetentionPolicy accepts.
var retentionDays = []int32{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

const defaultDescribeLimit = 50

// CreateLogGroup creates a log group.
func (s *Service) CreateLogGroup(ctx context.Context, in *logswire.CreateLogGroupRequest) (*logswire.CreateLogGroupOutput, error) {
	sc := scopeOf(ctx)
	if err := checkName("logGroupName", in.LogGroupName, groupNamePattern); err != nil {
		return nil, err
	}
	if in.DeletionProtectionEnabled != nil && *in.DeletionProtectionEnabled {
		return nil, invalidParameter("kumo does not support deletion protection of log groups yet.")
	}
	class := in.LogGroupClass
	if class == "" {
		class = "STANDARD"
	}
	settings := logstore.GroupSettings{KMSKeyID: in.KmsKeyId, LogGroupClass: class, Tags: in.Tags}
	if _, err := s.events.CreateGroup(sc.group(in.LogGroupName), settings); err != nil {
		return nil, groupError(err)
	}
	return &logswire.CreateLogGroupOutput{}, nil
}

// DeleteLogGroup deletes a log group, its streams, events and metric
// filters.
func (s *Service) DeleteLogGroup(ctx context.Context, in *logswire.DeleteLogGroupRequest) (*logswire.DeleteLogGroupOutput, error) {
	sc := scopeOf(ctx)
	if err := s.events.DeleteGroup(sc.group(in.LogGroupName)); err != nil {
		return nil, groupError(err)
	}
	if err := s.deleteGroupRecords(sc.group(in.LogGroupName)); err != nil {
		return nil, serviceUnavailable(err)
	}
	return &logswire.DeleteLogGroupOutput{}, nil
}

// DescribeLogGroups lists the log groups of the account and region, by
// name.
func (s *Service) DescribeLogGroups(ctx context.Context, in *logswire.DescribeLogGroupsRequest) (*logswire.DescribeLogGroupsResponse, error) {
	sc := scopeOf(ctx)
	if in.LogGroupNamePrefix != "" && in.LogGroupNamePattern != "" {
		return nil, invalidParameter("LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.")
	}
	names := map[string]bool{}
	for _, id := range in.LogGroupIdentifiers {
		name, err := groupNameOf(sc, id)
		if err != nil {
			return nil, err
		}
		names[name] = true
	}
	pattern := strings.ToLower(in.LogGroupNamePattern)
	page, next, err := s.pageGroups(sc, in.NextToken, in.Limit, func(name string, g logstore.Group) bool {
		return strings.HasPrefix(name, in.LogGroupNamePrefix) &&
			(pattern == "" || strings.Contains(strings.ToLower(name), pattern)) &&
			(len(names) == 0 || names[name]) &&
			(in.LogGroupClass == "" || g.LogGroupClass == in.LogGroupClass)
	})
	if err != nil {
		return nil, err
	}
	counts, err := s.metricFilterCounts(sc)
	if err != nil {
		return nil, serviceUnavailable(err)
	}
	out := &logswire.DescribeLogGroupsResponse{NextToken: next, LogGroups: []logswire.LogGroup{}}
	for _, g := range page {
		out.LogGroups = append(out.LogGroups, toLogGroup(sc, g, counts[g.Name]))
	}
	return out, nil
}

func toLogGroup(sc scope, g logstore.Group, filters int32) logswire.LogGroup {
	lg := logswire.LogGroup{
		LogGroupName:      g.Name,
		CreationTime:      &g.CreationTime,
		MetricFilterCount: &filters,
		Arn:               sc.groupARN(g.Name) + ":*",
		LogGroupArn:       sc.groupARN(g.Name),
		StoredBytes:       &g.StoredBytes,
		KmsKeyId:          g.KMSKeyID,
		LogGroupClass:     g.LogGroupClass,
	}
	if g.RetentionInDays > 0 {
		lg.RetentionInDays = &g.RetentionInDays
	}
	return lg
}

// PutRetentionPolicy sets how long a group keeps its events; older events
// disappear from reads at once and from disk at the next maintenance.
func (s *Service) PutRetentionPolicy(ctx context.Context, in *logswire.PutRetentionPolicyRequest) (*logswire.PutRetentionPolicyOutput, error) {
	days := int32(0)
	if in.RetentionInDays != nil {
		days = *in.RetentionInDays
	}
	if !slices.Contains(retentionDays, days) {
		return nil, invalidParameter("1 validation error detected: Value '%d' at 'retentionInDays' failed to satisfy constraint: Member must satisfy enum value set: %v", days, retentionDays)
	}
	err := s.updateGroup(ctx, in.LogGroupName, func(g *logstore.GroupSettings) error {
		g.RetentionInDays = days
		return nil
	})
	return &logswire.PutRetentionPolicyOutput{}, err
}

// DeleteRetentionPolicy makes a group keep its events forever.
func (s *Service) DeleteRetentionPolicy(ctx context.Context, in *logswire.DeleteRetentionPolicyRequest) (*logswire.DeleteRetentionPolicyOutput, error) {
	err := s.updateGroup(ctx, in.LogGroupName, func(g *logstore.GroupSettings) error {
		g.RetentionInDays = 0
		return nil
	})
	return &logswire.DeleteRetentionPolicyOutput{}, err
}

// updateGroup changes a group's settings, mapping engine errors.
func (s *Service) updateGroup(ctx context.Context, name string, update func(*logstore.GroupSettings) error) error {
	if _, err := s.events.UpdateGroup(scopeOf(ctx).group(name), update); err != nil {
		var apiErr *protocol.Error
		if errors.As(err, &apiErr) {
			return err
		}
		return groupError(err)
	}
	return nil
}

// groupNameOf reads a log group identifier: a name or an ARN of the
// caller's account and region (with or without the trailing ":*").
func groupNameOf(sc scope, id string) (string, error) {
	if !arn.IsARN(id) {
		return id, nil
	}
	a, err := arn.Parse(id)
	name, ok := strings.CutPrefix(a.Resource, "log-group:")
	if err != nil || !ok || a.Service != "logs" {
		return "", invalidParameter("Invalid log group ARN: %s", id)
	}
	if a.AccountID != sc.account || a.Region != sc.region {
		return "", errGroupNotFound()
	}
	return strings.TrimSuffix(name, ":*"), nil
}

// groupOf picks the log group of a request that names it by name or by
// identifier (exactly one of them).
func groupOf(sc scope, name, identifier string) (string, error) {
	switch {
	case name != "" && identifier != "":
		return "", invalidParameter("LogGroup name and LogGroup ARN are mutually exclusive parameters.")
	case identifier != "":
		return groupNameOf(sc, identifier)
	case name == "":
		return "", invalidParameter("Either logGroupName or logGroupIdentifier must be specified.")
	}
	return name, nil
}

// limitOr returns *limit, or def when it is unset.
// pageGroups pages the scope's log groups that keep accepts (given their
// names without the scope's prefix, which the groups returned carry too).
func (s *Service) pageGroups(sc scope, token string, limit *int32, keep func(name string, g logstore.Group) bool) ([]logstore.Group, string, error) {
	var groups []logstore.Group
	for _, g := range s.events.Groups() {
		name, ok := strings.CutPrefix(g.Name, sc.prefix())
		if !ok || !keep(name, g) {
			continue
		}
		g.Name = name
		groups = append(groups, g)
	}
	return protocol.Page(groups, token, limitOr(limit, defaultDescribeLimit),
		func(g logstore.Group) string { return g.Name }, "InvalidParameterException")
}

func limitOr(limit *int32, def int) int {
	if limit == nil || *limit <= 0 {
		return def
	}
	return int(*limit)
}

// ListLogGroups lists the scope's log groups by name, optionally those a
// regular expression matches (case-sensitive; ^ for a prefix) and of one
// class.
func (s *Service) ListLogGroups(ctx context.Context, in *logswire.ListLogGroupsRequest) (*logswire.ListLogGroupsResponse, error) {
	sc := scopeOf(ctx)
	if len(in.LogGroupTags) > 0 || len(in.DataSources) > 0 || len(in.FieldIndexNames) > 0 {
		return nil, invalidParameter("kumo does not filter log groups by tags, data sources or field indexes yet.")
	}
	var pattern *regexp.Regexp
	if in.LogGroupNamePattern != "" {
		var err error
		if pattern, err = regexp.Compile(in.LogGroupNamePattern); err != nil {
			return nil, invalidParameter("Invalid logGroupNamePattern %q: %v", in.LogGroupNamePattern, err)
		}
	}
	page, next, err := s.pageGroups(sc, in.NextToken, in.Limit, func(name string, g logstore.Group) bool {
		return (pattern == nil || pattern.MatchString(name)) && (in.LogGroupClass == "" || g.LogGroupClass == in.LogGroupClass)
	})
	if err != nil {
		return nil, err
	}
	out := &logswire.ListLogGroupsResponse{NextToken: next, LogGroups: []logswire.LogGroupSummary{}}
	for _, g := range page {
		out.LogGroups = append(out.LogGroups, logswire.LogGroupSummary{LogGroupName: g.Name, LogGroupArn: sc.groupARN(g.Name), LogGroupClass: g.LogGroupClass})
	}
	return out, nil
}
