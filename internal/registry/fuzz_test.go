package registry

import (
	"strings"
	"testing"
)

// FuzzParseManifest checks that no input panics the manifest parser and
// that accepted manifests have a supported media type and valid digests.
func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"a/b","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}`), "")
	f.Add([]byte(`{"schemaVersion":2,"manifests":[]}`), MediaTypeOCIIndex)
	f.Add([]byte(`{"schemaVersion":2,"config":{"digest":"sha256:x","size":-1,"data":"e30="}}`), MediaTypeDockerManifest)
	f.Add([]byte(`[]`), "application/json")
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		p, err := parseManifest(body, contentType)
		if err != nil {
			if asError(err).Code == "" {
				t.Fatalf("error without code: %v", err)
			}
			return
		}
		if !isImageType(p.MediaType) && !isIndexType(p.MediaType) {
			t.Fatalf("accepted media type %q", p.MediaType)
		}
		for _, d := range p.descriptors() {
			if d.Digest.Validate() != nil || d.Size < 0 {
				t.Fatalf("accepted descriptor %+v", d)
			}
		}
	})
}

// FuzzParseRoute checks that routes never panic and that every parsed
// route with a name splits the path back together.
func FuzzParseRoute(f *testing.F) {
	for _, s := range []string{"/v2/", "/v2/_catalog", "/v2/a/b/tags/list", "/v2/a/blobs/uploads/", "/v2/a/blobs/uploads/id",
		"/v2/a/manifests/latest", "/v2/x/blobs/sha256:abc", "/v2/a/referrers/sha256:abc", "/v2//manifests/x", "/v3/a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		rt, ok := parseRoute(path)
		if !ok || rt.name == "" {
			return
		}
		if !strings.HasPrefix(path, "/v2/"+rt.name+"/") {
			t.Fatalf("route %+v does not start path %q", rt, path)
		}
		if strings.Contains(rt.ref, "/") {
			t.Fatalf("reference %q contains a slash", rt.ref)
		}
	})
}
