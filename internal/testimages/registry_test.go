package testimages

import (
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// pull fetches ref from a registry and checks every blob against its digest.
func pull(t *testing.T, ref string) v1.Image {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(r, remote.WithContext(t.Context()))
	if err != nil {
		t.Fatalf("pull %s: %v", ref, err)
	}
	if err := validate.Image(img); err != nil {
		t.Fatalf("pulled %s is invalid: %v", ref, err)
	}
	return img
}

func TestPushFixturesAndPullBack(t *testing.T) {
	t.Parallel()
	host := StartRegistry(t)
	if !strings.HasPrefix(host, "127.0.0.1:") {
		t.Errorf("registry host %q, want 127.0.0.1:PORT", host)
	}
	fixtures := PushFixtures(t, host)
	tests := []struct {
		name      string
		build     func() (v1.Image, error)
		pushedRef string
		tagRef    string
	}{
		{"busybox", Busybox, fixtures.Busybox, host + "/kumo/busybox:latest"},
		{"testapp", App, fixtures.App, host + "/kumo/testapp:latest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			want := mustDigest(t, mustImage(t, tt.build))
			wantRef := strings.TrimSuffix(tt.tagRef, ":latest") + "@" + want.String()
			if tt.pushedRef != wantRef {
				t.Errorf("pushed ref %q, want %q", tt.pushedRef, wantRef)
			}
			for _, ref := range []string{tt.pushedRef, tt.tagRef} {
				if got := mustDigest(t, pull(t, ref)); got != want {
					t.Errorf("pulled %s has digest %s, want %s", ref, got, want)
				}
			}
		})
	}
}

func TestPushToUnreachableRegistryFails(t *testing.T) {
	t.Parallel()
	host := StartRegistry(t)
	img := mustImage(t, Busybox)
	if _, err := PushImage(t.Context(), img, "not a reference"); err == nil {
		t.Error("push to a malformed reference succeeded")
	}
	closed := closedPort(t)
	if _, err := PushImage(t.Context(), img, closed+"/kumo/busybox:latest"); err == nil {
		t.Errorf("push to %s, where nothing listens, succeeded", closed)
	}
	// The same image pushed twice to one registry gives the same reference.
	first := Push(t, img, host+"/again:1")
	if second := Push(t, img, host+"/again:1"); first != second {
		t.Errorf("second push gave %q, first %q", second, first)
	}
}

// closedPort returns "127.0.0.1:PORT" where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestWriteLayout(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "layout")
	busybox := mustImage(t, Busybox)
	app := mustImage(t, App)
	// Writing twice to the same directory keeps only the last image.
	for _, img := range []v1.Image{busybox, app} {
		if err := WriteLayout(dir, img); err != nil {
			t.Fatal(err)
		}
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Manifests) != 1 {
		t.Fatalf("layout index has %d manifests, want 1", len(m.Manifests))
	}
	desc := m.Manifests[0]
	if want := mustDigest(t, app); desc.Digest != want {
		t.Errorf("layout holds %s, want testapp %s", desc.Digest, want)
	}
	if ref := desc.Annotations["org.opencontainers.image.ref.name"]; ref != "latest" {
		t.Errorf("ref name annotation %q, want latest", ref)
	}
	img, err := idx.Image(desc.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(img); err != nil {
		t.Errorf("image read back from layout is invalid: %v", err)
	}
}

// TestSkopeoCopiesLayoutToRegistry proves the layout and the registry work
// with a real client, the way e2e scripts use them.
func TestSkopeoCopiesLayoutToRegistry(t *testing.T) {
	t.Parallel()
	skopeo, err := exec.LookPath("skopeo")
	if err != nil {
		t.Skip("skopeo not installed")
	}
	dir := filepath.Join(t.TempDir(), "busybox")
	img := mustImage(t, Busybox)
	if err := WriteLayout(dir, img); err != nil {
		t.Fatal(err)
	}
	host := StartRegistry(t)
	dest := host + "/copied/busybox:1"
	cmd := exec.CommandContext(t.Context(), skopeo, "--insecure-policy", "copy",
		"oci:"+dir, "docker://"+dest, "--dest-tls-verify=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("skopeo copy: %v\n%s", err, out)
	}
	if got, want := mustDigest(t, pull(t, dest)), mustDigest(t, img); got != want {
		t.Errorf("skopeo copied digest %s, want %s", got, want)
	}
}
