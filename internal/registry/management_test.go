package registry

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

func TestDeleteManifestsAndTags(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, Config{})
	img := s.pushImage("del", 1, nil)
	for _, tag := range []string{"one", "two"} {
		expect(t, s.putManifest("del", tag, MediaTypeOCIManifest, img.manifest), http.StatusCreated, "")
	}
	steps := []struct {
		name, method, ref string
		status            int
		code              Code
	}{
		{"delete a tag", "DELETE", "one", http.StatusAccepted, ""},
		{"deleted tag is gone", "HEAD", "one", http.StatusNotFound, ""},
		{"other tag stays", "HEAD", "two", http.StatusOK, ""},
		{"manifest stays", "HEAD", img.digest.String(), http.StatusOK, ""},
		{"delete a tag twice", "DELETE", "one", http.StatusNotFound, CodeManifestUnknown},
		{"delete by digest", "DELETE", img.digest.String(), http.StatusAccepted, ""},
		{"manifest is gone", "GET", img.digest.String(), http.StatusNotFound, CodeManifestUnknown},
		{"its tags are gone", "GET", "two", http.StatusNotFound, CodeManifestUnknown},
		{"delete it again", "DELETE", img.digest.String(), http.StatusNotFound, CodeManifestUnknown},
		{"delete malformed digest", "DELETE", "sha256:nothex", http.StatusBadRequest, CodeDigestInvalid},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			expect(t, s.do(st.method, "/v2/del/manifests/"+st.ref, nil), st.status, st.code)
		})
	}
	tags, _, err := s.reg.Tags(t.Context(), "del", "", -1)
	if err != nil || len(tags) != 0 {
		t.Fatalf("tags left: %v %v", tags, err)
	}
}

func TestDeleteBlob(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, Config{})
	content := randomBytes(t, 100)
	d := s.pushBlob("x", content)
	s.pushBlob("y", content)
	if n := countBlobFiles(t, s.reg); n != 1 {
		t.Fatalf("the same content pushed to two repositories is stored %d times", n)
	}
	expect(t, s.do("DELETE", "/v2/x/blobs/"+d.String(), nil), http.StatusAccepted, "")
	expect(t, s.do("HEAD", "/v2/x/blobs/"+d.String(), nil), http.StatusNotFound, "")
	expect(t, s.do("GET", "/v2/x/blobs/"+d.String(), nil), http.StatusNotFound, CodeBlobUnknown)
	expect(t, s.do("DELETE", "/v2/x/blobs/"+d.String(), nil), http.StatusNotFound, CodeBlobUnknown)
	// The other repository keeps its link.
	checkBlob(t, s, "y", content)
}

func TestBlobRangeRequests(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, Config{})
	content := randomBytes(t, 2048)
	d := s.pushBlob("rng", content)
	tests := []struct {
		rng          string
		status       int
		from, to     int
		contentRange string
	}{
		{"bytes=500-1499", http.StatusPartialContent, 500, 1500, "bytes 500-1499/2048"},
		{"bytes=500-", http.StatusPartialContent, 500, 2048, "bytes 500-2047/2048"},
		{"bytes=-500", http.StatusPartialContent, 1548, 2048, "bytes 1548-2047/2048"},
		{"bytes=2000-5000", http.StatusPartialContent, 2000, 2048, "bytes 2000-2047/2048"},
		{"bytes=500-0", http.StatusRequestedRangeNotSatisfiable, 0, 0, ""},
		{"bytes=5000-10000", http.StatusRequestedRangeNotSatisfiable, 0, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.rng, func(t *testing.T) {
			r := s.do("GET", "/v2/rng/blobs/"+d.String(), nil, "Range", tc.rng)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d", r.status, tc.status)
			}
			if tc.status != http.StatusPartialContent {
				return
			}
			if string(r.body) != string(content[tc.from:tc.to]) || r.header.Get("Content-Range") != tc.contentRange {
				t.Fatalf("got %d bytes, Content-Range %q", len(r.body), r.header.Get("Content-Range"))
			}
		})
	}
}

