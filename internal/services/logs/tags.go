package logs

import (
	"context"
	"strings"

	"github.com/kumo-project/kumo/internal/arn"
	"github.com/kumo-project/kumo/internal/protocol"
	"github.com/kumo-project/kumo/internal/services/logs/logstore"
	"github.com/kumo-project/kumo/internal/wire/logswire"
)

// maxTags is how many tags a log group may carry.
const maxTags = 50

// TagResource adds or replaces tags of a log group named by ARN.
func (s *Service) TagResource(ctx context.Context, in *logswire.TagResourceRequest) (*logswire.TagResourceOutput, error) {
	name, err := taggedGroup(scopeOf(ctx), in.ResourceArn)
	if err != nil {
		return nil, err
	}
	return &logswire.TagResourceOutput{}, s.addTags(ctx, name, in.Tags)
}

// UntagResource removes tags of a log group named by ARN.
func (s *Service) UntagResource(ctx context.Context, in *logswire.UntagResourceRequest) (*logswire.UntagResourceOutput, error) {
	name, err := taggedGroup(scopeOf(ctx), in.ResourceArn)
	if err != nil {
		return nil, err
	}
	return &logswire.UntagResourceOutput{}, s.removeTags(ctx, name, in.TagKeys)
}

// ListTagsForResource lists the tags of a log group named by ARN.
func (s *Service) ListTagsForResource(ctx context.Context, in *logswire.ListTagsForResourceRequest) (*logswire.ListTagsForResourceResponse, error) {
	sc := scopeOf(ctx)
	name, err := taggedGroup(sc, in.ResourceArn)
	if err != nil {
		return nil, err
	}
	g, err := s.events.Group(sc.group(name))
	if err != nil {
		return nil, groupError(err)
	}
	return &logswire.ListTagsForResourceResponse{Tags: nonNil(g.Tags)}, nil
}

// TagLogGroup is the older, name-based TagResource.
func (s *Service) TagLogGroup(ctx context.Context, in *logswire.TagLogGroupRequest) (*logswire.TagLogGroupOutput, error) {
	return &logswire.TagLogGroupOutput{}, s.addTags(ctx, in.LogGroupName, in.Tags)
}

// UntagLogGroup is the older, name-based UntagResource.
func (s *Service) UntagLogGroup(ctx context.Context, in *logswire.UntagLogGroupRequest) (*logswire.UntagLogGroupOutput, error) {
	return &logswire.UntagLogGroupOutput{}, s.removeTags(ctx, in.LogGroupName, in.Tags)
}

// ListTagsLogGroup is the older, name-based ListTagsForResource.
func (s *Service) ListTagsLogGroup(ctx context.Context, in *logswire.ListTagsLogGroupRequest) (*logswire.ListTagsLogGroupResponse, error) {
	g, err := s.events.Group(scopeOf(ctx).group(in.LogGroupName))
	if err != nil {
		return nil, groupError(err)
	}
	return &logswire.ListTagsLogGroupResponse{Tags: nonNil(g.Tags)}, nil
}

func (s *Service) addTags(ctx context.Context, name string, tags map[string]string) error {
	return s.updateGroup(ctx, name, func(g *logstore.GroupSettings) error {
		if g.Tags == nil {
			g.Tags = map[string]string{}
		}
		for k, v := range tags {
			g.Tags[k] = v
		}
		if len(g.Tags) > maxTags {
			return tooManyTags()
		}
		return nil
	})
}

func (s *Service) removeTags(ctx context.Context, name string, keys []string) error {
	return s.updateGroup(ctx, name, func(g *logstore.GroupSettings) error {
		for _, k := range keys {
			delete(g.Tags, k)
		}
		return nil
	})
}

// taggedGroup reads the ARN of a taggable resource; kumo tags log groups.
func taggedGroup(sc scope, resourceARN string) (string, error) {
	a, err := arn.Parse(resourceARN)
	if err != nil || a.Service != "logs" {
		return "", invalidParameter("Invalid resource ARN: %s", resourceARN)
	}
	if !strings.HasPrefix(a.Resource, "log-group:") {
		return "", invalidParameter("kumo tags only log groups, not %s", resourceARN)
	}
	return groupNameOf(sc, resourceARN)
}

func tooManyTags() error {
	return protocol.ClientError("TooManyTagsException", "A resource can have no more than %d tags.", maxTags)
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
