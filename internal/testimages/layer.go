package testimages

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// buildTime is the timestamp of every file, layer and image config, so the
// same inputs always give the same digests.
var buildTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// entry is one file, directory or symlink in a layer.
type entry struct {
	name     string // path without a leading slash, e.g. "bin/sh"
	typ      byte   // tar.TypeReg, tar.TypeDir or tar.TypeSymlink
	mode     int64  // permission bits, including sticky (01000)
	data     []byte // contents of a regular file
	linkname string // target of a symlink
}

func dir(name string, mode int64) entry { return entry{name: name, typ: tar.TypeDir, mode: mode} }

func file(name string, mode int64, data []byte) entry {
	return entry{name: name, typ: tar.TypeReg, mode: mode, data: data}
}

func symlink(name, target string) entry {
	return entry{name: name, typ: tar.TypeSymlink, mode: 0o777, linkname: target}
}

// newLayer returns a gzip-compressed OCI layer holding entries in the given
// order, all owned by root and dated buildTime.
func newLayer(entries []entry) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		if err := writeEntry(tw, e); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	tarBytes := buf.Bytes()
	opener := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(tarBytes)), nil }
	return tarball.LayerFromOpener(opener, tarball.WithMediaType(types.OCILayer), tarball.WithCompressedCaching)
}

// writeEntry adds e to tw, owned by root and dated buildTime.
func writeEntry(tw *tar.Writer, e entry) error {
	hdr := &tar.Header{
		Name:     e.name,
		Typeflag: e.typ,
		Mode:     e.mode,
		Size:     int64(len(e.data)),
		Linkname: e.linkname,
		ModTime:  buildTime,
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("tar entry %s: %w", e.name, err)
	}
	if _, err := tw.Write(e.data); err != nil {
		return fmt.Errorf("tar entry %s: %w", e.name, err)
	}
	return nil
}

// emptyOCIImage is an image with no layers, OCI media types, and a config
// for linux/amd64.
func emptyOCIImage() (v1.Image, error) {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	return withConfig(img, func(c *v1.ConfigFile) {
		c.OS = "linux"
		c.Architecture = "amd64"
	})
}

// appendLayer adds layer on top of base with a history entry saying what it
// holds.
func appendLayer(base v1.Image, layer v1.Layer, createdBy string) (v1.Image, error) {
	return mutate.Append(base, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History: v1.History{
			Created:   v1.Time{Time: buildTime},
			CreatedBy: createdBy,
			Comment:   "kumo testimages",
		},
	})
}

// withConfig returns img with its config file changed by edit and its
// creation time set to buildTime.
func withConfig(img v1.Image, edit func(*v1.ConfigFile)) (v1.Image, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	edit(cf)
	cf.Created = v1.Time{Time: buildTime}
	return mutate.ConfigFile(img, cf)
}
