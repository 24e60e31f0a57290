package ecr

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsecr "github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/smithy-go"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/kumo-project/kumo/internal/clock"
	"github.com/kumo-project/kumo/internal/gateway"
	"github.com/kumo-project/kumo/internal/protocol"
	"github.com/kumo-project/kumo/internal/registry"
	"github.com/kumo-project/kumo/internal/store"
)

// testClock is a settable clock; its tickers never fire, so tests run the
// reconcilers' steps themselves.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func (c *testClock) After(d time.Duration) <-chan time.Time { return make(chan time.Time) }

func (c *testClock) NewTicker(d time.Duration) clock.Ticker { return idleTicker{} }

type idleTicker struct{}

func (idleTicker) C() <-chan time.Time { return nil }
func (idleTicker) Stop()               {}

// apiEnv is the ECR service behind the real gateway, with its registry on
// the same endpoint, driven by the real SDK.
type apiEnv struct {
	svc    *Service
	client *awsecr.Client
	host   string // registry host:port
	clock  *testClock
	// stop ends the service and closes its registry (also done at cleanup).
	stop func()
}

type envOption func(*Config)

// openStore opens a store in a temp dir, closed at cleanup.
func openStore(t testing.TB) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func newAPIEnv(t testing.TB, opts ...envOption) *apiEnv {
	t.Helper()
	st := openStore(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	// The clock starts at the wall time: the registry compares it with file times.
	clk := &testClock{now: time.Now().UTC().Truncate(time.Second)}
	srv := httptest.NewUnstartedServer(nil)
	host := srv.Listener.Addr().String()
	cfg := Config{Store: st, Clock: clk, Log: log, RegistryRoot: filepath.Join(t.TempDir(), "registry"), RegistryHost: host}
	for _, o := range opts {
		o(&cfg)
	}
	svc, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stop := sync.OnceFunc(func() { cancel(); svc.Wait() })
	t.Cleanup(stop)
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	gw := gateway.New(gateway.AnyCredentials{AccountID: "000000000000", DefaultRegion: "us-east-1"}, log)
	gw.Register(svc.Gateway())
	gw.Handle("/v2/", svc.RegistryHandler())
	gw.Handle(registry.TokenPath, svc.RegistryHandler())
	srv.Config.Handler = gw
	srv.Start()
	t.Cleanup(srv.Close)
	client := awsecr.NewFromConfig(aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(srv.URL),
	})
	return &apiEnv{svc: svc, client: client, host: host, clock: clk, stop: stop}
}

// clientIn returns a client signing for another region.
func (e *apiEnv) clientIn(region string) *awsecr.Client {
	return awsecr.New(e.client.Options(), func(o *awsecr.Options) { o.Region = region })
}

func errorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := errorCode(err); got != code {
		t.Fatalf("error = %v, want %s", err, code)
	}
}

// randomImage is a small image with one random layer.
func randomImage(t *testing.T) v1.Image {
	t.Helper()
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// imageWithFiles is an image whose one layer holds files (path → content,
// mode 0755 so executables count).
func imageWithFiles(t *testing.T, files map[string][]byte) v1.Image {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for p, data := range files {
		if err := tw.WriteHeader(&tar.Header{Name: p, Mode: 0o755, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(data)
	}
	tw.Close()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// push writes img to host/repo:tag with go-containerregistry and returns its digest.
func push(t testing.TB, host, repo, tag string, img v1.Image, opts ...remote.Option) (string, error) {
	t.Helper()
	ref, err := name.ParseReference(host+"/"+repo+":"+tag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String(), remote.Write(ref, img, append(opts, remote.WithContext(t.Context()))...)
}

func mustPush(t testing.TB, host, repo, tag string, img v1.Image) string {
	t.Helper()
	d, err := push(t, host, repo, tag, img)
	if err != nil {
		t.Fatalf("push %s:%s: %v", repo, tag, err)
	}
	return d
}

// bodyRecorder is an SDK HTTP client that keeps the last response body,
// so tests can see what the SDK's decoding hides (an empty list from an
// absent one).
type bodyRecorder struct {
	mu   sync.Mutex
	last []byte
}

func (r *bodyRecorder) Do(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.last = body
	r.mu.Unlock()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// recordingClient returns a client of the env whose last response body
// the second result returns, decoded as a JSON object.
func (e *apiEnv) recordingClient(t *testing.T) (*awsecr.Client, func() map[string]json.RawMessage) {
	rec := &bodyRecorder{}
	client := awsecr.New(e.client.Options(), func(o *awsecr.Options) { o.HTTPClient = rec })
	return client, func() map[string]json.RawMessage {
		t.Helper()
		rec.mu.Lock()
		defer rec.mu.Unlock()
		var out map[string]json.RawMessage
		if err := json.Unmarshal(rec.last, &out); err != nil {
			t.Fatalf("response %q: %v", rec.last, err)
		}
		return out
	}
}
