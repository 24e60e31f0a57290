package acm

import (
	"context"
	"strings"

	"github.com/kumo-project/kumo/internal/protocol"
	"github.com/kumo-project/kumo/internal/store"
	"github.com/kumo-project/kumo/internal/tagset"
	"github.com/kumo-project/kumo/internal/wire/acmwire"
)

const maxTags = 50

func tagKey(t acmwire.Tag) string { return t.Key }

func validateTags(tags []acmwire.Tag) error {
	for _, t := range tags {
		if strings.HasPrefix(t.Key, "aws:") {
			return protocol.ClientError("InvalidTagException", "Tag key %s is reserved: keys cannot start with 'aws:'", t.Key)
		}
	}
	if len(tags) > maxTags {
		return protocol.ClientError("TooManyTagsException", "A certificate can have at most %d tags", maxTags)
	}
	return nil
}

// AddTagsToCertificate adds or overwrites tags.
func (s *Service) AddTagsToCertificate(ctx context.Context, in *acmwire.AddTagsToCertificateRequest) (*acmwire.AddTagsToCertificateOutput, error) {
	if err := validateTags(in.Tags); err != nil {
		return nil, err
	}
	err := s.editTags(ctx, in.CertificateArn, func(tags []acmwire.Tag) ([]acmwire.Tag, error) {
		tags = tagset.Merge(tags, in.Tags, tagKey)
		if len(tags) > maxTags {
			return nil, protocol.ClientError("TooManyTagsException", "A certificate can have at most %d tags", maxTags)
		}
		return tags, nil
	})
	if err != nil {
		return nil, err
	}
	return &acmwire.AddTagsToCertificateOutput{}, nil
}

// RemoveTagsFromCertificate removes tags by key, or by key and value when a
// value is given.
func (s *Service) RemoveTagsFromCertificate(ctx context.Context, in *acmwire.RemoveTagsFromCertificateRequest) (*acmwire.RemoveTagsFromCertificateOutput, error) {
	err := s.editTags(ctx, in.CertificateArn, func(tags []acmwire.Tag) ([]acmwire.Tag, error) {
		return tagset.RemoveFunc(tags, func(t acmwire.Tag) bool { return removes(in.Tags, t) }), nil
	})
	if err != nil {
		return nil, err
	}
	return &acmwire.RemoveTagsFromCertificateOutput{}, nil
}

func removes(patterns []acmwire.Tag, t acmwire.Tag) bool {
	for _, p := range patterns {
		if p.Key == t.Key && (p.Value == "" || p.Value == t.Value) {
			return true
		}
	}
	return false
}

func (s *Service) editTags(ctx context.Context, a string, edit func([]acmwire.Tag) ([]acmwire.Tag, error)) error {
	return s.store.Update(func(tx *store.Tx) error {
		r, err := getCert(tx, scopeOf(ctx), a)
		if err != nil {
			return err
		}
		if r.Tags, err = edit(r.Tags); err != nil {
			return err
		}
		return tx.Put(tableCertificates, a, r)
	})
}

// ListTagsForCertificate reports a certificate's tags.
func (s *Service) ListTagsForCertificate(ctx context.Context, in *acmwire.ListTagsForCertificateRequest) (*acmwire.ListTagsForCertificateResponse, error) {
	var r certRecord
	err := s.store.View(func(tx *store.Tx) (err error) {
		r, err = getCert(tx, scopeOf(ctx), in.CertificateArn)
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(r.Tags) == 0 {
		// ACM sends no Tags rather than an empty list (the model's minimum is 1).
		r.Tags = nil
	}
	return &acmwire.ListTagsForCertificateResponse{Tags: r.Tags}, nil
}
