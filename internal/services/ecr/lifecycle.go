package ecr

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/kumo-project/kumo/internal/protocol"
	"github.com/kumo-project/kumo/internal/registry"
	"github.com/kumo-project/kumo/internal/store"
	"github.com/kumo-project/kumo/internal/wire/ecrwire"
)

// Lifecycle policy preview statuses.
const previewComplete = "COMPLETE"

// PutLifecyclePolicy validates and stores a repository's lifecycle policy;
// the lifecycle reconciler applies it.
func (s *Service) PutLifecyclePolicy(ctx context.Context, in *ecrwire.PutLifecyclePolicyRequest) (*ecrwire.PutLifecyclePolicyResponse, error) {
	if _, err := parseLifecyclePolicy(in.LifecyclePolicyText); err != nil {
		return nil, err
	}
	rec, err := s.updateRepo(ctx, in.RegistryId, in.RepositoryName, func(r *repoRecord) error {
		r.LifecyclePolicy = in.LifecyclePolicyText
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ecrwire.PutLifecyclePolicyResponse{RegistryId: rec.Account, RepositoryName: in.RepositoryName, LifecyclePolicyText: in.LifecyclePolicyText}, nil
}

func evaluatedAt(t time.Time) *protocol.Timestamp {
	if t.IsZero() {
		return nil
	}
	return protocol.NewTimestamp(t)
}

// GetLifecyclePolicy returns a repository's lifecycle policy.
func (s *Service) GetLifecyclePolicy(ctx context.Context, in *ecrwire.GetLifecyclePolicyRequest) (*ecrwire.GetLifecyclePolicyResponse, error) {
	rec, err := s.viewRepo(ctx, in.RegistryId, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	if rec.LifecyclePolicy == "" {
		return nil, lifecyclePolicyNotFound(in.RepositoryName, rec.Account)
	}
	return &ecrwire.GetLifecyclePolicyResponse{
		RegistryId: rec.Account, RepositoryName: in.RepositoryName,
		LifecyclePolicyText: rec.LifecyclePolicy, LastEvaluatedAt: evaluatedAt(rec.LifecycleEvaluatedAt),
	}, nil
}

// DeleteLifecyclePolicy removes a repository's lifecycle policy and returns it.
func (s *Service) DeleteLifecyclePolicy(ctx context.Context, in *ecrwire.DeleteLifecyclePolicyRequest) (*ecrwire.DeleteLifecyclePolicyResponse, error) {
	var old repoRecord
	rec, err := s.updateRepo(ctx, in.RegistryId, in.RepositoryName, func(r *repoRecord) error {
		if r.LifecyclePolicy == "" {
			return lifecyclePolicyNotFound(in.RepositoryName, r.Account)
		}
		old = *r
		r.LifecyclePolicy, r.LifecycleEvaluatedAt = "", time.Time{}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ecrwire.DeleteLifecyclePolicyResponse{
		RegistryId: rec.Account, RepositoryName: in.RepositoryName,
		LifecyclePolicyText: old.LifecyclePolicy, LastEvaluatedAt: evaluatedAt(old.LifecycleEvaluatedAt),
	}, nil
}

// lifecycleCandidates converts registry images for the evaluator, leaving
// out the images an index refers to: they go with their index.
func (s *Service) lifecycleCandidates(ctx context.Context, repo string, images []registry.Image) ([]lifecycleImage, error) {
	children, err := s.indexChildren(ctx, repo, images)
	if err != nil {
		return nil, err
	}
	out := make([]lifecycleImage, 0, len(images))
	for _, im := range images {
		if !children[im.Digest.String()] {
			out = append(out, lifecycleImage{Digest: im.Digest.String(), Tags: sortedTags(im.Tags), PushedAt: im.PushedAt})
		}
	}
	return out, nil
}

// StartLifecyclePolicyPreview evaluates a policy (the given text, else the
// stored policy) against the repository's images now, without expiring
// anything; GetLifecyclePolicyPreview reads the result.
func (s *Service) StartLifecyclePolicyPreview(ctx context.Context, in *ecrwire.StartLifecyclePolicyPreviewRequest) (*ecrwire.StartLifecyclePolicyPreviewResponse, error) {
	repo, images, err := s.repoImages(ctx, in.RegistryId, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	text := in.LifecyclePolicyText
	if text == "" {
		text = repo.LifecyclePolicy
	}
	if text == "" {
		return nil, lifecyclePolicyNotFound(in.RepositoryName, repo.Account)
	}
	policy, err := parseLifecyclePolicy(text)
	if err != nil {
		return nil, err
	}
	candidates, err := s.lifecycleCandidates(ctx, in.RepositoryName, images)
	if err != nil {
		return nil, apiError(err)
	}
	var results []ecrwire.LifecyclePolicyPreviewResult
	for _, e := range evaluateLifecycle(policy, candidates, s.clock.Now()) {
		prio := int32(e.Priority)
		results = append(results, ecrwire.LifecyclePolicyPreviewResult{
			ImageTags: e.Image.Tags, ImageDigest: e.Image.Digest, ImagePushedAt: protocol.NewTimestamp(e.Image.PushedAt),
			Action: &ecrwire.LifecyclePolicyRuleAction{Type: "EXPIRE"}, AppliedRulePriority: &prio,
		})
	}
	preview := previewRecord{PolicyText: text, Status: previewComplete, Results: results}
	err = s.store.Update(func(tx *store.Tx) error { return tx.Put(tablePreviews, in.RepositoryName, preview) })
	if err != nil {
		return nil, serverException(err)
	}
	return &ecrwire.StartLifecyclePolicyPreviewResponse{
		RegistryId: repo.Account, RepositoryName: in.RepositoryName, LifecyclePolicyText: text, Status: previewComplete,
	}, nil
}

// GetLifecyclePolicyPreview returns the last preview's results.
func (s *Service) GetLifecyclePolicyPreview(ctx context.Context, in *ecrwire.GetLifecyclePolicyPreviewRequest) (*ecrwire.GetLifecyclePolicyPreviewResponse, error) {
	if len(in.ImageIds) > 0 && (in.NextToken != "" || in.MaxResults != nil) {
		return nil, invalidParameter("Invalid parameter: maxResults and nextToken cannot be used with imageIds")
	}
	repo, err := s.viewRepo(ctx, in.RegistryId, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	var preview previewRecord
	var ok bool
	err = s.store.View(func(tx *store.Tx) (err error) {
		preview, ok, err = store.Get[previewRecord](tx, tablePreviews, in.RepositoryName)
		return err
	})
	if err != nil {
		return nil, serverException(err)
	}
	if !ok {
		return nil, protocol.ClientError("LifecyclePolicyPreviewNotFoundException",
			"There is no dry run for the repository with name '%s' in the registry with id '%s'", in.RepositoryName, repo.Account)
	}
	results := filterPreview(preview.Results, in)
	page, next, err := protocol.Page(results, in.NextToken, maxResults(in.MaxResults, 100), func(r ecrwire.LifecyclePolicyPreviewResult) string { return r.ImageDigest }, "InvalidParameterException")
	if err != nil {
		return nil, err
	}
	total := int32(len(preview.Results))
	return &ecrwire.GetLifecyclePolicyPreviewResponse{
		RegistryId: repo.Account, RepositoryName: in.RepositoryName, LifecyclePolicyText: preview.PolicyText,
		Status: preview.Status, PreviewResults: page, NextToken: next,
		Summary: &ecrwire.LifecyclePolicyPreviewSummary{ExpiringImageTotalCount: &total},
	}, nil
}

// filterPreview applies the imageIds and tagStatus filters, sorted by digest for paging.
func filterPreview(results []ecrwire.LifecyclePolicyPreviewResult, in *ecrwire.GetLifecyclePolicyPreviewRequest) []ecrwire.LifecyclePolicyPreviewResult {
	status := tagStatusAny
	if in.Filter != nil && in.Filter.TagStatus != "" {
		status = in.Filter.TagStatus
	}
	out := []ecrwire.LifecyclePolicyPreviewResult{}
	for _, r := range results {
		if !matchesTagStatus(status, len(r.ImageTags) > 0) || !previewWanted(r, in.ImageIds) {
			continue
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ImageDigest < out[j].ImageDigest })
	return out
}

func previewWanted(r ecrwire.LifecyclePolicyPreviewResult, ids []ecrwire.ImageIdentifier) bool {
	if len(ids) == 0 {
		return true
	}
	for _, id := range ids {
		if id.ImageDigest == r.ImageDigest || (id.ImageTag != "" && slices.Contains(r.ImageTags, id.ImageTag)) {
			return true
		}
	}
	return false
}

// runLifecycle applies every lifecycle policy on the service's schedule.
func (s *Service) runLifecycle(ctx context.Context) {
	t := s.clock.NewTicker(s.cfg.LifecycleInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			if err := s.ApplyLifecyclePolicies(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("ecr: lifecycle policies", "err", err)
			}
		}
	}
}

// ApplyLifecyclePolicies expires, in every repository with a lifecycle
// policy, the images the policy selects now.
func (s *Service) ApplyLifecyclePolicies(ctx context.Context) error {
	var repos []repoRecord
	err := s.store.View(func(tx *store.Tx) (err error) {
		repos, err = store.List[repoRecord](tx, tableRepos, "")
		return err
	})
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range repos {
		if r.LifecyclePolicy == "" {
			continue
		}
		if err := s.applyLifecycle(ctx, r); err != nil {
			errs = append(errs, fmt.Errorf("lifecycle policy of repository %q: %w", r.Repository.RepositoryName, err))
		}
	}
	return errors.Join(errs...)
}

// applyLifecycle evaluates one repository's policy and deletes what it expires.
func (s *Service) applyLifecycle(ctx context.Context, r repoRecord) error {
	name := r.Repository.RepositoryName
	policy, err := parseLifecyclePolicy(r.LifecyclePolicy)
	if err != nil {
		return err
	}
	images, err := s.images(ctx, name)
	if err != nil {
		return err
	}
	candidates, err := s.lifecycleCandidates(ctx, name, images)
	if err != nil {
		return err
	}
	now := s.clock.Now()
	for _, e := range evaluateLifecycle(policy, candidates, now) {
		if err := s.registry.DeleteManifest(ctx, name, e.Image.Digest); err != nil && !errors.Is(err, registry.ErrManifestUnknown) {
			return err
		}
		s.log.Info("ecr: lifecycle policy expired image", "repository", name, "digest", e.Image.Digest, "rule", e.Priority)
	}
	return s.store.Update(func(tx *store.Tx) error {
		cur, ok, err := store.Get[repoRecord](tx, tableRepos, name)
		if err != nil || !ok {
			return err
		}
		cur.LifecycleEvaluatedAt = now
		return tx.Put(tableRepos, name, cur)
	})
}
