package ecr

import (
	"context"
	"strings"

	"github.com/kumo-project/kumo/internal/arn"
	"github.com/kumo-project/kumo/internal/protocol"
	"github.com/kumo-project/kumo/internal/tagset"
	"github.com/kumo-project/kumo/internal/wire/ecrwire"
)

const maxTags = 50

// validateTags applies ECR's tag rules: keys 1-128 characters, values at
// most 256, the aws: prefix reserved, at most 50 tags.
func validateTags(tags []ecrwire.Tag) error {
	if len(tags) > maxTags {
		return protocol.ClientError("TooManyTagsException", "The number of tags exceeds the limit of %d.", maxTags)
	}
	for _, t := range tags {
		if len(t.Key) < 1 || len(t.Key) > 128 || len(tagValue(t)) > 256 || strings.HasPrefix(strings.ToLower(t.Key), "aws:") {
			return protocol.ClientError("InvalidTagParameterException", "Invalid tag key %q or value %q.", t.Key, tagValue(t))
		}
	}
	return nil
}

// tagValue is a tag's value; "" is a value ECR keeps and sends back.
func tagValue(t ecrwire.Tag) string {
	if t.Value == nil {
		return ""
	}
	return *t.Value
}

func tagKey(t ecrwire.Tag) string { return t.Key }

// mergeTags adds or replaces tags by key.
func mergeTags(tags, add []ecrwire.Tag) []ecrwire.Tag { return tagset.Merge(tags, add, tagKey) }

func removeTags(tags []ecrwire.Tag, keys []string) []ecrwire.Tag {
	return tagset.Remove(tags, keys, tagKey)
}

// repoOfARN returns the repository name a repository ARN of the caller's
// scope names.
func repoOfARN(ctx context.Context, resourceARN string) (string, error) {
	sc := scopeOf(ctx)
	a, err := arn.Parse(resourceARN)
	name, isRepo := strings.CutPrefix(a.Resource, "repository/")
	if err != nil || a.Service != "ecr" || !isRepo {
		return "", invalidParameter("Invalid parameter at 'resourceArn' failed to satisfy constraint: 'Invalid ARN %s'", resourceARN)
	}
	if a.AccountID != sc.account || a.Region != sc.region {
		return "", repositoryNotFound(name, a.AccountID)
	}
	return name, nil
}

// TagResource adds tags to a repository.
func (s *Service) TagResource(ctx context.Context, in *ecrwire.TagResourceRequest) (*ecrwire.TagResourceResponse, error) {
	name, err := repoOfARN(ctx, in.ResourceArn)
	if err != nil {
		return nil, err
	}
	_, err = s.updateRepo(ctx, "", name, func(r *repoRecord) error {
		tags := mergeTags(r.Tags, in.Tags)
		if err := validateTags(tags); err != nil {
			return err
		}
		r.Tags = tags
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ecrwire.TagResourceResponse{}, nil
}

// UntagResource removes tags from a repository.
func (s *Service) UntagResource(ctx context.Context, in *ecrwire.UntagResourceRequest) (*ecrwire.UntagResourceResponse, error) {
	name, err := repoOfARN(ctx, in.ResourceArn)
	if err != nil {
		return nil, err
	}
	_, err = s.updateRepo(ctx, "", name, func(r *repoRecord) error {
		r.Tags = removeTags(r.Tags, in.TagKeys)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ecrwire.UntagResourceResponse{}, nil
}

// ListTagsForResource lists a repository's tags.
func (s *Service) ListTagsForResource(ctx context.Context, in *ecrwire.ListTagsForResourceRequest) (*ecrwire.ListTagsForResourceResponse, error) {
	name, err := repoOfARN(ctx, in.ResourceArn)
	if err != nil {
		return nil, err
	}
	rec, err := s.viewRepo(ctx, "", name)
	if err != nil {
		return nil, err
	}
	tags := rec.Tags
	if tags == nil {
		tags = []ecrwire.Tag{}
	}
	return &ecrwire.ListTagsForResourceResponse{Tags: tags}, nil
}
