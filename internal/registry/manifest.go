package registry

import (
	"bytes"
	"encoding/json"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Manifest media types the registry accepts.
const (
	MediaTypeOCIManifest        = ocispec.MediaTypeImageManifest
	MediaTypeOCIIndex           = ocispec.MediaTypeImageIndex
	MediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
)

// MaxManifestSize is the largest manifest accepted (4 MiB, as the spec suggests).
const MaxManifestSize = 4 << 20

// isIndexType reports whether mt lists other manifests.
func isIndexType(mt string) bool {
	return mt == MediaTypeOCIIndex || mt == MediaTypeDockerManifestList
}

// isImageType reports whether mt is an image manifest (config + layers).
func isImageType(mt string) bool {
	return mt == MediaTypeOCIManifest || mt == MediaTypeDockerManifest
}

// isNonDistributable reports whether a layer may live outside the
// registry (OCI non-distributable and Docker foreign layers), so a
// manifest may reference it without the blob being pushed.
func isNonDistributable(mt string) bool {
	return strings.Contains(mt, ".nondistributable.") || strings.Contains(mt, ".foreign.")
}

// rawManifest holds the members of image manifests and indexes alike.
type rawManifest struct {
	SchemaVersion int                  `json:"schemaVersion"`
	MediaType     string               `json:"mediaType"`
	ArtifactType  string               `json:"artifactType"`
	Config        *ocispec.Descriptor  `json:"config"`
	Layers        []ocispec.Descriptor `json:"layers"`
	Manifests     []ocispec.Descriptor `json:"manifests"`
	Subject       *ocispec.Descriptor  `json:"subject"`
	Annotations   map[string]string    `json:"annotations"`
}

// parsedManifest is a syntactically valid manifest and what it references.
type parsedManifest struct {
	MediaType    string
	ArtifactType string
	Config       *ocispec.Descriptor
	Layers       []ocispec.Descriptor
	Manifests    []ocispec.Descriptor
	Subject      *ocispec.Descriptor
	Annotations  map[string]string
}

// parseManifest checks body as a manifest sent with contentType and
// returns its parts. The media type comes from the body's mediaType member
// or, when absent, from contentType; the two must agree when both are set.
func parseManifest(body []byte, contentType string) (*parsedManifest, error) {
	if len(body) > MaxManifestSize {
		return nil, &Error{Code: CodeSizeInvalid, Message: "manifest exceeds 4 MiB", Status: 413}
	}
	var raw rawManifest
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&raw); err != nil {
		return nil, newError(CodeManifestInvalid, "manifest is not valid JSON: %v", err)
	}
	if dec.More() {
		return nil, newError(CodeManifestInvalid, "manifest has trailing data")
	}
	ct := contentType
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = strings.TrimSpace(ct[:i])
	}
	mt := raw.MediaType
	switch {
	case mt == "" && (isImageType(ct) || isIndexType(ct)):
		mt = ct
	case mt == "" && raw.Manifests != nil:
		mt = MediaTypeOCIIndex
	case mt == "" && raw.Config != nil:
		mt = MediaTypeOCIManifest
	case mt != "" && ct != "" && (isImageType(ct) || isIndexType(ct)) && ct != mt:
		return nil, newError(CodeManifestInvalid, "content type %q does not match manifest media type %q", ct, mt)
	}
	if !isImageType(mt) && !isIndexType(mt) {
		return nil, newError(CodeManifestInvalid, "unsupported manifest media type %q", mt)
	}
	if raw.SchemaVersion != 2 {
		return nil, newError(CodeManifestInvalid, "schemaVersion must be 2, got %d", raw.SchemaVersion)
	}
	p := &parsedManifest{MediaType: mt, ArtifactType: raw.ArtifactType, Subject: raw.Subject, Annotations: raw.Annotations}
	if isImageType(mt) {
		if raw.Config == nil {
			return nil, newError(CodeManifestInvalid, "image manifest has no config")
		}
		if raw.Manifests != nil {
			return nil, newError(CodeManifestInvalid, "image manifest must not list manifests")
		}
		p.Config, p.Layers = raw.Config, raw.Layers
	} else {
		if raw.Config != nil || raw.Layers != nil {
			return nil, newError(CodeManifestInvalid, "index must not have config or layers")
		}
		p.Manifests = raw.Manifests
	}
	for _, d := range p.descriptors() {
		if err := checkDescriptor(d); err != nil {
			return nil, err
		}
	}
	if p.Subject != nil {
		if err := checkDescriptor(*p.Subject); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// descriptors returns everything the manifest needs stored: config,
// layers, or child manifests.
func (p *parsedManifest) descriptors() []ocispec.Descriptor {
	var out []ocispec.Descriptor
	if p.Config != nil {
		out = append(out, *p.Config)
	}
	out = append(out, p.Layers...)
	return append(out, p.Manifests...)
}

// checkDescriptor validates a descriptor's digest and size, and its
// embedded data against both when present.
func checkDescriptor(d ocispec.Descriptor) error {
	if err := d.Digest.Validate(); err != nil {
		return newError(CodeManifestInvalid, "descriptor digest %q: %v", d.Digest, err)
	}
	if d.Size < 0 {
		return newError(CodeManifestInvalid, "descriptor %s has negative size", d.Digest)
	}
	if d.Data == nil {
		return nil
	}
	if int64(len(d.Data)) != d.Size || d.Digest.Algorithm().FromBytes(d.Data) != d.Digest {
		return newError(CodeManifestInvalid, "descriptor %s: embedded data does not match its digest and size", d.Digest)
	}
	return nil
}

// artifactTypeOf is the artifact type the referrers API reports: the
// artifactType member, else an image manifest's config media type.
func artifactTypeOf(rec manifestRecord) string {
	if rec.ArtifactType != "" {
		return rec.ArtifactType
	}
	if isImageType(rec.MediaType) {
		return rec.ConfigMediaType
	}
	return ""
}
