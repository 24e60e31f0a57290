package testimages

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"io"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// WriteOCIArchive writes img to w as an OCI archive: a tar of an OCI image
// layout, the format containerd's client Import and "ctr images import"
// load without a registry, and skopeo reads as "oci-archive:FILE". The index
// names the image ref (e.g. "docker.io/kumo/testapp:latest") in both the
// containerd ("io.containerd.image.name") and OCI
// ("org.opencontainers.image.ref.name", the tag) annotations.
func WriteOCIArchive(w io.Writer, img v1.Image, ref string) error {
	tag, err := name.NewTag(ref)
	if err != nil {
		return fmt.Errorf("oci archive: %w", err)
	}
	manifest, err := img.RawManifest()
	if err != nil {
		return err
	}
	desc, err := manifestDescriptor(img, manifest)
	if err != nil {
		return err
	}
	desc.Annotations = map[string]string{
		"io.containerd.image.name":          tag.Name(),
		"org.opencontainers.image.ref.name": tag.TagStr(),
	}
	index, err := json.Marshal(v1.IndexManifest{
		SchemaVersion: 2,
		MediaType:     types.OCIImageIndex,
		Manifests:     []v1.Descriptor{desc},
	})
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	files := []entry{
		file("oci-layout", 0o644, []byte(`{"imageLayoutVersion":"1.0.0"}`)),
		file("index.json", 0o644, index),
		dir("blobs/", 0o755),
		dir("blobs/sha256/", 0o755),
		file(blobPath(desc.Digest), 0o644, manifest),
	}
	for _, e := range files {
		if err := writeEntry(tw, e); err != nil {
			return err
		}
	}
	if err := writeConfigAndLayers(tw, img); err != nil {
		return err
	}
	return tw.Close()
}

// manifestDescriptor describes img's manifest for an index.
func manifestDescriptor(img v1.Image, manifest []byte) (v1.Descriptor, error) {
	digest, err := img.Digest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	mediaType, err := img.MediaType()
	if err != nil {
		return v1.Descriptor{}, err
	}
	return v1.Descriptor{MediaType: mediaType, Size: int64(len(manifest)), Digest: digest}, nil
}

// writeConfigAndLayers adds the config blob and each distinct compressed
// layer blob to tw.
func writeConfigAndLayers(tw *tar.Writer, img v1.Image) error {
	configName, err := img.ConfigName()
	if err != nil {
		return err
	}
	config, err := img.RawConfigFile()
	if err != nil {
		return err
	}
	if err := writeEntry(tw, file(blobPath(configName), 0o644, config)); err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	seen := map[v1.Hash]bool{configName: true}
	for _, l := range layers {
		digest, err := l.Digest()
		if err != nil {
			return err
		}
		if seen[digest] {
			continue
		}
		seen[digest] = true
		if err := writeLayerBlob(tw, l, digest); err != nil {
			return err
		}
	}
	return nil
}

func writeLayerBlob(tw *tar.Writer, l v1.Layer, digest v1.Hash) error {
	size, err := l.Size()
	if err != nil {
		return err
	}
	rc, err := l.Compressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	hdr := &tar.Header{Name: blobPath(digest), Typeflag: tar.TypeReg, Mode: 0o644, Size: size, ModTime: buildTime}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if _, err := io.Copy(tw, rc); err != nil {
		return fmt.Errorf("layer %s: %w", digest, err)
	}
	return nil
}

func blobPath(h v1.Hash) string { return "blobs/" + h.Algorithm + "/" + h.Hex }
