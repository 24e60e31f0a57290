package elbv2

import (
	"context"
	"strings"

	"github.com/kumo-project/kumo/internal/protocol"
	"github.com/kumo-project/kumo/internal/store"
	"github.com/kumo-project/kumo/internal/tagset"
	"github.com/kumo-project/kumo/internal/wire/elbv2wire"
)

const maxTags = 50

func tagKey(t elbv2wire.Tag) string { return t.Key }

func validateNewTags(tags []elbv2wire.Tag) error {
	seen := map[string]bool{}
	for _, t := range tags {
		if seen[t.Key] {
			return protocol.ClientError("DuplicateTagKeys", "Tag key '%s' is duplicated", t.Key)
		}
		seen[t.Key] = true
		if strings.HasPrefix(t.Key, "aws:") {
			return validationError("Tag keys starting with 'aws:' are reserved")
		}
	}
	if len(tags) > maxTags {
		return protocol.ClientError("TooManyTags", "You've reached the limit on the number of tags for this resource")
	}
	return nil
}

// withTags runs fn on the tags of the resource an ARN names, storing the
// record again when write is set.
func withTags(tx *store.Tx, sc scope, a string, write bool, fn func(*[]elbv2wire.Tag) error) error {
	switch {
	case sc.inScope(a, resLoadBalancer):
		return withRecordTags(tx, tableLoadBalancers, a, write, loadBalancerNotFound, func(r *lbRecord) *[]elbv2wire.Tag { return &r.Tags }, fn)
	case sc.inScope(a, resTargetGroup):
		return withRecordTags(tx, tableTargetGroups, a, write, targetGroupNotFound, func(r *tgRecord) *[]elbv2wire.Tag { return &r.Tags }, fn)
	case sc.inScope(a, resRule):
		return withRecordTags(tx, tableRules, a, write, ruleNotFound, func(r *ruleRecord) *[]elbv2wire.Tag { return &r.Tags }, fn)
	case sc.inScope(a, resListener):
		return withRecordTags(tx, tableListeners, a, write, listenerNotFound, func(r *listenerRecord) *[]elbv2wire.Tag { return &r.Tags }, fn)
	}
	return validationError("'%s' is not a valid load balancer, target group, listener or rule ARN", a)
}

func withRecordTags[T any](tx *store.Tx, table, a string, write bool, notFound func() error, tagsOf func(*T) *[]elbv2wire.Tag, fn func(*[]elbv2wire.Tag) error) error {
	r, ok, err := store.Get[T](tx, table, a)
	if err != nil {
		return internalError(err)
	}
	if !ok {
		return notFound()
	}
	if err := fn(tagsOf(&r)); err != nil {
		return err
	}
	if write {
		return tx.Put(table, a, r)
	}
	return nil
}

// AddTags adds or overwrites tags of resources.
func (s *Service) AddTags(ctx context.Context, in *elbv2wire.AddTagsInput) (*elbv2wire.AddTagsOutput, error) {
	sc := scopeOf(ctx)
	if err := validateNewTags(in.Tags); err != nil {
		return nil, err
	}
	err := s.store.Update(func(tx *store.Tx) error {
		for _, a := range in.ResourceArns {
			err := withTags(tx, sc, a, true, func(tags *[]elbv2wire.Tag) error {
				*tags = tagset.Merge(*tags, in.Tags, tagKey)
				if len(*tags) > maxTags {
					return protocol.ClientError("TooManyTags", "You've reached the limit on the number of tags for this resource")
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &elbv2wire.AddTagsOutput{}, nil
}

// RemoveTags removes tags by key from resources.
func (s *Service) RemoveTags(ctx context.Context, in *elbv2wire.RemoveTagsInput) (*elbv2wire.RemoveTagsOutput, error) {
	sc := scopeOf(ctx)
	err := s.store.Update(func(tx *store.Tx) error {
		for _, a := range in.ResourceArns {
			err := withTags(tx, sc, a, true, func(tags *[]elbv2wire.Tag) error {
				*tags = tagset.Remove(*tags, in.TagKeys, tagKey)
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &elbv2wire.RemoveTagsOutput{}, nil
}

// DescribeTags reports the tags of resources, in the order asked.
func (s *Service) DescribeTags(ctx context.Context, in *elbv2wire.DescribeTagsInput) (*elbv2wire.DescribeTagsOutput, error) {
	sc := scopeOf(ctx)
	out := &elbv2wire.DescribeTagsOutput{}
	err := s.store.View(func(tx *store.Tx) error {
		for _, a := range in.ResourceArns {
			err := withTags(tx, sc, a, false, func(tags *[]elbv2wire.Tag) error {
				out.TagDescriptions = append(out.TagDescriptions, elbv2wire.TagDescription{ResourceArn: a, Tags: *tags})
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
