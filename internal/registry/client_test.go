package registry

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// TestGoContainerRegistryRoundTrip pushes and pulls a multi-layer image and
// an index with go-containerregistry (crane's library), through the
// Docker token flow with ECR-style credentials.
func TestGoContainerRegistryRoundTrip(t *testing.T) {
	t.Parallel()
	auth := NewTokenAuth([]byte("ggcr key"), nil, true)
	s := newTestServer(t, Config{Auth: auth})
	password, _ := auth.Issue("000000000000", time.Hour)
	opts := []remote.Option{remote.WithAuth(&authn.Basic{Username: "AWS", Password: password}), remote.WithContext(t.Context())}

	img, err := random.Image(64<<10, 3)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(s.host()+"/team/app:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, opts...); err != nil {
		t.Fatalf("remote.Write: %v", err)
	}
	pulled, err := remote.Image(ref, opts...)
	if err != nil {
		t.Fatalf("remote.Image: %v", err)
	}
	sameImage(t, img, pulled)

	idx, err := random.Index(32<<10, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	idxRef, err := name.ParseReference(s.host()+"/team/multi:latest", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(idxRef, idx, opts...); err != nil {
		t.Fatalf("remote.WriteIndex: %v", err)
	}
	pulledIdx, err := remote.Index(idxRef, opts...)
	if err != nil {
		t.Fatalf("remote.Index: %v", err)
	}
	wantDigest, _ := idx.Digest()
	gotDigest, _ := pulledIdx.Digest()
	if wantDigest != gotDigest {
		t.Fatalf("index digest %s, want %s", gotDigest, wantDigest)
	}
	im, err := pulledIdx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, desc := range im.Manifests {
		child, err := pulledIdx.Image(desc.Digest)
		if err != nil {
			t.Fatal(err)
		}
		orig, err := idx.Image(desc.Digest)
		if err != nil {
			t.Fatal(err)
		}
		sameImage(t, orig, child)
	}

	// Anonymous pulls are refused when auth is required.
	if _, err := remote.Image(ref, remote.WithContext(t.Context())); err == nil {
		t.Fatal("anonymous pull succeeded with auth required")
	}
}

func basicAuth(password string) authn.Authenticator {
	return &authn.Basic{Username: "AWS", Password: password}
}

// sameImage compares manifests and every layer's content digest.
func sameImage(t *testing.T, want, got v1.Image) {
	t.Helper()
	wd, _ := want.Digest()
	gd, err := got.Digest()
	if err != nil || wd != gd {
		t.Fatalf("image digest %s (%v), want %s", gd, err, wd)
	}
	layers, err := got.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		h, _, err := v1.SHA256(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		ld, _ := l.Digest()
		if h != ld {
			t.Fatalf("layer content %s, want %s", h, ld)
		}
	}
}

// ociImage builds an image with OCI media types throughout, as skopeo
// looks up only OCI manifests in a layout.
func ociImage(t *testing.T, layers int) v1.Image {
	t.Helper()
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	for i := 0; i < layers; i++ {
		l, err := random.Layer(128<<10, types.OCILayer)
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			t.Fatal(err)
		}
	}
	return img
}

// TestSkopeoCopyAndInspect pushes an OCI layout with skopeo and inspects
// and pulls it back, logged in as ECR users are: AWS:<token>.
func TestSkopeoCopyAndInspect(t *testing.T) {
	t.Parallel()
	skopeo, err := exec.LookPath("skopeo")
	if err != nil {
		t.Skip("skopeo not installed")
	}
	auth := NewTokenAuth([]byte("skopeo key"), nil, true)
	s := newTestServer(t, Config{Auth: auth})
	password, _ := auth.Issue("000000000000", time.Hour)
	creds := "AWS:" + password
	dir := t.TempDir()
	img := ociImage(t, 2)
	p, err := layout.Write(filepath.Join(dir, "src"), empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "v1"})); err != nil {
		t.Fatal(err)
	}
	policy := filepath.Join(dir, "policy.json")
	if err := os.WriteFile(policy, []byte(`{"default":[{"type":"insecureAcceptAnything"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) []byte {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), skopeo, append([]string{"--policy", policy}, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_RUNTIME_DIR="+dir)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("skopeo %v: %v\n%s", args, err, out)
		}
		return out
	}
	dest := "docker://" + s.host() + "/skopeo/app:v1"
	run("copy", "--dest-tls-verify=false", "--dest-creds", creds, "oci:"+filepath.Join(dir, "src")+":v1", dest)

	out := run("inspect", "--tls-verify=false", "--creds", creds, dest)
	var info struct {
		Digest string
		Layers []string
	}
	if err := json.Unmarshal(out, &info); err != nil {
		t.Fatalf("inspect output %s: %v", out, err)
	}
	stored, err := s.reg.Image(t.Context(), "skopeo/app", "v1")
	if err != nil {
		t.Fatal(err)
	}
	if info.Digest != stored.Digest.String() || len(info.Layers) != 2 {
		t.Fatalf("inspect %+v, stored %s", info, stored.Digest)
	}
	run("copy", "--src-tls-verify=false", "--src-creds", creds, dest, "oci:"+filepath.Join(dir, "back")+":v1")
	back, err := layout.ImageIndexFromPath(filepath.Join(dir, "back"))
	if err != nil {
		t.Fatal(err)
	}
	im, err := back.IndexManifest()
	if err != nil || len(im.Manifests) != 1 || im.Manifests[0].Digest.String() != stored.Digest.String() {
		t.Fatalf("pulled layout %+v %v", im, err)
	}
}
