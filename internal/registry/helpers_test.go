package registry

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kumo-project/kumo/internal/clock"
	"github.com/opencontainers/go-digest"
)

// fakeClock is a settable clock for GC and token expiry tests.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

func (c *fakeClock) NewTicker(d time.Duration) clock.Ticker { return clock.Real{}.NewTicker(d) }

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// testServer is a registry under a temp dir served by httptest.
type testServer struct {
	t   *testing.T
	reg *Registry
	srv *httptest.Server
}

func newTestServer(t *testing.T, cfg Config) *testServer {
	t.Helper()
	if cfg.Root == "" {
		cfg.Root = t.TempDir()
	}
	reg, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(reg.Handler())
	t.Cleanup(func() {
		srv.Close()
		reg.Close()
	})
	return &testServer{t: t, reg: reg, srv: srv}
}

// host is the server's host:port, as image references need it.
func (s *testServer) host() string { return strings.TrimPrefix(s.srv.URL, "http://") }

// response is a finished HTTP exchange.
type response struct {
	status int
	header http.Header
	body   []byte
}

// errorCode returns the first error code of a spec error body.
func (r response) errorCode() Code {
	var b errorBody
	if json.Unmarshal(r.body, &b) != nil || len(b.Errors) == 0 {
		return ""
	}
	return b.Errors[0].Code
}

// do sends a request; headers alternate names and values.
func (s *testServer) do(method, path string, body []byte, headers ...string) response {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, s.srv.URL+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// expect fails the test unless r has status (and code, when not empty).
func expect(t *testing.T, r response, status int, code Code) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	if code != "" && r.errorCode() != code {
		t.Fatalf("error code %q, want %q; body %s", r.errorCode(), code, r.body)
	}
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// pushBlob pushes content monolithically and returns its digest.
func (s *testServer) pushBlob(repo string, content []byte) digest.Digest {
	s.t.Helper()
	d := digest.FromBytes(content)
	r := s.do("POST", "/v2/"+repo+"/blobs/uploads/?digest="+d.String(), content, "Content-Type", "application/octet-stream")
	expect(s.t, r, http.StatusCreated, "")
	return d
}

// testImage is an OCI image manifest whose config and layers are pushed.
type testImage struct {
	manifest []byte
	digest   digest.Digest
	config   digest.Digest
	layers   []digest.Digest
}

// descriptor is the JSON of an OCI descriptor for test manifests.
func descriptor(mediaType string, content []byte) map[string]any {
	return map[string]any{"mediaType": mediaType, "digest": digest.FromBytes(content).String(), "size": len(content)}
}

// pushImage pushes config and layers and returns an OCI manifest for them
// (not pushed) with extra top-level members merged in.
func (s *testServer) pushImage(repo string, layers int, extra map[string]any) testImage {
	s.t.Helper()
	nonce := hex.EncodeToString(randomBytes(s.t, 8)) // distinct configs per image
	config := []byte(`{"architecture":"amd64","os":"linux","config":{"Labels":{"nonce":"` + nonce + `"}},"rootfs":{"type":"layers","diff_ids":[]}}`)
	img := testImage{config: s.pushBlob(repo, config)}
	var descs []any
	for i := 0; i < layers; i++ {
		l := randomBytes(s.t, 1000+i)
		img.layers = append(img.layers, s.pushBlob(repo, l))
		descs = append(descs, descriptor("application/vnd.oci.image.layer.v1.tar+gzip", l))
	}
	m := map[string]any{
		"schemaVersion": 2,
		"mediaType":     MediaTypeOCIManifest,
		"config":        descriptor("application/vnd.oci.image.config.v1+json", config),
		"layers":        descs,
	}
	if descs == nil {
		m["layers"] = []any{}
	}
	for k, v := range extra {
		m[k] = v
	}
	img.manifest = mustJSON(s.t, m)
	img.digest = digest.FromBytes(img.manifest)
	return img
}

// putManifest PUTs a manifest with its media type.
func (s *testServer) putManifest(repo, ref, mediaType string, body []byte) response {
	s.t.Helper()
	return s.do("PUT", "/v2/"+repo+"/manifests/"+ref, body, "Content-Type", mediaType)
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// recordingPolicy refuses repositories not in allowed and tags in immutable
// once set, and records events.
type recordingPolicy struct {
	mu        sync.Mutex
	allowed   map[string]bool
	immutable bool
	events    []Event
}

func (p *recordingPolicy) CheckRepository(ctx context.Context, repo string) error {
	if !p.allowed[repo] {
		return NewError(CodeNameUnknown, "repository "+repo+" does not exist")
	}
	return nil
}

func (p *recordingPolicy) CheckTagPush(ctx context.Context, repo, tag string, current, next digest.Digest) error {
	if p.immutable && current != "" {
		return NewError(CodeTagInvalid, "The image tag '"+tag+"' already exists in the '"+repo+"' repository and cannot be overwritten because the repository is immutable.")
	}
	return nil
}

func (p *recordingPolicy) onEvent(ctx context.Context, e Event) {
	p.mu.Lock()
	p.events = append(p.events, e)
	p.mu.Unlock()
}

func (p *recordingPolicy) kinds() []EventKind {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []EventKind
	for _, e := range p.events {
		out = append(out, e.Kind)
	}
	return out
}
