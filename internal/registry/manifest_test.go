package registry

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

func TestManifestPushAndPull(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, Config{})
	img := s.pushImage("app", 2, nil)

	expect(t, s.do("GET", "/v2/app/manifests/v1", nil), http.StatusNotFound, CodeManifestUnknown)
	r := s.putManifest("app", "v1", MediaTypeOCIManifest, img.manifest)
	expect(t, r, http.StatusCreated, "")
	if r.header.Get("Location") != "/v2/app/manifests/"+img.digest.String() || r.header.Get("Docker-Content-Digest") != img.digest.String() {
		t.Fatalf("PUT headers %v", r.header)
	}
	for _, ref := range []string{"v1", img.digest.String()} {
		get := s.do("GET", "/v2/app/manifests/"+ref, nil, "Accept", MediaTypeOCIManifest)
		expect(t, get, http.StatusOK, "")
		if !bytes.Equal(get.body, img.manifest) {
			t.Fatalf("GET %s returned another manifest", ref)
		}
		checkManifestHeaders(t, get, MediaTypeOCIManifest, img.digest, len(img.manifest))
		head := s.do("HEAD", "/v2/app/manifests/"+ref, nil)
		expect(t, head, http.StatusOK, "")
		checkManifestHeaders(t, head, MediaTypeOCIManifest, img.digest, len(img.manifest))
		if len(head.body) != 0 {
			t.Fatal("HEAD returned a body")
		}
	}
}

func checkManifestHeaders(t *testing.T, r response, mediaType string, d digest.Digest, size int) {
	t.Helper()
	if r.header.Get("Content-Type") != mediaType || r.header.Get("Docker-Content-Digest") != d.String() ||
		r.header.Get("Content-Length") != strconv.Itoa(size) {
		t.Fatalf("manifest headers %v, want %s %s %d", r.header, mediaType, d, size)
	}
}

func TestManifestMediaTypes(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, Config{})
	config := []byte(`{"os":"linux","architecture":"arm64"}`)
	layer := randomBytes(t, 300)
	s.pushBlob("mt", config)
	s.pushBlob("mt", layer)
	s.pushBlob("mt", []byte("{}"))
	docker := mustJSON(t, map[string]any{
		"schemaVersion": 2, "mediaType": MediaTypeDockerManifest,
		"config": descriptor("application/vnd.docker.container.image.v1+json", config),
		"layers": []any{descriptor("application/vnd.docker.image.rootfs.diff.tar.gzip", layer)},
	})
	oci := mustJSON(t, map[string]any{
		"schemaVersion": 2, "mediaType": MediaTypeOCIManifest,
		"config": descriptor("application/vnd.oci.image.config.v1+json", config),
		"layers": []any{descriptor("application/vnd.oci.image.layer.v1.tar", layer)},
	})
	// An artifact: empty config, artifactType, layer with embedded data.
	dataLayer := descriptor("application/vnd.example.sbom", layer)
	dataLayer["data"] = base64.StdEncoding.EncodeToString(layer)
	artifact := mustJSON(t, map[string]any{
		"schemaVersion": 2, "mediaType": MediaTypeOCIManifest, "artifactType": "application/vnd.example.sbom",
		"config": descriptor("application/vnd.oci.empty.v1+json", []byte("{}")),
		"layers": []any{dataLayer},
	})
	// Non-distributable layers need not be pushed.
	foreign := randomBytes(t, 64)
	nondist := mustJSON(t, map[string]any{
		"schemaVersion": 2, "mediaType": MediaTypeOCIManifest,
		"config": descriptor("application/vnd.oci.image.config.v1+json", config),
		"layers": []any{
			descriptor("application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", foreign),
			descriptor("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", foreign),
			descriptor("application/vnd.oci.image.layer.v1.tar", layer),
		},
	})
	noMediaType := mustJSON(t, map[string]any{
		"schemaVersion": 2,
		"config":        descriptor("application/vnd.oci.image.config.v1+json", config),
		"layers":        []any{},
	})
	tests := []struct {
		name, ref, contentType, wantType string
		body                             []byte
	}{
		{"docker schema 2", "docker", MediaTypeDockerManifest, MediaTypeDockerManifest, docker},
		{"oci manifest", "oci", MediaTypeOCIManifest, MediaTypeOCIManifest, oci},
		{"artifact with data field", "artifact", MediaTypeOCIManifest, MediaTypeOCIManifest, artifact},
		{"non-distributable layers", "nondist", MediaTypeOCIManifest, MediaTypeOCIManifest, nondist},
		{"media type from content type", "nomt", MediaTypeOCIManifest, MediaTypeOCIManifest, noMediaType},
		{"docker manifest list", "list", MediaTypeDockerManifestList, MediaTypeDockerManifestList, mustJSON(t, map[string]any{
			"schemaVersion": 2, "mediaType": MediaTypeDockerManifestList,
			"manifests": []any{withPlatform(descriptor(MediaTypeDockerManifest, docker), "amd64")},
		})},
		{"oci index of two", "index", MediaTypeOCIIndex, MediaTypeOCIIndex, mustJSON(t, map[string]any{
			"schemaVersion": 2, "mediaType": MediaTypeOCIIndex,
			"manifests": []any{withPlatform(descriptor(MediaTypeOCIManifest, oci), "arm64"), descriptor(MediaTypeOCIManifest, artifact)},
		})},
		{"empty index", "empty-index", MediaTypeOCIIndex, MediaTypeOCIIndex, mustJSON(t, map[string]any{
			"schemaVersion": 2, "mediaType": MediaTypeOCIIndex, "manifests": []any{},
		})},
	}
	for _, tc := range tests { // in order: indexes need the manifests before them
		t.Run(tc.name, func(t *testing.T) {
			expect(t, s.putManifest("mt", tc.ref, tc.contentType, tc.body), http.StatusCreated, "")
			get := s.do("GET", "/v2/mt/manifests/"+tc.ref, nil)
			expect(t, get, http.StatusOK, "")
			checkManifestHeaders(t, get, tc.wantType, digest.FromBytes(tc.body), len(tc.body))
		})
	}
	// A nested index: an index of indexes.
	inner := mustJSON(t, map[string]any{"schemaVersion": 2, "mediaType": MediaTypeOCIIndex, "manifests": []any{}})
	d := digest.FromBytes(inner)
	expect(t, s.putManifest("mt", d.String(), MediaTypeOCIIndex, inner), http.StatusCreated, "")
	outer := mustJSON(t, map[string]any{"schemaVersion": 2, "mediaType": MediaTypeOCIIndex, "manifests": []any{descriptor(MediaTypeOCIIndex, inner)}})
	expect(t, s.putManifest("mt", "nested", MediaTypeOCIIndex, outer), http.StatusCreated, "")
}

