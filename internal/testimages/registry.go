package testimages

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Repository names of the fixtures in a registry.
const (
	BusyboxRepository = "kumo/busybox"
	AppRepository     = "kumo/testapp"
)

// Fixtures are the digest references of the pushed fixture images, e.g.
// "127.0.0.1:40123/kumo/testapp@sha256:...". The same images are also
// tagged "latest".
type Fixtures struct {
	Busybox string
	App     string
}

// NewRegistryHandler returns an in-memory OCI distribution registry
// (go-containerregistry's) that logs nothing.
func NewRegistryHandler() http.Handler {
	return registry.New(registry.Logger(log.New(io.Discard, "", 0)))
}

// StartRegistry serves an in-memory OCI registry on 127.0.0.1 until the
// test ends and returns its "127.0.0.1:PORT".
func StartRegistry(t testing.TB) string {
	t.Helper()
	srv := httptest.NewServer(NewRegistryHandler())
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// Push pushes img to ref (e.g. "127.0.0.1:5000/kumo/testapp:latest") and
// returns the digest reference of what was pushed; it fails the test on
// error.
func Push(t testing.TB, img v1.Image, ref string) string {
	t.Helper()
	pushed, err := PushImage(t.Context(), img, ref)
	if err != nil {
		t.Fatal(err)
	}
	return pushed
}

// PushImage pushes img to ref and returns "REPOSITORY@DIGEST". Plain HTTP
// is allowed, since fixture registries run on loopback without TLS.
func PushImage(ctx context.Context, img v1.Image, ref string) (string, error) {
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		return "", fmt.Errorf("push %s: %w", ref, err)
	}
	if err := remote.Write(r, img, remote.WithContext(ctx)); err != nil {
		return "", fmt.Errorf("push %s: %w", ref, err)
	}
	digest, err := img.Digest()
	if err != nil {
		return "", fmt.Errorf("push %s: %w", ref, err)
	}
	return r.Context().Digest(digest.String()).String(), nil
}

// PushFixtures pushes Busybox and App to registryHost as
// kumo/busybox:latest and kumo/testapp:latest; it fails the test on error.
func PushFixtures(t testing.TB, registryHost string) Fixtures {
	t.Helper()
	f, err := PushAllFixtures(t.Context(), registryHost)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// PushAllFixtures is PushFixtures for callers without a testing.TB.
func PushAllFixtures(ctx context.Context, registryHost string) (Fixtures, error) {
	busybox, err := Busybox()
	if err != nil {
		return Fixtures{}, err
	}
	app, err := App()
	if err != nil {
		return Fixtures{}, err
	}
	var f Fixtures
	if f.Busybox, err = PushImage(ctx, busybox, registryHost+"/"+BusyboxRepository+":latest"); err != nil {
		return Fixtures{}, err
	}
	if f.App, err = PushImage(ctx, app, registryHost+"/"+AppRepository+":latest"); err != nil {
		return Fixtures{}, err
	}
	return f, nil
}
