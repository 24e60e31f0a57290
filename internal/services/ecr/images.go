package ecr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/kumo-project/kumo/internal/protocol"
	"github.com/kumo-project/kumo/internal/registry"
	"github.com/kumo-project/kumo/internal/wire/ecrwire"
	"github.com/opencontainers/go-digest"
)

// Tag status filters of ListImages and DescribeImages.
const (
	tagStatusTagged   = "TAGGED"
	tagStatusUntagged = "UNTAGGED"
	tagStatusAny      = "ANY"
	// imageActive is the status of every kumo image: nothing is archived.
	imageActive = "ACTIVE"
)

// repoImages checks the repository and returns its images, oldest push first.
func (s *Service) repoImages(ctx context.Context, registryID, name string) (repoRecord, []registry.Image, error) {
	rec, err := s.viewRepo(ctx, registryID, name)
	if err != nil {
		return rec, nil, err
	}
	images, err := s.images(ctx, name)
	if err != nil {
		return rec, nil, apiError(err)
	}
	return rec, images, nil
}

// images lists a repository's images, oldest push first; a repository
// the registry has never seen (nothing pushed yet) has none.
func (s *Service) images(ctx context.Context, repo string) ([]registry.Image, error) {
	images, err := s.registry.Images(ctx, repo)
	if errors.Is(err, registry.ErrNameUnknown) {
		return nil, nil
	}
	return images, err
}

// indexChildren returns the digests that an index (manifest list) of the
// repository refers to: they are part of that image and are not deleted on
// their own.
func (s *Service) indexChildren(ctx context.Context, repo string, images []registry.Image) (map[string]bool, error) {
	children := map[string]bool{}
	for _, im := range images {
		digests, err := s.childDigests(ctx, repo, im)
		if err != nil {
			return nil, err
		}
		for _, d := range digests {
			children[d] = true
		}
	}
	return children, nil
}

// isIndex reports whether an image is an index (manifest list).
func isIndex(im registry.Image) bool { return isIndexMediaType(im.MediaType) }

func isIndexMediaType(mediaType string) bool {
	return mediaType == registry.MediaTypeOCIIndex || mediaType == registry.MediaTypeDockerManifestList
}

// childDigests returns the manifests an index refers to; none for an image.
func (s *Service) childDigests(ctx context.Context, repo string, im registry.Image) ([]string, error) {
	if !isIndex(im) {
		return nil, nil
	}
	m, err := s.registry.GetManifest(ctx, repo, im.Digest.String())
	if err != nil {
		return nil, err
	}
	var index struct {
		Manifests []struct{ Digest string } `json:"manifests"`
	}
	if err := json.Unmarshal(m.Body, &index); err != nil {
		return nil, fmt.Errorf("index %s in %s: %w", im.Digest, repo, err)
	}
	out := make([]string, 0, len(index.Manifests))
	for _, c := range index.Manifests {
		out = append(out, c.Digest)
	}
	return out, nil
}

// imageSize is ECR's imageSizeInBytes: config and layers for an image, the
// largest child for an index (the registry counts an index's children's sum).
func (s *Service) imageSize(ctx context.Context, repo string, im registry.Image, byDigest map[string]registry.Image) (int64, error) {
	children, err := s.childDigests(ctx, repo, im)
	if err != nil || !isIndex(im) {
		return im.ImageSize, err
	}
	var largest int64
	for _, d := range children {
		largest = max(largest, byDigest[d].ImageSize)
	}
	return largest, nil
}

// findImage finds the image an identifier names; code is ECR's failure
// code when it names none.
func findImage(images []registry.Image, id ecrwire.ImageIdentifier) (img registry.Image, code, reason string) {
	if id.ImageDigest == "" && id.ImageTag == "" {
		return img, "MissingDigestAndTag", "Invalid request parameters: both tag and digest cannot be null"
	}
	if id.ImageDigest != "" {
		if _, err := digest.Parse(id.ImageDigest); err != nil {
			return img, "InvalidImageDigest", "Invalid image digest"
		}
	}
	if id.ImageTag != "" && registry.ValidateTag(id.ImageTag) != nil {
		return img, "InvalidImageTag", "Invalid image tag"
	}
	for _, im := range images {
		hasTag := id.ImageTag == "" || slices.Contains(im.Tags, id.ImageTag)
		sameDigest := id.ImageDigest == "" || im.Digest.String() == id.ImageDigest
		switch {
		case hasTag && sameDigest:
			return im, "", ""
		case id.ImageTag != "" && hasTag && !sameDigest:
			return img, "ImageTagDoesNotMatchDigest", "Invalid request parameters: image tag does not match digest"
		}
	}
	return img, "ImageNotFound", "Requested image not found"
}