func withPlatform(desc map[string]any, arch string) map[string]any {
	desc["platform"] = map[string]string{"os": "linux", "architecture": arch}
	return desc
}

func TestManifestByDigestAndTagParams(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, Config{})
	img := s.pushImage("d", 1, nil)
	d512 := digest.SHA512.FromBytes(img.manifest)
	tests := []struct {
		name, path string
		want       digest.Digest
		tags       []string
	}{
		{"sha256 digest", "/v2/d/manifests/" + img.digest.String(), img.digest, nil},
		{"sha512 digest", "/v2/d/manifests/" + d512.String(), d512, nil},
		{"digest with tag parameters", "/v2/d/manifests/" + img.digest.String() + "?tag=p1&tag=p2", img.digest, []string{"p1", "p2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do("PUT", tc.path, img.manifest, "Content-Type", MediaTypeOCIManifest)
			expect(t, r, http.StatusCreated, "")
			if r.header.Get("Docker-Content-Digest") != tc.want.String() {
				t.Fatalf("Docker-Content-Digest = %q, want %s", r.header.Get("Docker-Content-Digest"), tc.want)
			}
			get := s.do("GET", "/v2/d/manifests/"+tc.want.String(), nil)
			expect(t, get, http.StatusOK, "")
			checkManifestHeaders(t, get, MediaTypeOCIManifest, tc.want, len(img.manifest))
			if got := r.header.Values("OCI-Tag"); !reflect.DeepEqual(got, tc.tags) {
				t.Fatalf("OCI-Tag = %v, want %v", got, tc.tags)
			}
			for _, tag := range tc.tags {
				expect(t, s.do("HEAD", "/v2/d/manifests/"+tag, nil), http.StatusOK, "")
			}
		})
	}
}

func TestLargeManifest(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, Config{})
	annotations := map[string]string{}
	for i := 0; i < 390; i++ {
		annotations["large-annotation-"+strconv.Itoa(i)] = strings.Repeat("A", 10000)
	}
	img := s.pushImage("big", 1, map[string]any{"annotations": annotations})
	if len(img.manifest) < 3<<20 {
		t.Fatalf("manifest is only %d bytes", len(img.manifest))
	}
	expect(t, s.putManifest("big", "large", MediaTypeOCIManifest, img.manifest), http.StatusCreated, "")
	get := s.do("GET", "/v2/big/manifests/large", nil)
	expect(t, get, http.StatusOK, "")
	if !bytes.Equal(get.body, img.manifest) {
		t.Fatal("large manifest changed")
	}

	annotations["one-too-many"] = strings.Repeat("A", 300000)
	tooBig := s.pushImage("big", 1, map[string]any{"annotations": annotations})
	expect(t, s.putManifest("big", "too-large", MediaTypeOCIManifest, tooBig.manifest), http.StatusRequestEntityTooLarge, CodeSizeInvalid)
}