func TestPolicyAndEvents(t *testing.T) {
	t.Parallel()
	p := &recordingPolicy{allowed: map[string]bool{"web": true}, immutable: true}
	s := newTestServer(t, Config{Policy: p, OnEvent: p.onEvent})

	// Repositories the policy does not know refuse pushes with NAME_UNKNOWN.
	expect(t, s.do("POST", "/v2/unknown/blobs/uploads/", nil), http.StatusNotFound, CodeNameUnknown)
	expect(t, s.do("POST", "/v2/unknown/blobs/uploads/?digest="+digest.FromString("x").String(), []byte("x")), http.StatusNotFound, CodeNameUnknown)
	expect(t, s.putManifest("unknown", "v1", MediaTypeOCIManifest, []byte("{}")), http.StatusNotFound, CodeNameUnknown)

	img := s.pushImage("web", 1, nil)
	expect(t, s.putManifest("web", "v1", MediaTypeOCIManifest, img.manifest), http.StatusCreated, "")
	other := s.pushImage("web", 2, nil)
	// An immutable tag cannot move; the manifest is not stored either.
	expect(t, s.putManifest("web", "v1", MediaTypeOCIManifest, other.manifest), http.StatusBadRequest, CodeTagInvalid)
	expect(t, s.do("HEAD", "/v2/web/manifests/"+other.digest.String(), nil), http.StatusNotFound, "")
	// A new tag is fine.
	expect(t, s.putManifest("web", "v2", MediaTypeOCIManifest, other.manifest), http.StatusCreated, "")
	expect(t, s.do("GET", "/v2/web/manifests/v1", nil), http.StatusOK, "")
	expect(t, s.do("HEAD", "/v2/web/manifests/v1", nil), http.StatusOK, "")
	expect(t, s.do("DELETE", "/v2/web/manifests/v2", nil), http.StatusAccepted, "")
	expect(t, s.do("DELETE", "/v2/web/manifests/"+img.digest.String(), nil), http.StatusAccepted, "")

	want := []EventKind{EventManifestPushed, EventManifestPushed, EventManifestPulled, EventTagDeleted, EventManifestDeleted}
	if got := p.kinds(); !reflect.DeepEqual(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	p.mu.Lock()
	pull, del := p.events[2], p.events[4]
	p.mu.Unlock()
	if pull.Repository != "web" || pull.Digest != img.digest || !reflect.DeepEqual(pull.Tags, []string{"v1"}) || pull.Time.IsZero() {
		t.Fatalf("pull event %+v", pull)
	}
	if !reflect.DeepEqual(del.Tags, []string{"v1"}) {
		t.Fatalf("delete event %+v", del)
	}
}

func TestImagesForECR(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	s := newTestServer(t, Config{Clock: clk})
	ctx := t.Context()
	img := s.pushImage("ecr/app", 2, nil)
	if _, err := s.reg.PutManifest(ctx, "ecr/app", "v1", MediaTypeOCIManifest, img.manifest, "latest"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	artifact := s.pushImage("ecr/app", 0, map[string]any{"artifactType": "application/vnd.example.thing"})
	if _, err := s.reg.PutManifest(ctx, "ecr/app", artifact.digest.String(), "", artifact.manifest); err != nil {
		t.Fatal(err)
	}
	images, err := s.reg.Images(ctx, "ecr/app")
	if err != nil {
		t.Fatal(err)
	}
	if len(images) != 2 {
		t.Fatalf("%d images", len(images))
	}
	first := images[0]
	var m struct {
		Config struct{ Size int64 }
		Layers []struct{ Size int64 }
	}
	if err := json.Unmarshal(img.manifest, &m); err != nil {
		t.Fatal(err)
	}
	wantSize := m.Config.Size + m.Layers[0].Size + m.Layers[1].Size
	if first.Digest != img.digest || !reflect.DeepEqual(first.Tags, []string{"latest", "v1"}) || first.ImageSize != wantSize ||
		first.MediaType != MediaTypeOCIManifest || first.ArtifactType != "application/vnd.oci.image.config.v1+json" ||
		!first.PushedAt.Equal(clk.now.Add(-time.Minute)) {
		t.Fatalf("image %+v (want size %d)", first, wantSize)
	}
	if images[1].ArtifactType != "application/vnd.example.thing" || len(images[1].Tags) != 0 {
		t.Fatalf("artifact %+v", images[1])
	}
	// Re-pushing keeps the first push time.
	clk.Advance(time.Hour)
	if _, err := s.reg.PutManifest(ctx, "ecr/app", "again", MediaTypeOCIManifest, img.manifest); err != nil {
		t.Fatal(err)
	}
	got, err := s.reg.Image(ctx, "ecr/app", "again")
	if err != nil || !got.PushedAt.Equal(first.PushedAt) {
		t.Fatalf("image after re-push %+v %v", got, err)
	}
	// ECR's layer upload calls.
	layer := randomBytes(t, 3000)
	id, err := s.reg.StartUpload(ctx, "ecr/app")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.reg.AppendUpload(ctx, "ecr/app", id, 0, strings.NewReader(string(layer[:1000]))); err != nil {
		t.Fatal(err)
	}
	if _, err := s.reg.AppendUpload(ctx, "ecr/app", id, 0, strings.NewReader(string(layer[1000:]))); !isCode(err, CodeBlobUploadInvalid) {
		t.Fatalf("out-of-order part: %v", err)
	}
	if _, err := s.reg.AppendUpload(ctx, "ecr/app", id, 1000, strings.NewReader(string(layer[1000:]))); err != nil {
		t.Fatal(err)
	}
	size, err := s.reg.CompleteUpload(ctx, "ecr/app", id, digest.FromBytes(layer))
	if err != nil || size != 3000 {
		t.Fatalf("complete: %d %v", size, err)
	}
	if n, err := s.reg.BlobSize(ctx, "ecr/app", digest.FromBytes(layer)); err != nil || n != 3000 {
		t.Fatalf("BlobSize %d %v", n, err)
	}
	if err := s.reg.DeleteRepository(ctx, "ecr/app"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.reg.Images(ctx, "ecr/app"); !isCode(err, CodeNameUnknown) {
		t.Fatalf("images of deleted repository: %v", err)
	}
	if err := s.reg.DeleteRepository(ctx, "never/pushed"); err != nil {
		t.Fatalf("deleting an empty repository: %v", err)
	}
}

func isCode(err error, code Code) bool {
	e, ok := err.(*Error)
	return ok && e.Code == code
}

func TestAuth(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{now: time.Now()}
	auth := NewTokenAuth([]byte("test key"), clk, true)
	s := newTestServer(t, Config{Auth: auth, Clock: clk})
	password, _ := auth.Issue("000000000000", time.Hour)
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("AWS:"+password))

	r := s.do("GET", "/v2/app/tags/list", nil)
	expect(t, r, http.StatusUnauthorized, CodeUnauthorized)
	challenge := r.header.Get("WWW-Authenticate")
	wantRealm := `Bearer realm="` + s.srv.URL + TokenPath + `",service="kumo",scope="repository:app:pull"`
	if challenge != wantRealm {
		t.Fatalf("challenge %q, want %q", challenge, wantRealm)
	}

	tests := []struct {
		name, authorization string
		status              int
	}{
		{"basic with token", basic, http.StatusOK},
		{"basic with wrong user", "Basic " + base64.StdEncoding.EncodeToString([]byte("bob:"+password)), http.StatusUnauthorized},
		{"basic with forged token", "Basic " + base64.StdEncoding.EncodeToString([]byte("AWS:"+password+"x")), http.StatusUnauthorized},
		{"password used as bearer", "Bearer " + password, http.StatusUnauthorized},
		{"unknown scheme", "Digest abc", http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			expect(t, s.do("GET", "/v2/", nil, "Authorization", tc.authorization), tc.status, "")
		})
	}

	// The Docker token flow.
	expect(t, s.do("GET", TokenPath+"?service=kumo&scope=repository:app:pull", nil), http.StatusUnauthorized, CodeUnauthorized)
	r = s.do("GET", TokenPath+"?service=kumo&scope=repository:app:pull", nil, "Authorization", basic)
	expect(t, r, http.StatusOK, "")
	var tok tokenResponse
	if err := json.Unmarshal(r.body, &tok); err != nil || tok.Token == "" || tok.AccessToken != tok.Token || tok.ExpiresIn != 900 {
		t.Fatalf("token response %s", r.body)
	}
	expect(t, s.do("GET", "/v2/", nil, "Authorization", "Bearer "+tok.Token), http.StatusOK, "")

	// The OAuth2 password grant containerd sends first.
	form := url.Values{"grant_type": {"password"}, "username": {"AWS"}, "password": {password}, "service": {"kumo"}, "scope": {"repository:app:pull"}}
	r = s.do("POST", TokenPath, []byte(form.Encode()), "Content-Type", "application/x-www-form-urlencoded")
	expect(t, r, http.StatusOK, "")
	var oauth tokenResponse
	if err := json.Unmarshal(r.body, &oauth); err != nil || oauth.AccessToken == "" {
		t.Fatalf("oauth token response %s", r.body)
	}
	expect(t, s.do("GET", "/v2/", nil, "Authorization", "Bearer "+oauth.AccessToken), http.StatusOK, "")
	form.Set("password", "wrong")
	expect(t, s.do("POST", TokenPath, []byte(form.Encode()), "Content-Type", "application/x-www-form-urlencoded"), http.StatusUnauthorized, CodeUnauthorized)
	form.Set("grant_type", "refresh_token")
	expect(t, s.do("POST", TokenPath, []byte(form.Encode()), "Content-Type", "application/x-www-form-urlencoded"), http.StatusBadRequest, CodeUnsupported)
	clk.Advance(16 * time.Minute)
	expect(t, s.do("GET", "/v2/", nil, "Authorization", "Bearer "+tok.Token), http.StatusUnauthorized, "")
	clk.Advance(time.Hour)
	expect(t, s.do("GET", "/v2/", nil, "Authorization", basic), http.StatusUnauthorized, "")
}

func TestAnonymousAllowedWhenAuthOptional(t *testing.T) {
	t.Parallel()
	auth := NewTokenAuth([]byte("k"), nil, false)
	s := newTestServer(t, Config{Auth: auth})
	expect(t, s.do("GET", "/v2/", nil), http.StatusOK, "")
	r := s.do("GET", TokenPath+"?service=kumo", nil)
	expect(t, r, http.StatusOK, "")
	var tok tokenResponse
	if err := json.Unmarshal(r.body, &tok); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.CheckBearer(context.Background(), tok.Token); err != nil {
		t.Fatalf("anonymous token does not verify: %v", err)
	}
}

// denyAll is a policy whose refusals are plain errors.
type denyAll struct{}

func (denyAll) CheckRepository(ctx context.Context, repo string) error {
	return errors.New("pushes are disabled")
}

func (denyAll) CheckTagPush(ctx context.Context, repo, tag string, current, next digest.Digest) error {
	return nil
}

func TestPolicyPlainErrorIsDenied(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, Config{Policy: denyAll{}})
	r := s.do("POST", "/v2/any/blobs/uploads/", nil)
	expect(t, r, http.StatusForbidden, CodeDenied)
	if !strings.Contains(string(r.body), "pushes are disabled") {
		t.Fatalf("body %s", r.body)
	}
}