// describeID renders an image identifier as ECR does in messages.
func describeID(id ecrwire.ImageIdentifier) string {
	d, t := "null", "null"
	if id.ImageDigest != "" {
		d = "'" + id.ImageDigest + "'"
	}
	if id.ImageTag != "" {
		t = "'" + id.ImageTag + "'"
	}
	return fmt.Sprintf("{imageDigest:%s, imageTag:%s}", d, t)
}

// matchesTagStatus applies a tagStatus filter; an empty one selects all.
func matchesTagStatus(status string, tagged bool) bool {
	switch status {
	case tagStatusTagged:
		return tagged
	case tagStatusUntagged:
		return !tagged
	}
	return true
}

// ListImages lists image IDs: one per tag, and the digest alone for untagged images.
func (s *Service) ListImages(ctx context.Context, in *ecrwire.ListImagesRequest) (*ecrwire.ListImagesResponse, error) {
	_, images, err := s.repoImages(ctx, in.RegistryId, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	var tagStatus, imageStatus string
	if in.Filter != nil {
		tagStatus, imageStatus = in.Filter.TagStatus, in.Filter.ImageStatus
	}
	ids := []ecrwire.ImageIdentifier{}
	for _, im := range images {
		if !matchesTagStatus(tagStatus, len(im.Tags) > 0) || !isActiveStatus(imageStatus) {
			continue
		}
		if len(im.Tags) == 0 {
			ids = append(ids, ecrwire.ImageIdentifier{ImageDigest: im.Digest.String()})
		}
		for _, t := range sortedTags(im.Tags) {
			ids = append(ids, ecrwire.ImageIdentifier{ImageDigest: im.Digest.String(), ImageTag: t})
		}
	}
	key := func(id ecrwire.ImageIdentifier) string { return id.ImageDigest + "/" + id.ImageTag }
	sort.Slice(ids, func(i, j int) bool { return key(ids[i]) < key(ids[j]) })
	page, next, err := protocol.Page(ids, in.NextToken, maxResults(in.MaxResults, 100), key, "InvalidParameterException")
	if err != nil {
		return nil, err
	}
	return &ecrwire.ListImagesResponse{ImageIds: page, NextToken: next}, nil
}

// DescribeImages describes images: the named ones, or every image matching the filter.
func (s *Service) DescribeImages(ctx context.Context, in *ecrwire.DescribeImagesRequest) (*ecrwire.DescribeImagesResponse, error) {
	if len(in.ImageIds) > 0 && (in.NextToken != "" || in.MaxResults != nil) {
		return nil, invalidParameter("Invalid parameter: maxResults and nextToken cannot be used with imageIds")
	}
	repo, images, err := s.repoImages(ctx, in.RegistryId, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	records, err := s.imageRecords(in.RepositoryName)
	if err != nil {
		return nil, serverException(err)
	}
	var selected []registry.Image
	if len(in.ImageIds) > 0 {
		if selected, err = namedImages(repo, images, in.ImageIds); err != nil {
			return nil, err
		}
	} else {
		selected = filterImages(images, in.Filter)
	}
	byDigest := make(map[string]registry.Image, len(images))
	for _, im := range images {
		byDigest[im.Digest.String()] = im
	}
	details := make([]ecrwire.ImageDetail, 0, len(selected))
	for _, im := range selected {
		size, err := s.imageSize(ctx, in.RepositoryName, im, byDigest)
		if err != nil {
			return nil, apiError(err)
		}
		details = append(details, imageDetail(repo, im, size, records[im.Digest.String()]))
	}
	if len(in.ImageIds) > 0 {
		return &ecrwire.DescribeImagesResponse{ImageDetails: details}, nil
	}
	page, next, err := protocol.Page(details, in.NextToken, maxResults(in.MaxResults, 100), func(d ecrwire.ImageDetail) string { return d.ImageDigest }, "InvalidParameterException")
	if err != nil {
		return nil, err
	}
	return &ecrwire.DescribeImagesResponse{ImageDetails: page, NextToken: next}, nil
}

// namedImages finds every image ids names, in order; ImageNotFoundException
// for the first that names none.
func namedImages(repo repoRecord, images []registry.Image, ids []ecrwire.ImageIdentifier) ([]registry.Image, error) {
	out := make([]registry.Image, 0, len(ids))
	for _, id := range ids {
		im, code, _ := findImage(images, id)
		if code != "" {
			return nil, imageNotFound("The image with imageId %s does not exist within the repository with name '%s' in the registry with id '%s'",
				describeID(id), repo.Repository.RepositoryName, repo.Account)
		}
		out = append(out, im)
	}
	return out, nil
}

// filterImages applies DescribeImages' filter, sorted by digest for paging.
// kumo's images are all ACTIVE: an ARCHIVED or ACTIVATING filter selects none.
func filterImages(images []registry.Image, f *ecrwire.DescribeImagesFilter) []registry.Image {
	var tagStatus, imageStatus string
	if f != nil {
		tagStatus, imageStatus = f.TagStatus, f.ImageStatus
	}
	out := []registry.Image{}
	for _, im := range images {
		if matchesTagStatus(tagStatus, len(im.Tags) > 0) && isActiveStatus(imageStatus) {
			out = append(out, im)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Digest < out[j].Digest })
	return out
}

// isActiveStatus reports whether an imageStatus filter selects ACTIVE
// images, the only status kumo's images have.
func isActiveStatus(status string) bool {
	return status == "" || status == imageActive || status == tagStatusAny
}

// imageDetail converts a registry image and ECR's record of it.
func imageDetail(repo repoRecord, im registry.Image, size int64, rec imageRecord) ecrwire.ImageDetail {
	d := ecrwire.ImageDetail{
		RegistryId: repo.Account, RepositoryName: repo.Repository.RepositoryName,
		ImageDigest: im.Digest.String(), ImageTags: sortedTags(im.Tags), ImageSizeInBytes: &size,
		ImagePushedAt: protocol.NewTimestamp(im.PushedAt), ImageManifestMediaType: im.MediaType,
		ArtifactMediaType: im.ArtifactType, ImageStatus: imageActive,
	}
	if im.Subject != "" {
		d.SubjectManifestDigest = im.Subject.String()
	}
	if !rec.LastPulledAt.IsZero() {
		d.LastRecordedPullTime = protocol.NewTimestamp(rec.LastPulledAt)
	}
	if sr := rec.Scan; sr != nil {
		d.ImageScanStatus = &ecrwire.ImageScanStatus{Status: sr.Status, Description: sr.Description}
		if sr.Status == scanComplete {
			d.ImageScanFindingsSummary = &ecrwire.ImageScanFindingsSummary{
				ImageScanCompletedAt:         protocol.NewTimestamp(sr.CompletedAt),
				VulnerabilitySourceUpdatedAt: protocol.NewTimestamp(sr.SourceUpdatedAt),
				FindingSeverityCounts:        severityCounts(sr.Findings),
			}
		}
	}
	return d
}

// BatchGetImage returns the manifests of images.
func (s *Service) BatchGetImage(ctx context.Context, in *ecrwire.BatchGetImageRequest) (*ecrwire.BatchGetImageResponse, error) {
	repo, images, err := s.repoImages(ctx, in.RegistryId, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	out := &ecrwire.BatchGetImageResponse{Images: []ecrwire.Image{}, Failures: []ecrwire.ImageFailure{}}
	for _, id := range in.ImageIds {
		im, code, reason := findImage(images, id)
		if code != "" {
			out.Failures = append(out.Failures, ecrwire.ImageFailure{ImageId: &id, FailureCode: code, FailureReason: reason})
			continue
		}
		m, err := s.registry.GetManifest(ctx, in.RepositoryName, im.Digest.String())
		if err != nil {
			return nil, apiError(err)
		}
		out.Images = append(out.Images, ecrwire.Image{
			RegistryId: repo.Account, RepositoryName: in.RepositoryName,
			ImageId:       &ecrwire.ImageIdentifier{ImageDigest: m.Digest.String(), ImageTag: id.ImageTag},
			ImageManifest: string(m.Body), ImageManifestMediaType: m.MediaType,
		})
		s.recordPull(imageKey(in.RepositoryName, m.Digest.String()), s.clock.Now())
	}
	return out, nil
}

// BatchDeleteImage deletes images by digest (with all their tags) or
// removes tags; an image whose last tag is removed is deleted, as ECR does.
func (s *Service) BatchDeleteImage(ctx context.Context, in *ecrwire.BatchDeleteImageRequest) (*ecrwire.BatchDeleteImageResponse, error) {
	if _, err := s.viewRepo(ctx, in.RegistryId, in.RepositoryName); err != nil {
		return nil, err
	}
	out := &ecrwire.BatchDeleteImageResponse{ImageIds: []ecrwire.ImageIdentifier{}, Failures: []ecrwire.ImageFailure{}}
	for _, id := range in.ImageIds {
		// Each deletion changes the repository, so every ID is resolved afresh.
		images, err := s.images(ctx, in.RepositoryName)
		if err != nil {
			return nil, apiError(err)
		}
		im, code, reason := findImage(images, id)
		if code == "" {
			code, reason, err = s.checkNotInIndex(ctx, in.RepositoryName, images, im, id)
			if err != nil {
				return nil, apiError(err)
			}
		}
		if code != "" {
			out.Failures = append(out.Failures, ecrwire.ImageFailure{ImageId: &id, FailureCode: code, FailureReason: reason})
			continue
		}
		deleted, err := s.deleteImageID(ctx, in.RepositoryName, im, id)
		if err != nil {
			return nil, apiError(err)
		}
		out.ImageIds = append(out.ImageIds, deleted...)
	}
	return out, nil
}

// checkNotInIndex refuses to delete an image (not just one of several
// tags) that an index of the repository refers to, as ECR does.
func (s *Service) checkNotInIndex(ctx context.Context, repo string, images []registry.Image, im registry.Image, id ecrwire.ImageIdentifier) (code, reason string, err error) {
	if id.ImageDigest == "" && len(im.Tags) > 1 {
		return "", "", nil
	}
	children, err := s.indexChildren(ctx, repo, images)
	if err != nil || !children[im.Digest.String()] {
		return "", "", err
	}
	return "ImageReferencedByManifestList", "Requested image is referenced by a manifest list", nil
}

// deleteImageID deletes what id names of image im and returns the IDs deleted.
func (s *Service) deleteImageID(ctx context.Context, repo string, im registry.Image, id ecrwire.ImageIdentifier) ([]ecrwire.ImageIdentifier, error) {
	d := im.Digest.String()
	if id.ImageDigest == "" && len(im.Tags) > 1 {
		err := s.registry.DeleteManifest(ctx, repo, id.ImageTag)
		return []ecrwire.ImageIdentifier{{ImageDigest: d, ImageTag: id.ImageTag}}, err
	}
	if err := s.registry.DeleteManifest(ctx, repo, d); err != nil {
		return nil, err
	}
	if len(im.Tags) == 0 {
		return []ecrwire.ImageIdentifier{{ImageDigest: d}}, nil
	}
	var ids []ecrwire.ImageIdentifier
	for _, t := range sortedTags(im.Tags) {
		ids = append(ids, ecrwire.ImageIdentifier{ImageDigest: d, ImageTag: t})
	}
	return ids, nil
}

// manifestMediaType is the media type a manifest declares in its body.
func manifestMediaType(body []byte) (string, error) {
	var m struct {
		MediaType string `json:"mediaType"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return "", invalidParameter("Invalid parameter at 'ImageManifest' failed to satisfy constraint: 'Invalid JSON syntax'")
	}
	return m.MediaType, nil
}

// PutImage stores a manifest (its layers must be uploaded) and tags it.
func (s *Service) PutImage(ctx context.Context, in *ecrwire.PutImageRequest) (*ecrwire.PutImageResponse, error) {
	repo, err := s.viewRepo(ctx, in.RegistryId, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	body := []byte(in.ImageManifest)
	mediaType := in.ImageManifestMediaType
	if mediaType == "" {
		if mediaType, err = manifestMediaType(body); err != nil {
			return nil, err
		}
	}
	d := digest.Canonical.FromBytes(body)
	if in.ImageDigest != "" {
		want, err := digest.Parse(in.ImageDigest)
		if err != nil {
			return nil, invalidParameter("Invalid parameter at 'imageDigest' failed to satisfy constraint: 'Invalid digest %s'", in.ImageDigest)
		}
		if d = want.Algorithm().FromBytes(body); d != want {
			return nil, protocol.ClientError("ImageDigestDoesNotMatchException", "Provided digest %s does not match the digest of the manifest %s", want, d)
		}
	}
	if err := s.checkNotPushed(ctx, repo, d, in.ImageTag); err != nil {
		return nil, err
	}
	ref, tags := d.String(), []string{}
	if in.ImageTag != "" {
		tags = append(tags, in.ImageTag)
	}
	if _, err := s.registry.PutManifest(ctx, in.RepositoryName, ref, mediaType, body, tags...); err != nil {
		return nil, putImageError(err, mediaType)
	}
	return &ecrwire.PutImageResponse{Image: &ecrwire.Image{
		RegistryId: repo.Account, RepositoryName: in.RepositoryName,
		ImageId:       &ecrwire.ImageIdentifier{ImageDigest: d.String(), ImageTag: in.ImageTag},
		ImageManifest: in.ImageManifest, ImageManifestMediaType: mediaType,
	}}, nil
}

// putImageError maps a registry error of PutImage: an index refers to
// manifests, not layers, so what it misses are referenced images.
func putImageError(err error, mediaType string) error {
	var re *registry.Error
	if errors.As(err, &re) && re.Code == registry.CodeManifestBlobUnknown && isIndexMediaType(mediaType) {
		return protocol.ClientError("ReferencedImagesNotFoundException", "%s", re.Message)
	}
	return apiError(err)
}

// checkNotPushed answers ImageAlreadyExistsException when the push would
// change nothing: the tag already names d, or d is stored and no tag is given.
func (s *Service) checkNotPushed(ctx context.Context, repo repoRecord, d digest.Digest, tag string) error {
	ref := d.String()
	if tag != "" {
		ref = tag
	}
	im, err := s.registry.Image(ctx, repo.Repository.RepositoryName, ref)
	if err != nil || im.Digest != d {
		return nil
	}
	what := fmt.Sprintf("Image with digest '%s'", d)
	if tag != "" {
		what += fmt.Sprintf(" and tag '%s'", tag)
	}
	return protocol.ClientError("ImageAlreadyExistsException", "%s already exists in the repository with name '%s' in registry with id '%s'",
		what, repo.Repository.RepositoryName, repo.Account)
}

// ListImageReferrers lists the artifacts whose subject is an image, from
// the registry's referrers index.
func (s *Service) ListImageReferrers(ctx context.Context, in *ecrwire.ListImageReferrersRequest) (*ecrwire.ListImageReferrersResponse, error) {
	if _, err := s.viewRepo(ctx, in.RegistryId, in.RepositoryName); err != nil {
		return nil, err
	}
	subject, err := digest.Parse(in.SubjectId.ImageDigest)
	if err != nil {
		return nil, invalidParameter("Invalid parameter at 'subjectId.imageDigest' failed to satisfy constraint: 'Invalid digest %s'", in.SubjectId.ImageDigest)
	}
	if in.Filter != nil && !isActiveStatus(in.Filter.ArtifactStatus) {
		return &ecrwire.ListImageReferrersResponse{Referrers: []ecrwire.ImageReferrer{}}, nil // kumo never archives
	}
	descs, err := s.registry.Referrers(ctx, in.RepositoryName, subject, "")
	if err != nil && !errors.Is(err, registry.ErrNameUnknown) {
		return nil, apiError(err)
	}
	refs := []ecrwire.ImageReferrer{}
	for _, d := range descs {
		if in.Filter != nil && len(in.Filter.ArtifactTypes) > 0 && !slices.Contains(in.Filter.ArtifactTypes, d.ArtifactType) {
			continue
		}
		size := d.Size
		refs = append(refs, ecrwire.ImageReferrer{
			Digest: d.Digest.String(), MediaType: d.MediaType, ArtifactType: d.ArtifactType,
			Size: &size, Annotations: d.Annotations, ArtifactStatus: imageActive,
		})
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].Digest < refs[j].Digest })
	page, next, err := protocol.Page(refs, in.NextToken, maxResults(in.MaxResults, 20), func(r ecrwire.ImageReferrer) string { return r.Digest }, "InvalidParameterException")
	if err != nil {
		return nil, err
	}
	return &ecrwire.ListImageReferrersResponse{Referrers: page, NextToken: next}, nil
}
