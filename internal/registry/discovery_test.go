package registry

import (
	"encoding/json"
	"net/http"
	"reflect"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestTagListPagination(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, Config{})
	expect(t, s.do("GET", "/v2/tags/tags/list", nil), http.StatusNotFound, CodeNameUnknown)
	img := s.pushImage("tags", 0, nil)
	for _, tag := range []string{"b", "a", "c", "B", "d1", "d0"} {
		expect(t, s.putManifest("tags", tag, MediaTypeOCIManifest, img.manifest), http.StatusCreated, "")
	}
	tests := []struct {
		name, query string
		want        []string
		link        string
	}{
		{"all in lexical order", "", []string{"B", "a", "b", "c", "d0", "d1"}, ""},
		{"first page", "?n=2", []string{"B", "a"}, `</v2/tags/tags/list?last=a&n=2>; rel="next"`},
		{"after last", "?n=2&last=a", []string{"b", "c"}, `</v2/tags/tags/list?last=c&n=2>; rel="next"`},
		{"last page", "?n=2&last=c", []string{"d0", "d1"}, ""},
		{"last not a tag", "?last=bb", []string{"c", "d0", "d1"}, ""},
		{"past the end", "?last=z", []string{}, ""},
		{"n zero", "?n=0", []string{}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do("GET", "/v2/tags/tags/list"+tc.query, nil)
			expect(t, r, http.StatusOK, "")
			var body struct {
				Name string   `json:"name"`
				Tags []string `json:"tags"`
			}
			if err := json.Unmarshal(r.body, &body); err != nil {
				t.Fatal(err)
			}
			if body.Name != "tags" || !reflect.DeepEqual(body.Tags, tc.want) {
				t.Fatalf("got %+v, want tags %v", body, tc.want)
			}
			if got := r.header.Get("Link"); got != tc.link {
				t.Fatalf("Link = %q, want %q", got, tc.link)
			}
		})
	}
	expect(t, s.do("GET", "/v2/tags/tags/list?n=-1", nil), http.StatusBadRequest, CodeUnsupported)
}

func TestCatalogPagination(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, Config{})
	for _, repo := range []string{"zeta", "alpha", "team/app", "team/db"} {
		s.pushBlob(repo, []byte(repo))
	}
	var all []string
	path := "/v2/_catalog?n=3"
	for i := 0; path != "" && i < 10; i++ {
		r := s.do("GET", path, nil)
		expect(t, r, http.StatusOK, "")
		var body struct{ Repositories []string }
		if err := json.Unmarshal(r.body, &body); err != nil {
			t.Fatal(err)
		}
		all = append(all, body.Repositories...)
		path = ""
		if link := r.header.Get("Link"); link != "" {
			path = link[1 : len(link)-len(`>; rel="next"`)]
		}
	}
	want := []string{"alpha", "team/app", "team/db", "zeta"}
	if !reflect.DeepEqual(all, want) {
		t.Fatalf("catalog %v, want %v", all, want)
	}
}