// TestEventCallbackMayCallRegistry checks that events are emitted with no
// lock held: a callback deleting what was just pushed (as a lifecycle rule
// might) and running GC completes.
func TestEventCallbackMayCallRegistry(t *testing.T) {
	t.Parallel()
	var reg *Registry
	deleted := make(chan error, 1)
	onEvent := func(ctx context.Context, e Event) {
		if e.Kind != EventManifestPushed {
			return
		}
		_, gcErr := reg.GC(ctx)
		deleted <- errors.Join(gcErr, reg.DeleteManifest(ctx, e.Repository, e.Digest.String()))
	}
	s := newTestServer(t, Config{OnEvent: onEvent})
	reg = s.reg
	img := s.pushImage("cb", 1, nil)
	r := make(chan response, 1)
	go func() { r <- s.do("PUT", "/v2/cb/manifests/v1", img.manifest, "Content-Type", MediaTypeOCIManifest) }()
	select {
	case resp := <-r:
		expect(t, resp, http.StatusCreated, "")
	case <-time.After(10 * time.Second):
		t.Fatal("manifest push deadlocked in the event callback")
	}
	if err := <-deleted; err != nil {
		t.Fatal(err)
	}
	expect(t, s.do("HEAD", "/v2/cb/manifests/v1", nil), http.StatusNotFound, "")
}
