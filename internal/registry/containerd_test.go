package registry

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/containerd/containerd/remotes/docker"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestContainerdResolverPull resolves and fetches an image with
// containerd's registry client, as kumo's node agent pulls task images,
// through the token flow (containerd tries the OAuth2 POST first).
func TestContainerdResolverPull(t *testing.T) {
	t.Parallel()
	auth := NewTokenAuth([]byte("containerd key"), nil, true)
	s := newTestServer(t, Config{Auth: auth})
	var tokenPosts atomic.Int32
	counting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == TokenPath && req.Method == http.MethodPost {
			tokenPosts.Add(1)
		}
		s.reg.Handler().ServeHTTP(w, req)
	}))
	t.Cleanup(counting.Close)
	s.srv = counting
	password, _ := auth.Issue("000000000000", time.Hour)
	img := ociImage(t, 2)
	ref, err := name.ParseReference(s.host()+"/tasks/web:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithAuth(basicAuth(password)), remote.WithContext(t.Context())); err != nil {
		t.Fatal(err)
	}

	authorizer := docker.NewDockerAuthorizer(docker.WithAuthCreds(func(host string) (string, string, error) {
		return "AWS", password, nil
	}))
	resolver := docker.NewResolver(docker.ResolverOptions{
		Hosts: docker.ConfigureDefaultRegistries(docker.WithPlainHTTP(docker.MatchAllHosts), docker.WithAuthorizer(authorizer)),
	})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	_, desc, err := resolver.Resolve(ctx, s.host()+"/tasks/web:v1")
	if err != nil {
		t.Fatalf("resolve: %v", err)
	}
	want, _ := img.Digest()
	if desc.Digest.String() != want.String() || desc.MediaType != ocispec.MediaTypeImageManifest {
		t.Fatalf("resolved %+v, want %s", desc, want)
	}
	fetcher, err := resolver.Fetcher(ctx, s.host()+"/tasks/web:v1")
	if err != nil {
		t.Fatal(err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(fetchVerified(ctx, t, fetcher, desc), &m); err != nil {
		t.Fatal(err)
	}
	for _, l := range append([]ocispec.Descriptor{m.Config}, m.Layers...) {
		fetchVerified(ctx, t, fetcher, l)
	}
	if tokenPosts.Load() == 0 {
		t.Fatal("containerd never used the OAuth2 token endpoint")
	}
}

// fetchVerified fetches desc and checks its digest and size.
func fetchVerified(ctx context.Context, t *testing.T, f interface {
	Fetch(context.Context, ocispec.Descriptor) (io.ReadCloser, error)
}, desc ocispec.Descriptor) []byte {
	t.Helper()
	rc, err := f.Fetch(ctx, desc)
	if err != nil {
		t.Fatalf("fetch %s: %v", desc.Digest, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	if digest.FromBytes(b) != desc.Digest || int64(len(b)) != desc.Size {
		t.Fatalf("fetched %s: wrong content", desc.Digest)
	}
	return b
}
