package ecs

import (
	"context"
	"strconv"
	"strings"

	"github.com/kumo-project/kumo/internal/arn"
	"github.com/kumo-project/kumo/internal/store"
	"github.com/kumo-project/kumo/internal/tagset"
	"github.com/kumo-project/kumo/internal/wire/ecswire"
)

const maxTags = 50

func itoa(n int) string { return strconv.Itoa(n) }

// validateTags applies ECS's tag rules: at most 50, keys 1-128 characters,
// values at most 256, and the aws: prefix reserved.
func validateTags(tags []ecswire.Tag) error {
	if len(tags) > maxTags {
		return invalidParameter("The number of tags exceeds the limit of %d.", maxTags)
	}
	for _, t := range tags {
		if len(t.Key) < 1 || len(t.Key) > 128 {
			return invalidParameter("Tag keys must be between 1 and 128 characters.")
		}
		if len(deref(t.Value, "")) > 256 {
			return invalidParameter("Tag values must be at most 256 characters.")
		}
		if strings.HasPrefix(strings.ToLower(t.Key), "aws:") {
			return invalidParameter("Tag keys with the aws: prefix are reserved.")
		}
	}
	return nil
}

func tagKey(t ecswire.Tag) string { return t.Key }

// mergeTags adds or replaces tags by key.
func mergeTags(tags, add []ecswire.Tag) []ecswire.Tag { return tagset.Merge(tags, add, tagKey) }

func removeTags(tags []ecswire.Tag, keys []string) []ecswire.Tag {
	return tagset.Remove(tags, keys, tagKey)
}

// taggable finds the stored resource an ARN names and lets edit change its
// tags; edit returns the new tags. It answers the tags as they are after.
func (s *Service) editTags(ctx context.Context, resourceARN string, write bool, edit func([]ecswire.Tag) ([]ecswire.Tag, error)) ([]ecswire.Tag, error) {
	sc := scopeOf(ctx)
	a, err := arn.Parse(resourceARN)
	if err != nil || a.Service != "ecs" {
		return nil, invalidParameter("Invalid resource ARN %q.", resourceARN)
	}
	if a.Region != sc.region || a.AccountID != sc.account {
		return nil, resourceNotFound("The specified resource could not be found.")
	}
	kind, rest, _ := strings.Cut(a.Resource, "/")
	var result []ecswire.Tag
	apply := func(tx *store.Tx, table, key string, rec any, tags *[]ecswire.Tag) error {
		ok, err := tx.Get(table, key, rec)
		if err != nil {
			return serverException(err)
		}
		if !ok {
			return resourceNotFound("The specified resource could not be found.")
		}
		next, err := edit(*tags)
		if err != nil {
			return err
		}
		*tags = next
		result = next
		if !write {
			return nil
		}
		return tx.Put(table, key, rec)
	}
	txn := s.store.View
	if write {
		txn = s.store.Update
	}
	err = txn(func(tx *store.Tx) error {
		switch kind {
		case "cluster":
			var c clusterRecord
			return apply(tx, tableClusters, sc.key(rest), &c, &c.Cluster.Tags)
		case "task-definition":
			family, rev, ok := strings.Cut(rest, ":")
			n, err := strconv.Atoi(rev)
			if !ok || err != nil {
				return invalidParameter("Invalid task definition ARN %q.", resourceARN)
			}
			var td taskDefRecord
			return apply(tx, tableTaskDefs, sc.key(family, revisionKey(int32(n))), &td, &td.Tags)
		case "task":
			var t taskRecord
			return apply(tx, tableTasks, sc.key(rest), &t, &t.Task.Tags)
		case "service":
			var r serviceRecord
			return apply(tx, tableServices, sc.key(rest), &r, &r.Service.Tags)
		}
		return invalidParameter("Tagging is not supported for resource %q.", resourceARN)
	})
	return result, err
}

// TagResource adds or replaces tags on a cluster, task definition or task.
func (s *Service) TagResource(ctx context.Context, in *ecswire.TagResourceRequest) (*ecswire.TagResourceResponse, error) {
	if err := validateTags(in.Tags); err != nil {
		return nil, err
	}
	_, err := s.editTags(ctx, in.ResourceArn, true, func(tags []ecswire.Tag) ([]ecswire.Tag, error) {
		merged := mergeTags(tags, in.Tags)
		if len(merged) > maxTags {
			return nil, invalidParameter("The number of tags exceeds the limit of %d.", maxTags)
		}
		return merged, nil
	})
	if err != nil {
		return nil, err
	}
	return &ecswire.TagResourceResponse{}, nil
}

// UntagResource removes tags by key.
func (s *Service) UntagResource(ctx context.Context, in *ecswire.UntagResourceRequest) (*ecswire.UntagResourceResponse, error) {
	_, err := s.editTags(ctx, in.ResourceArn, true, func(tags []ecswire.Tag) ([]ecswire.Tag, error) {
		return removeTags(tags, in.TagKeys), nil
	})
	if err != nil {
		return nil, err
	}
	return &ecswire.UntagResourceResponse{}, nil
}

// ListTagsForResource lists a resource's tags.
func (s *Service) ListTagsForResource(ctx context.Context, in *ecswire.ListTagsForResourceRequest) (*ecswire.ListTagsForResourceResponse, error) {
	tags, err := s.editTags(ctx, in.ResourceArn, false, func(tags []ecswire.Tag) ([]ecswire.Tag, error) {
		return tags, nil
	})
	if err != nil {
		return nil, err
	}
	if tags == nil {
		tags = []ecswire.Tag{}
	}
	return &ecswire.ListTagsForResourceResponse{Tags: tags}, nil
}
