package ecr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/kumo-project/kumo/internal/protocol"
	"github.com/kumo-project/kumo/internal/registry"
	"github.com/kumo-project/kumo/internal/store"
	"github.com/kumo-project/kumo/internal/wire/ecrwire"
	"github.com/opencontainers/go-digest"
)

// Scan statuses.
const (
	scanInProgress = "IN_PROGRESS"
	scanComplete   = "COMPLETE"
	scanFailed     = "FAILED"
)

// scanJob is an image waiting for the scan worker.
type scanJob struct {
	repo   string
	digest digest.Digest
}

// queueScan marks an image's scan in progress and hands it to the worker.
// The mark comes first, so the worker's result is never overwritten by it.
func (s *Service) queueScan(repo string, d digest.Digest) {
	key := imageKey(repo, d.String())
	s.editImage(key, func(r *imageRecord) {
		r.Scan = &scanResult{Status: scanInProgress, Description: "The scan is in progress."}
	})
	select {
	case s.scans <- scanJob{repo: repo, digest: d}:
	default:
		s.editImage(key, func(r *imageRecord) {
			r.Scan = &scanResult{Status: scanFailed, Description: "Too many scans are waiting; start the scan again later."}
		})
	}
}

// requeueScans queues the scans a previous run left in progress.
func (s *Service) requeueScans() error {
	var pending []scanJob
	err := s.store.View(func(tx *store.Tx) error {
		return tx.Scan(tableImages, "", "", func(key string, raw []byte) (bool, error) {
			var rec imageRecord
			if err := json.Unmarshal(raw, &rec); err != nil {
				return false, err
			}
			repo, d, _ := strings.Cut(key, imageKeyMarker)
			if rec.Scan != nil && rec.Scan.Status == scanInProgress {
				pending = append(pending, scanJob{repo: repo, digest: digest.Digest(d)})
			}
			return true, nil
		})
	})
	for _, job := range pending {
		s.queueScan(job.repo, job.digest)
	}
	return err
}

// runScans is the scan worker: one image at a time until ctx ends.
func (s *Service) runScans(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case job := <-s.scans:
			res := s.scan(ctx, job)
			s.editImage(imageKey(job.repo, job.digest.String()), func(r *imageRecord) { r.Scan = &res })
		}
	}
}

// scan inventories an image and matches it against the advisories.
func (s *Service) scan(ctx context.Context, job scanJob) scanResult {
	fail := func(err error) scanResult {
		s.log.Warn("ecr: image scan failed", "repository", job.repo, "digest", job.digest, "err", err)
		return scanResult{Status: scanFailed, Description: "The scan failed: " + err.Error(), CompletedAt: s.clock.Now()}
	}
	layers, err := s.imageLayers(ctx, job.repo, job.digest.String(), 0)
	if err != nil {
		return fail(err)
	}
	inv := inventory{}
	for _, l := range layers {
		if err := s.addLayer(ctx, inv, job.repo, l); err != nil {
			return fail(fmt.Errorf("layer %s: %w", l, err))
		}
	}
	db, err := loadAdvisories(s.cfg.AdvisoryDir)
	if err != nil {
		return fail(err)
	}
	return scanResult{
		Status: scanComplete, Description: "The scan was completed successfully.",
		CompletedAt: s.clock.Now(), SourceUpdatedAt: db.UpdatedAt, Findings: db.findings(inv.packages()),
	}
}

// imageLayers lists the layer digests of a manifest, and of every child
// manifest of an index.
func (s *Service) imageLayers(ctx context.Context, repo, ref string, depth int) ([]digest.Digest, error) {
	m, err := s.registry.GetManifest(ctx, repo, ref)
	if err != nil {
		return nil, err
	}
	var body struct {
		Layers    []struct{ Digest digest.Digest } `json:"layers"`
		Manifests []struct{ Digest digest.Digest } `json:"manifests"`
	}
	if err := json.Unmarshal(m.Body, &body); err != nil {
		return nil, err
	}
	var out []digest.Digest
	for _, l := range body.Layers {
		out = append(out, l.Digest)
	}
	for _, c := range body.Manifests {
		if depth > 0 {
			break // an index of indexes is not scanned deeper
		}
		child, err := s.imageLayers(ctx, repo, c.Digest.String(), depth+1)
		if err != nil {
			return nil, err
		}
		out = append(out, child...)
	}
	return out, nil
}

// addLayer reads one layer blob into the inventory; layers the registry
// does not hold (non-distributable ones) are skipped.
func (s *Service) addLayer(ctx context.Context, inv inventory, repo string, d digest.Digest) error {
	f, _, err := s.registry.OpenBlob(ctx, repo, d)
	if err != nil {
		if errors.Is(err, registry.ErrBlobUnknown) {
			return nil
		}
		return err
	}
	defer f.Close()
	return inv.addLayer(f)
}

