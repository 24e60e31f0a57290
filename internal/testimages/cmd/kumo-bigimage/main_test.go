package main

import (
	"archive/tar"
	"compress/gzip"
	"io"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// readImage opens the one image of the layout in dir.
func readImage(t *testing.T, dir string) v1.Image {
	t.Helper()
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Manifests) != 1 || m.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "latest" {
		t.Fatalf("index manifests: %+v", m.Manifests)
	}
	img, err := idx.Image(m.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestWriteImageIsAValidImage checks digests, sizes, diff IDs and the
// layer's contents with go-containerregistry's validator and by hand.
func TestWriteImageIsAValidImage(t *testing.T) {
	t.Parallel()
	const size = 3<<20 + 17 // not a multiple of any buffer
	dir := t.TempDir()
	layer, err := writeImage(dir, size, 7)
	if err != nil {
		t.Fatal(err)
	}
	img := readImage(t, dir)
	if err := validate.Image(img); err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	if len(layers) != 1 {
		t.Fatalf("%d layers, want 1", len(layers))
	}
	if d, _ := layers[0].Digest(); d.String() != layer.Digest {
		t.Errorf("layer digest %s, printed %s", d, layer.Digest)
	}
	if layer.Size < size {
		t.Errorf("layer of %d bytes for %d random bytes: the content compressed", layer.Size, size)
	}
	rc, err := layers[0].Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	gz, err := gzip.NewReader(rc)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	hdr, err := tr.Next()
	if err != nil || hdr.Name != "random.bin" || hdr.Size != size {
		t.Fatalf("tar entry %+v, %v", hdr, err)
	}
	if n, err := io.Copy(io.Discard, tr); err != nil || n != size {
		t.Fatalf("read %d bytes of random.bin: %v", n, err)
	}
	if _, err := tr.Next(); err != io.EOF {
		t.Fatalf("more than one tar entry: %v", err)
	}
}

// TestWriteImageSeeds checks that a seed always gives the same layer and
// another seed another one.
func TestWriteImageSeeds(t *testing.T) {
	t.Parallel()
	layerOf := func(seed uint64) descriptor {
		d, err := writeImage(t.TempDir(), 1<<20, seed)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	tests := []struct {
		name      string
		a, b      uint64
		wantEqual bool
	}{
		{name: "same seed", a: 1, b: 1, wantEqual: true},
		{name: "other seed", a: 1, b: 2, wantEqual: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := layerOf(tt.a), layerOf(tt.b)
			if (a.Digest == b.Digest) != tt.wantEqual {
				t.Errorf("seeds %d and %d: digests %s and %s", tt.a, tt.b, a.Digest, b.Digest)
			}
		})
	}
}

// TestRewriteKeepsOneImage checks that writing again into a layout leaves
// one image in its index, the new one.
func TestRewriteKeepsOneImage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := writeImage(dir, 1<<10, 1); err != nil {
		t.Fatal(err)
	}
	second, err := writeImage(dir, 1<<10, 2)
	if err != nil {
		t.Fatal(err)
	}
	layers, _ := readImage(t, dir).Layers()
	if d, _ := layers[0].Digest(); d.String() != second.Digest {
		t.Errorf("layout image has layer %s, want %s", d, second.Digest)
	}
}
