package registry

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

func TestBaseEndpoint(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, Config{})
	r := s.do("GET", "/v2/", nil)
	expect(t, r, http.StatusOK, "")
	if got := r.header.Get("Docker-Distribution-API-Version"); got != "registry/2.0" {
		t.Fatalf("Docker-Distribution-API-Version = %q", got)
	}
}

func TestPushMonolithicPost(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, Config{})
	content := randomBytes(t, 4096)
	d := digest.FromBytes(content)

	expect(t, s.do("GET", "/v2/a/blobs/"+d.String(), nil), http.StatusNotFound, CodeBlobUnknown)
	r := s.do("POST", "/v2/a/blobs/uploads/?digest="+d.String(), content, "Content-Type", "application/octet-stream")
	expect(t, r, http.StatusCreated, "")
	if r.header.Get("Location") != "/v2/a/blobs/"+d.String() {
		t.Fatalf("Location = %q", r.header.Get("Location"))
	}
	checkBlob(t, s, "a", content)
}

// checkBlob checks GET and HEAD of a stored blob.
func checkBlob(t *testing.T, s *testServer, repo string, content []byte) {
	t.Helper()
	d := digest.FromBytes(content)
	get := s.do("GET", "/v2/"+repo+"/blobs/"+d.String(), nil)
	expect(t, get, http.StatusOK, "")
	if !bytes.Equal(get.body, content) {
		t.Fatalf("GET blob returned %d bytes, want %d", len(get.body), len(content))
	}
	head := s.do("HEAD", "/v2/"+repo+"/blobs/"+d.String(), nil)
	expect(t, head, http.StatusOK, "")
	if head.header.Get("Content-Length") != strconv.Itoa(len(content)) || head.header.Get("Docker-Content-Digest") != d.String() {
		t.Fatalf("HEAD headers %v", head.header)
	}
	if len(head.body) != 0 {
		t.Fatal("HEAD returned a body")
	}
}

func TestPushPostThenPut(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, Config{})
	content := randomBytes(t, 3000)
	d := digest.FromBytes(content)
	r := s.do("POST", "/v2/a/blobs/uploads/", nil)
	expect(t, r, http.StatusAccepted, "")
	loc := r.header.Get("Location")
	if loc == "" || r.header.Get("Docker-Upload-UUID") == "" {
		t.Fatalf("POST headers %v", r.header)
	}
	r = s.do("PUT", loc+"?digest="+d.String(), content, "Content-Type", "application/octet-stream")
	expect(t, r, http.StatusCreated, "")
	checkBlob(t, s, "a", content)
}

func TestPushStreamed(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, Config{})
	content := randomBytes(t, 5000)
	d := digest.FromBytes(content)
	loc := s.do("POST", "/v2/a/b/c/blobs/uploads/", nil).header.Get("Location")
	r := s.do("PATCH", loc, content, "Content-Type", "application/octet-stream")
	expect(t, r, http.StatusAccepted, "")
	if r.header.Get("Range") != "0-4999" {
		t.Fatalf("Range = %q", r.header.Get("Range"))
	}
	expect(t, s.do("PUT", r.header.Get("Location")+"?digest="+d.String(), nil), http.StatusCreated, "")
	checkBlob(t, s, "a/b/c", content)
}

func TestPushChunked(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		putLastChunk bool
	}{
		{"last chunk by PATCH", false},
		{"last chunk by PUT", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newTestServer(t, Config{})
			content := randomBytes(t, 3000)
			d := digest.FromBytes(content)
			loc := s.do("POST", "/v2/a/blobs/uploads/", nil, "Content-Length", "0").header.Get("Location")
			chunks := [][2]int{{0, 1000}, {1000, 2000}, {2000, 3000}}

			// The second chunk first: out of order.
			r := s.do("PATCH", loc, content[1000:2000], "Content-Range", "1000-1999")
			expect(t, r, http.StatusRequestedRangeNotSatisfiable, CodeBlobUploadInvalid)
			if r.header.Get("Range") != "0-0" {
				t.Fatalf("Range after refused chunk = %q", r.header.Get("Range"))
			}
			for i, c := range chunks {
				rng := fmt.Sprintf("%d-%d", c[0], c[1]-1)
				if i == len(chunks)-1 && tc.putLastChunk {
					r = s.do("PUT", loc+"?digest="+d.String(), content[c[0]:c[1]], "Content-Range", rng)
					expect(t, r, http.StatusCreated, "")
					break
				}
				r = s.do("PATCH", loc, content[c[0]:c[1]], "Content-Range", rng, "Content-Type", "application/octet-stream")
				expect(t, r, http.StatusAccepted, "")
				if r.header.Get("Range") != fmt.Sprintf("0-%d", c[1]-1) {
					t.Fatalf("Range = %q after chunk %s", r.header.Get("Range"), rng)
				}
				loc = r.header.Get("Location")
				st := s.do("GET", loc, nil)
				expect(t, st, http.StatusNoContent, "")
				if st.header.Get("Range") != r.header.Get("Range") {
					t.Fatalf("status Range = %q, want %q", st.header.Get("Range"), r.header.Get("Range"))
				}
			}
			if !tc.putLastChunk {
				expect(t, s.do("PUT", loc+"?digest="+d.String(), nil), http.StatusCreated, "")
			}
			checkBlob(t, s, "a", content)
		})
	}
}