// findingsPage returns one page of findings. They are kept in severity
// order; a page token is the position of the last finding sent,
// zero-padded so tokens order as positions do.
func findingsPage(all []ecrwire.ImageScanFinding, token string, max int) ([]ecrwire.ImageScanFinding, string, error) {
	positions := make([]string, len(all))
	for i := range positions {
		positions[i] = fmt.Sprintf("%08d", i)
	}
	page, next, err := protocol.Page(positions, token, max, func(p string) string { return p }, "InvalidParameterException")
	if err != nil {
		return nil, "", err
	}
	findings := make([]ecrwire.ImageScanFinding, 0, len(page))
	for _, p := range page {
		i, _ := strconv.Atoi(p)
		findings = append(findings, all[i])
	}
	return findings, next, nil
}

// scannable reports whether an image is a container image (or an index,
// whose children are): artifacts such as signatures and SBOMs are not
// scanned.
func scannable(im registry.Image) bool {
	switch im.ConfigMediaType {
	case "", "application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json":
		return true
	}
	return false
}

// imageOf finds the image an identifier names in a repository of the caller.
func (s *Service) imageOf(ctx context.Context, registryID, repo string, id *ecrwire.ImageIdentifier) (repoRecord, registry.Image, error) {
	rec, images, err := s.repoImages(ctx, registryID, repo)
	if err != nil {
		return rec, registry.Image{}, err
	}
	im, code, _ := findImage(images, *id)
	if code != "" {
		return rec, im, imageNotFound("The image with imageId %s does not exist within the repository with name '%s' in the registry with id '%s'", describeID(*id), repo, rec.Account)
	}
	return rec, im, nil
}

// StartImageScan scans an image; DescribeImageScanFindings shows the result.
func (s *Service) StartImageScan(ctx context.Context, in *ecrwire.StartImageScanRequest) (*ecrwire.StartImageScanResponse, error) {
	rec, im, err := s.imageOf(ctx, in.RegistryId, in.RepositoryName, in.ImageId)
	if err != nil {
		return nil, err
	}
	if !scannable(im) {
		return nil, protocol.ClientError("UnsupportedImageTypeException", "The image is not a container image and cannot be scanned.")
	}
	s.queueScan(in.RepositoryName, im.Digest)
	return &ecrwire.StartImageScanResponse{
		RegistryId: rec.Account, RepositoryName: in.RepositoryName,
		ImageId:         &ecrwire.ImageIdentifier{ImageDigest: im.Digest.String(), ImageTag: in.ImageId.ImageTag},
		ImageScanStatus: &ecrwire.ImageScanStatus{Status: scanInProgress, Description: "The scan is in progress."},
	}, nil
}

// DescribeImageScanFindings returns an image's last scan, findings paged.
func (s *Service) DescribeImageScanFindings(ctx context.Context, in *ecrwire.DescribeImageScanFindingsRequest) (*ecrwire.DescribeImageScanFindingsResponse, error) {
	rec, im, err := s.imageOf(ctx, in.RegistryId, in.RepositoryName, in.ImageId)
	if err != nil {
		return nil, err
	}
	var image imageRecord
	err = s.store.View(func(tx *store.Tx) (err error) {
		image, _, err = store.Get[imageRecord](tx, tableImages, imageKey(in.RepositoryName, im.Digest.String()))
		return err
	})
	if err != nil {
		return nil, serverException(err)
	}
	sr := image.Scan
	if sr == nil {
		return nil, protocol.ClientError("ScanNotFoundException",
			"Image scan does not exist for the image with '%s' in the repository with name '%s' in the registry with id '%s'", describeID(*in.ImageId), in.RepositoryName, rec.Account)
	}
	out := &ecrwire.DescribeImageScanFindingsResponse{
		RegistryId: rec.Account, RepositoryName: in.RepositoryName,
		ImageId:         &ecrwire.ImageIdentifier{ImageDigest: im.Digest.String(), ImageTag: in.ImageId.ImageTag},
		ImageScanStatus: &ecrwire.ImageScanStatus{Status: sr.Status, Description: sr.Description},
	}
	if sr.Status != scanComplete {
		return out, nil
	}
	findings, next, err := findingsPage(sr.Findings, in.NextToken, maxResults(in.MaxResults, 100))
	if err != nil {
		return nil, err
	}
	out.NextToken = next
	out.ImageScanFindings = &ecrwire.ImageScanFindings{
		ImageScanCompletedAt:         protocol.NewTimestamp(sr.CompletedAt),
		VulnerabilitySourceUpdatedAt: protocol.NewTimestamp(sr.SourceUpdatedAt),
		FindingSeverityCounts:        severityCounts(sr.Findings),
		Findings:                     findings,
	}
	return out, nil
}
