package ecr

import (
	"bytes"
	"context"
	"errors"

	"github.com/kumo-project/kumo/internal/protocol"
	"github.com/kumo-project/kumo/internal/registry"
	"github.com/kumo-project/kumo/internal/wire/ecrwire"
	"github.com/opencontainers/go-digest"
)

// layerPartSize is the part size InitiateLayerUpload suggests, as ECR does.
const layerPartSize = 10 << 20

// BatchCheckLayerAvailability reports which layers the repository holds.
func (s *Service) BatchCheckLayerAvailability(ctx context.Context, in *ecrwire.BatchCheckLayerAvailabilityRequest) (*ecrwire.BatchCheckLayerAvailabilityResponse, error) {
	if _, err := s.viewRepo(ctx, in.RegistryId, in.RepositoryName); err != nil {
		return nil, err
	}
	out := &ecrwire.BatchCheckLayerAvailabilityResponse{Layers: []ecrwire.Layer{}, Failures: []ecrwire.LayerFailure{}}
	for _, ld := range in.LayerDigests {
		d, err := digest.Parse(ld)
		if err != nil {
			out.Failures = append(out.Failures, ecrwire.LayerFailure{LayerDigest: ld, FailureCode: "InvalidLayerDigest", FailureReason: "Invalid layer digest"})
			continue
		}
		size, err := s.registry.BlobSize(ctx, in.RepositoryName, d)
		if errors.Is(err, registry.ErrBlobUnknown) {
			out.Failures = append(out.Failures, ecrwire.LayerFailure{LayerDigest: ld, FailureCode: "MissingLayerDigest", FailureReason: "Could not find layer"})
			continue
		}
		if err != nil {
			return nil, apiError(err)
		}
		out.Layers = append(out.Layers, ecrwire.Layer{LayerDigest: ld, LayerAvailability: "AVAILABLE", LayerSize: &size, MediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip"})
	}
	return out, nil
}

// InitiateLayerUpload opens an upload in the registry.
func (s *Service) InitiateLayerUpload(ctx context.Context, in *ecrwire.InitiateLayerUploadRequest) (*ecrwire.InitiateLayerUploadResponse, error) {
	if _, err := s.viewRepo(ctx, in.RegistryId, in.RepositoryName); err != nil {
		return nil, err
	}
	id, err := s.registry.StartUpload(ctx, in.RepositoryName)
	if err != nil {
		return nil, apiError(err)
	}
	size := int64(layerPartSize)
	return &ecrwire.InitiateLayerUploadResponse{UploadId: id, PartSize: &size}, nil
}

// UploadLayerPart appends a part; parts must arrive in order.
func (s *Service) UploadLayerPart(ctx context.Context, in *ecrwire.UploadLayerPartRequest) (*ecrwire.UploadLayerPartResponse, error) {
	if _, err := s.viewRepo(ctx, in.RegistryId, in.RepositoryName); err != nil {
		return nil, err
	}
	first, last := *in.PartFirstByte, *in.PartLastByte
	if last-first+1 != int64(len(in.LayerPartBlob)) {
		return nil, protocol.ClientError("InvalidLayerPartException", "The layer part size %d does not match the byte range %d-%d", len(in.LayerPartBlob), first, last)
	}
	size, err := s.registry.AppendUpload(ctx, in.RepositoryName, in.UploadId, first, bytes.NewReader(in.LayerPartBlob))
	if err != nil {
		return nil, apiError(err)
	}
	received := size - 1
	return &ecrwire.UploadLayerPartResponse{RegistryId: scopeOf(ctx).account, RepositoryName: in.RepositoryName, UploadId: in.UploadId, LastByteReceived: &received}, nil
}

// CompleteLayerUpload verifies the upload against its digest and stores the layer.
func (s *Service) CompleteLayerUpload(ctx context.Context, in *ecrwire.CompleteLayerUploadRequest) (*ecrwire.CompleteLayerUploadResponse, error) {
	if _, err := s.viewRepo(ctx, in.RegistryId, in.RepositoryName); err != nil {
		return nil, err
	}
	if len(in.LayerDigests) != 1 {
		return nil, invalidParameter("Invalid parameter at 'layerDigests': exactly one layer digest is supported")
	}
	d, err := digest.Parse(in.LayerDigests[0])
	if err != nil {
		return nil, protocol.ClientError("InvalidLayerException", "Invalid layer digest %q", in.LayerDigests[0])
	}
	size, err := s.registry.UploadSize(ctx, in.RepositoryName, in.UploadId)
	if err != nil {
		return nil, apiError(err)
	}
	if size == 0 {
		return nil, protocol.ClientError("EmptyUploadException", "The upload with id '%s' contains no data", in.UploadId)
	}
	if _, err := s.registry.BlobSize(ctx, in.RepositoryName, d); err == nil {
		s.registry.CancelUpload(ctx, in.RepositoryName, in.UploadId)
		return nil, protocol.ClientError("LayerAlreadyExistsException", "The layer '%s' already exists in the repository with name '%s'", d, in.RepositoryName)
	}
	if _, err := s.registry.CompleteUpload(ctx, in.RepositoryName, in.UploadId, d); err != nil {
		if errors.Is(err, registry.ErrDigestInvalid) {
			return nil, protocol.ClientError("InvalidLayerException", "The calculated digest of the upload does not match %s", d)
		}
		return nil, apiError(err)
	}
	return &ecrwire.CompleteLayerUploadResponse{RegistryId: scopeOf(ctx).account, RepositoryName: in.RepositoryName, UploadId: in.UploadId, LayerDigest: d.String()}, nil
}

// GetDownloadUrlForLayer returns the registry URL of a layer blob.
func (s *Service) GetDownloadUrlForLayer(ctx context.Context, in *ecrwire.GetDownloadUrlForLayerRequest) (*ecrwire.GetDownloadUrlForLayerResponse, error) {
	if _, err := s.viewRepo(ctx, in.RegistryId, in.RepositoryName); err != nil {
		return nil, err
	}
	d, err := digest.Parse(in.LayerDigest)
	if err != nil {
		return nil, invalidParameter("Invalid parameter at 'layerDigest' failed to satisfy constraint: 'Invalid digest %s'", in.LayerDigest)
	}
	if _, err := s.registry.BlobSize(ctx, in.RepositoryName, d); err != nil {
		if errors.Is(err, registry.ErrBlobUnknown) {
			return nil, protocol.ClientError("LayersNotFoundException", "The layer with digest '%s' does not exist in the repository with name '%s'", d, in.RepositoryName)
		}
		return nil, apiError(err)
	}
	url := "http://" + s.cfg.RegistryHost + "/v2/" + in.RepositoryName + "/blobs/" + d.String()
	return &ecrwire.GetDownloadUrlForLayerResponse{DownloadUrl: url, LayerDigest: d.String()}, nil
}
