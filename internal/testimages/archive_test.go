package testimages

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

func TestWriteOCIArchiveIsALayout(t *testing.T) {
	t.Parallel()
	img := mustImage(t, App)
	var buf bytes.Buffer
	if err := WriteOCIArchive(&buf, img, "kumo/testapp:v1"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	untar(t, &buf, dir)
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Manifests) != 1 {
		t.Fatalf("index has %d manifests, want 1", len(m.Manifests))
	}
	desc := m.Manifests[0]
	if want := mustDigest(t, img); desc.Digest != want {
		t.Errorf("archive holds %s, want %s", desc.Digest, want)
	}
	wantAnnotations := map[string]string{
		"io.containerd.image.name":          "index.docker.io/kumo/testapp:v1",
		"org.opencontainers.image.ref.name": "v1",
	}
	for k, want := range wantAnnotations {
		if got := desc.Annotations[k]; got != want {
			t.Errorf("annotation %s = %q, want %q", k, got, want)
		}
	}
	got, err := idx.Image(desc.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(got); err != nil {
		t.Errorf("image in archive is invalid: %v", err)
	}
}

func TestWriteOCIArchiveRejectsBadRef(t *testing.T) {
	t.Parallel()
	if err := WriteOCIArchive(io.Discard, mustImage(t, Busybox), "UPPER/case"); err == nil {
		t.Error("WriteOCIArchive accepted an invalid reference")
	}
}

func TestSkopeoReadsOCIArchive(t *testing.T) {
	t.Parallel()
	skopeo, err := exec.LookPath("skopeo")
	if err != nil {
		t.Skip("skopeo not installed")
	}
	img := mustImage(t, Busybox)
	archive := filepath.Join(t.TempDir(), "busybox.tar")
	f, err := os.Create(archive)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteOCIArchive(f, img, "kumo/busybox:latest"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	dest := StartRegistry(t) + "/from/archive:1"
	cmd := exec.CommandContext(t.Context(), skopeo, "--insecure-policy", "copy",
		"oci-archive:"+archive, "docker://"+dest, "--dest-tls-verify=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("skopeo copy: %v\n%s", err, out)
	}
	if got, want := mustDigest(t, pull(t, dest)), mustDigest(t, img); got != want {
		t.Errorf("copied digest %s, want %s", got, want)
	}
}

// untar extracts the directories and regular files of a tar stream.
func untar(t *testing.T, r io.Reader, dir string) {
	t.Helper()
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		target := filepath.Join(dir, filepath.FromSlash(hdr.Name))
		switch hdr.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(target, 0o755)
		case tar.TypeReg:
			var data []byte
			if data, err = io.ReadAll(tr); err == nil {
				err = os.WriteFile(target, data, 0o644)
			}
		default:
			t.Fatalf("%s: unexpected tar type %c", hdr.Name, hdr.Typeflag)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}