func TestPushDigestAlgorithmsAndSpecialBlobs(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, Config{})
	tests := []struct {
		name    string
		alg     digest.Algorithm
		content []byte
	}{
		{"sha256 random", digest.SHA256, randomBytes(t, 512)},
		{"sha512 random", digest.SHA512, randomBytes(t, 512)},
		{"sha256 empty blob", digest.SHA256, []byte{}},
		{"sha512 empty blob", digest.SHA512, []byte{}},
		{"empty JSON", digest.SHA256, []byte("{}")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.alg.FromBytes(tc.content)
			loc := s.do("POST", "/v2/algs/blobs/uploads/", nil).header.Get("Location")
			r := s.do("PUT", loc+"?digest="+d.String(), tc.content)
			expect(t, r, http.StatusCreated, "")
			if r.header.Get("Docker-Content-Digest") != d.String() {
				t.Fatalf("Docker-Content-Digest = %q", r.header.Get("Docker-Content-Digest"))
			}
			get := s.do("GET", "/v2/algs/blobs/"+d.String(), nil)
			expect(t, get, http.StatusOK, "")
			if !bytes.Equal(get.body, tc.content) {
				t.Fatal("content differs")
			}
		})
	}
}

func TestPushErrors(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, Config{})
	content := randomBytes(t, 2000)
	good := digest.FromBytes(content)
	wrong := digest.FromBytes(append([]byte("oh no"), content...))
	tests := []struct {
		name   string
		run    func() response
		status int
		code   Code
	}{
		{"monolithic post with wrong digest", func() response {
			return s.do("POST", "/v2/e/blobs/uploads/?digest="+wrong.String(), content)
		}, http.StatusBadRequest, CodeDigestInvalid},
		{"put with wrong digest", func() response {
			loc := s.do("POST", "/v2/e/blobs/uploads/", nil).header.Get("Location")
			return s.do("PUT", loc+"?digest="+wrong.String(), content)
		}, http.StatusBadRequest, CodeDigestInvalid},
		{"chunked upload with wrong digest", func() response {
			loc := s.do("POST", "/v2/e/blobs/uploads/", nil).header.Get("Location")
			s.do("PATCH", loc, content[:1000], "Content-Range", "0-999")
			s.do("PATCH", loc, content[1000:], "Content-Range", "1000-1999")
			return s.do("PUT", loc+"?digest="+wrong.String(), nil)
		}, http.StatusBadRequest, CodeDigestInvalid},
		{"truncated upload", func() response {
			loc := s.do("POST", "/v2/e/blobs/uploads/", nil).header.Get("Location")
			s.do("PATCH", loc, content[:1000])
			return s.do("PUT", loc+"?digest="+good.String(), nil)
		}, http.StatusBadRequest, CodeDigestInvalid},
		{"malformed digest", func() response {
			loc := s.do("POST", "/v2/e/blobs/uploads/", nil).header.Get("Location")
			return s.do("PUT", loc+"?digest=sha256:nothex", content)
		}, http.StatusBadRequest, CodeDigestInvalid},
		{"unsupported digest algorithm", func() response {
			return s.do("POST", "/v2/e/blobs/uploads/?digest=md5:d41d8cd98f00b204e9800998ecf8427e", content)
		}, http.StatusBadRequest, CodeDigestInvalid},
		{"put without digest", func() response {
			loc := s.do("POST", "/v2/e/blobs/uploads/", nil).header.Get("Location")
			return s.do("PUT", loc, content)
		}, http.StatusBadRequest, CodeDigestInvalid},
		{"patch to unknown upload", func() response {
			return s.do("PATCH", "/v2/e/blobs/uploads/nosuchupload", content)
		}, http.StatusNotFound, CodeBlobUploadUnknown},
		{"status of unknown upload", func() response {
			return s.do("GET", "/v2/e/blobs/uploads/nosuchupload", nil)
		}, http.StatusNotFound, CodeBlobUploadUnknown},
		{"upload of another repository", func() response {
			loc := s.do("POST", "/v2/other/blobs/uploads/", nil).header.Get("Location")
			id := loc[len("/v2/other/blobs/uploads/"):]
			return s.do("GET", "/v2/e/blobs/uploads/"+id, nil)
		}, http.StatusNotFound, CodeBlobUploadUnknown},
		{"content range not matching length", func() response {
			loc := s.do("POST", "/v2/e/blobs/uploads/", nil).header.Get("Location")
			return s.do("PATCH", loc, content[:100], "Content-Range", "0-499")
		}, http.StatusRequestedRangeNotSatisfiable, CodeBlobUploadInvalid},
		{"malformed content range", func() response {
			loc := s.do("POST", "/v2/e/blobs/uploads/", nil).header.Get("Location")
			return s.do("PATCH", loc, content[:100], "Content-Range", "zero-99")
		}, http.StatusRequestedRangeNotSatisfiable, CodeBlobUploadInvalid},
		{"invalid repository name", func() response {
			return s.do("POST", "/v2/Upper/blobs/uploads/", nil)
		}, http.StatusBadRequest, CodeNameInvalid},
		{"invalid repository name with double slash", func() response {
			return s.do("POST", "/v2/a//b/blobs/uploads/", nil)
		}, http.StatusBadRequest, CodeNameInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			expect(t, tc.run(), tc.status, tc.code)
		})
	}
	// Nothing of the failed pushes is visible.
	for _, d := range []digest.Digest{good, wrong} {
		expect(t, s.do("HEAD", "/v2/e/blobs/"+d.String(), nil), http.StatusNotFound, "")
		if _, _, err := s.reg.blobs.stat(d); err == nil {
			t.Fatalf("blob %s was stored by a failed push", d)
		}
	}
}