func TestManifestErrors(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, Config{})
	img := s.pushImage("m", 1, nil)
	missingLayer := randomBytes(t, 100)
	missingBlob := mustJSON(t, map[string]any{
		"schemaVersion": 2, "mediaType": MediaTypeOCIManifest,
		"config": descriptor("application/vnd.oci.image.config.v1+json", []byte("nope")),
		"layers": []any{descriptor("application/vnd.oci.image.layer.v1.tar", missingLayer)},
	})
	layer := randomBytes(t, 200)
	s.pushBlob("m", layer)
	s.pushBlob("m", []byte("{}"))
	wrongSize := descriptor("application/vnd.oci.image.layer.v1.tar", layer)
	wrongSize["size"] = 201
	badData := descriptor("application/vnd.oci.image.layer.v1.tar", layer)
	badData["data"] = base64.StdEncoding.EncodeToString([]byte("other bytes"))
	withLayers := func(layers ...any) []byte {
		return mustJSON(t, map[string]any{
			"schemaVersion": 2, "mediaType": MediaTypeOCIManifest,
			"config": descriptor("application/vnd.oci.empty.v1+json", []byte("{}")), "layers": layers,
		})
	}
	tests := []struct {
		name, ref, contentType string
		body                   []byte
		status                 int
		code                   Code
	}{
		{"invalid JSON", "bad", MediaTypeOCIManifest, []byte("{not json"), http.StatusBadRequest, CodeManifestInvalid},
		{"trailing garbage", "bad", MediaTypeOCIManifest, append(append([]byte{}, img.manifest...), []byte("{}")...), http.StatusBadRequest, CodeManifestInvalid},
		{"missing blobs", "bad", MediaTypeOCIManifest, missingBlob, http.StatusBadRequest, CodeManifestBlobUnknown},
		{"digest reference mismatch", digest.FromString("other").String(), MediaTypeOCIManifest, img.manifest, http.StatusBadRequest, CodeDigestInvalid},
		{"malformed digest reference", "sha256:baddigeststring", MediaTypeOCIManifest, img.manifest, http.StatusBadRequest, CodeDigestInvalid},
		{"invalid tag", "-tag", MediaTypeOCIManifest, img.manifest, http.StatusBadRequest, CodeManifestInvalid},
		{"content type differs from media type", "bad", MediaTypeDockerManifest, img.manifest, http.StatusBadRequest, CodeManifestInvalid},
		{"unsupported media type", "bad", "application/vnd.docker.distribution.manifest.v1+json", []byte(`{"schemaVersion":1,"mediaType":"application/vnd.docker.distribution.manifest.v1+json"}`), http.StatusBadRequest, CodeManifestInvalid},
		{"wrong schema version", "bad", MediaTypeOCIManifest, []byte(`{"schemaVersion":3,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"a/b","digest":"` + digest.FromString("{}").String() + `","size":2},"layers":[]}`), http.StatusBadRequest, CodeManifestInvalid},
		{"image manifest without config", "bad", MediaTypeOCIManifest, []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}`), http.StatusBadRequest, CodeManifestInvalid},
		{"layer size differs from blob", "bad", MediaTypeOCIManifest, withLayers(wrongSize), http.StatusBadRequest, CodeManifestInvalid},
		{"data field differs from digest", "bad", MediaTypeOCIManifest, withLayers(badData), http.StatusBadRequest, CodeManifestInvalid},
		{"invalid descriptor digest", "bad", MediaTypeOCIManifest, withLayers(map[string]any{"mediaType": "a/b", "digest": "sha256:xyz", "size": 1}), http.StatusBadRequest, CodeManifestInvalid},
		{"index with unknown child", "bad", MediaTypeOCIIndex, mustJSON(t, map[string]any{
			"schemaVersion": 2, "mediaType": MediaTypeOCIIndex,
			"manifests": []any{descriptor(MediaTypeOCIManifest, []byte("not pushed"))},
		}), http.StatusBadRequest, CodeManifestBlobUnknown},
		{"invalid repository name", "bad", MediaTypeOCIManifest, img.manifest, http.StatusBadRequest, CodeNameInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			repo := "m"
			if tc.code == CodeNameInvalid {
				repo = "M_"
			}
			expect(t, s.putManifest(repo, tc.ref, tc.contentType, tc.body), tc.status, tc.code)
		})
	}
	// Nothing was stored by the failed pushes.
	expect(t, s.do("GET", "/v2/m/manifests/bad", nil), http.StatusNotFound, CodeManifestUnknown)
	tags, _, err := s.reg.Tags(t.Context(), "m", "", -1)
	if err != nil || len(tags) != 0 {
		t.Fatalf("tags after failed pushes: %v %v", tags, err)
	}
	expect(t, s.do("GET", "/v2/m/manifests/sha256:baddigeststring", nil), http.StatusBadRequest, CodeDigestInvalid)
	expect(t, s.do("GET", "/v2/m/manifests/"+digest.FromString("absent").String(), nil), http.StatusNotFound, CodeManifestUnknown)
}