func TestReferrers(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, Config{})
	subject := s.pushImage("r", 1, nil)
	subjectDesc := map[string]any{"mediaType": MediaTypeOCIManifest, "digest": subject.digest.String(), "size": len(subject.manifest)}
	s.pushBlob("r", []byte("{}"))
	sbomConfig := []byte(`{"sbom":true}`)
	s.pushBlob("r", sbomConfig)
	sig := randomBytes(t, 50)
	s.pushBlob("r", sig)

	// A referrer with artifactType, pushed before its subject exists.
	signature := mustJSON(t, map[string]any{
		"schemaVersion": 2, "mediaType": MediaTypeOCIManifest, "artifactType": "application/vnd.example.signature",
		"config":      descriptor("application/vnd.oci.empty.v1+json", []byte("{}")),
		"layers":      []any{descriptor("application/octet-stream", sig)},
		"subject":     subjectDesc,
		"annotations": map[string]string{"org.example": "signed"},
	})
	sigDigest := digest.FromBytes(signature)
	r := s.putManifest("r", sigDigest.String(), MediaTypeOCIManifest, signature)
	expect(t, r, http.StatusCreated, "")
	if r.header.Get("OCI-Subject") != subject.digest.String() {
		t.Fatalf("OCI-Subject = %q", r.header.Get("OCI-Subject"))
	}
	expect(t, s.putManifest("r", "v1", MediaTypeOCIManifest, subject.manifest), http.StatusCreated, "")
	if r := s.putManifest("r", "v1", MediaTypeOCIManifest, subject.manifest); r.header.Get("OCI-Subject") != "" {
		t.Fatal("OCI-Subject set for a manifest without subject")
	}
	// A referrer whose artifact type is its config media type.
	sbom := mustJSON(t, map[string]any{
		"schemaVersion": 2, "mediaType": MediaTypeOCIManifest,
		"config":  descriptor("application/vnd.example.sbom", sbomConfig),
		"layers":  []any{},
		"subject": subjectDesc,
	})
	sbomDigest := digest.FromBytes(sbom)
	expect(t, s.putManifest("r", "sbom", MediaTypeOCIManifest, sbom), http.StatusCreated, "")

	tests := []struct {
		name, subject, query string
		want                 []digest.Digest
		filtered             bool
	}{
		{"all referrers", subject.digest.String(), "", []digest.Digest{sigDigest, sbomDigest}, false},
		{"filtered by artifactType", subject.digest.String(), "?artifactType=application/vnd.example.signature", []digest.Digest{sigDigest}, true},
		{"filter by config media type", subject.digest.String(), "?artifactType=application/vnd.example.sbom", []digest.Digest{sbomDigest}, true},
		{"filter matching nothing", subject.digest.String(), "?artifactType=application/none", nil, true},
		{"unknown subject", digest.FromString("nothing").String(), "", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do("GET", "/v2/r/referrers/"+tc.subject+tc.query, nil)
			expect(t, r, http.StatusOK, "")
			if r.header.Get("Content-Type") != MediaTypeOCIIndex {
				t.Fatalf("Content-Type = %q", r.header.Get("Content-Type"))
			}
			if got := r.header.Get("OCI-Filters-Applied"); (got == "artifactType") != tc.filtered {
				t.Fatalf("OCI-Filters-Applied = %q", got)
			}
			var idx ocispec.Index
			if err := json.Unmarshal(r.body, &idx); err != nil {
				t.Fatal(err)
			}
			if idx.SchemaVersion != 2 || idx.MediaType != MediaTypeOCIIndex || idx.Manifests == nil {
				t.Fatalf("index %s", r.body)
			}
			got := map[digest.Digest]ocispec.Descriptor{}
			for _, d := range idx.Manifests {
				got[d.Digest] = d
			}
			if len(got) != len(tc.want) {
				t.Fatalf("referrers %s, want %v", r.body, tc.want)
			}
			for _, d := range tc.want {
				if _, ok := got[d]; !ok {
					t.Fatalf("referrer %s missing from %s", d, r.body)
				}
			}
			if d, ok := got[sigDigest]; ok && (d.ArtifactType != "application/vnd.example.signature" ||
				d.Annotations["org.example"] != "signed" || d.Size != int64(len(signature)) || d.MediaType != MediaTypeOCIManifest) {
				t.Fatalf("signature descriptor %+v", d)
			}
			if d, ok := got[sbomDigest]; ok && d.ArtifactType != "application/vnd.example.sbom" {
				t.Fatalf("sbom descriptor %+v", d)
			}
		})
	}
	expect(t, s.do("GET", "/v2/r/referrers/sha256:short", nil), http.StatusBadRequest, CodeDigestInvalid)

	// Deleting a referrer takes it out of the list.
	expect(t, s.do("DELETE", "/v2/r/manifests/"+sigDigest.String(), nil), http.StatusAccepted, "")
	r = s.do("GET", "/v2/r/referrers/"+subject.digest.String(), nil)
	var idx ocispec.Index
	if err := json.Unmarshal(r.body, &idx); err != nil || len(idx.Manifests) != 1 || idx.Manifests[0].Digest != sbomDigest {
		t.Fatalf("referrers after delete: %s", r.body)
	}
}