func TestCancelUpload(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, Config{})
	loc := s.do("POST", "/v2/a/blobs/uploads/", nil).header.Get("Location")
	s.do("PATCH", loc, []byte("partial"))
	expect(t, s.do("DELETE", loc, nil), http.StatusNoContent, "")
	expect(t, s.do("GET", loc, nil), http.StatusNotFound, CodeBlobUploadUnknown)
	expect(t, s.do("DELETE", loc, nil), http.StatusNotFound, CodeBlobUploadUnknown)
}

func TestCrossRepositoryMount(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, Config{})
	content := randomBytes(t, 700)
	d := s.pushBlob("source", content)
	missing := digest.FromBytes([]byte("never pushed"))
	tests := []struct {
		name   string
		query  string
		status int
	}{
		{"from a repository holding the blob", "?mount=" + d.String() + "&from=source", http.StatusCreated},
		{"without from", "?mount=" + d.String(), http.StatusCreated},
		{"from a repository without the blob", "?mount=" + d.String() + "&from=empty", http.StatusAccepted},
		{"of a blob nobody has", "?mount=" + missing.String() + "&from=source", http.StatusAccepted},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			repo := fmt.Sprintf("target%d", i)
			r := s.do("POST", "/v2/"+repo+"/blobs/uploads/"+tc.query, nil)
			expect(t, r, tc.status, "")
			if tc.status == http.StatusCreated {
				if r.header.Get("Location") != "/v2/"+repo+"/blobs/"+d.String() {
					t.Fatalf("Location = %q", r.header.Get("Location"))
				}
				checkBlob(t, s, repo, content)
			} else {
				if r.header.Get("Docker-Upload-UUID") == "" {
					t.Fatal("fallback did not open an upload")
				}
				expect(t, s.do("HEAD", "/v2/"+repo+"/blobs/"+d.String(), nil), http.StatusNotFound, "")
			}
		})
	}
	// One file serves both repositories.
	if n := countBlobFiles(t, s.reg); n != 1 {
		t.Fatalf("%d blob files, want 1", n)
	}
}

func countBlobFiles(t *testing.T, reg *Registry) int {
	t.Helper()
	n := 0
	if err := reg.blobs.walk(func(digest.Digest, time.Time) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}
