package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// routeKind names the endpoint families of the distribution spec.
type routeKind int

const (
	routeBase routeKind = iota
	routeCatalog
	routeTags
	routeManifest
	routeBlob
	routeUpload
	routeReferrers
)

// route is a parsed /v2/ path: the endpoint, the repository name (which
// may contain slashes) and the last path element (reference, digest or
// upload ID).
type route struct {
	kind routeKind
	name string
	ref  string
}

// parseRoute splits a /v2/ path. Names may contain slashes, so the
// endpoint is recognised from the end of the path.
func parseRoute(path string) (route, bool) {
	if path == "/v2/" || path == "/v2" {
		return route{kind: routeBase}, true
	}
	rest, ok := strings.CutPrefix(path, "/v2/")
	if !ok {
		return route{}, false
	}
	if rest == "_catalog" {
		return route{kind: routeCatalog}, true
	}
	segs := strings.Split(rest, "/")
	n := len(segs)
	join := func(k int) string { return strings.Join(segs[:k], "/") }
	switch {
	case n >= 3 && segs[n-2] == "tags" && segs[n-1] == "list":
		return route{kind: routeTags, name: join(n - 2)}, true
	case n >= 4 && segs[n-3] == "blobs" && segs[n-2] == "uploads":
		return route{kind: routeUpload, name: join(n - 3), ref: segs[n-1]}, true
	case n >= 3 && segs[n-2] == "blobs" && segs[n-1] == "uploads":
		return route{kind: routeUpload, name: join(n - 2)}, true
	case n >= 3 && segs[n-2] == "blobs":
		return route{kind: routeBlob, name: join(n - 2), ref: segs[n-1]}, true
	case n >= 3 && segs[n-2] == "manifests":
		return route{kind: routeManifest, name: join(n - 2), ref: segs[n-1]}, true
	case n >= 3 && segs[n-2] == "referrers":
		return route{kind: routeReferrers, name: join(n - 2), ref: segs[n-1]}, true
	}
	return route{}, false
}

// scope is the Docker token scope a request needs, for challenges.
func (rt route) scope(method string) string {
	if rt.name == "" {
		if rt.kind == routeCatalog {
			return "registry:catalog:*"
		}
		return ""
	}
	if method == http.MethodGet || method == http.MethodHead {
		return "repository:" + rt.name + ":pull"
	}
	return "repository:" + rt.name + ":pull,push"
}

// Handler serves the OCI Distribution API under /v2/ and the token
// endpoint at TokenPath. kumo mounts it on its single endpoint.
func (r *Registry) Handler() http.Handler {
	return http.HandlerFunc(r.serveHTTP)
}

func (r *Registry) serveHTTP(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path == TokenPath {
		r.serveToken(w, req)
		return
	}
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	rt, ok := parseRoute(req.URL.Path)
	if !ok {
		writeError(w, newError(CodeNameUnknown, "no registry endpoint at %s", req.URL.Path))
		return
	}
	if _, ok := r.authenticate(req); !ok {
		r.challenge(w, req, rt.scope(req.Method))
		return
	}
	if err := r.dispatch(w, req, rt); err != nil {
		var regErr *Error
		if !errors.As(err, &regErr) {
			slog.Error("registry: request failed", "method", req.Method, "path", req.URL.Path, "err", err)
		}
		writeError(w, err)
	}
}

// dispatch serves an authenticated request on its endpoint.
func (r *Registry) dispatch(w http.ResponseWriter, req *http.Request, rt route) error {
	if rt.kind != routeBase && rt.kind != routeCatalog {
		if err := ValidateName(rt.name); err != nil {
			return err
		}
	}
	switch rt.kind {
	case routeBase:
		return r.serveBase(w, req)
	case routeCatalog:
		return r.serveCatalog(w, req)
	case routeTags:
		return r.serveTags(w, req, rt)
	case routeManifest:
		return r.serveManifest(w, req, rt)
	case routeBlob:
		return r.serveBlob(w, req, rt)
	case routeUpload:
		return r.serveUpload(w, req, rt)
	default:
		return r.serveReferrers(w, req, rt)
	}
}

func methodNotAllowed(req *http.Request) error {
	return newError(CodeUnsupported, "method %s is not supported here", req.Method)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (r *Registry) serveBase(w http.ResponseWriter, req *http.Request) error {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		return methodNotAllowed(req)
	}
	writeJSON(w, http.StatusOK, struct{}{})
	return nil
}

// maxPage caps the n of listings.
const maxPage = 1000

// pageParams reads the n and last query parameters; n is -1 when absent.
func pageParams(q url.Values) (int, string, error) {
	n := maxPage
	if s := q.Get("n"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 {
			return 0, "", &Error{Code: CodeUnsupported, Message: fmt.Sprintf("invalid page size n=%q", s), Status: http.StatusBadRequest}
		}
		n = min(v, maxPage)
	}
	return n, q.Get("last"), nil
}

// setNextLink sets the RFC 5988 Link header to the next page.
func setNextLink(w http.ResponseWriter, path string, n int, last string) {
	q := url.Values{"n": {strconv.Itoa(n)}, "last": {last}}
	w.Header().Set("Link", "<"+path+"?"+q.Encode()+`>; rel="next"`)
}

func (r *Registry) serveCatalog(w http.ResponseWriter, req *http.Request) error {
	if req.Method != http.MethodGet {
		return methodNotAllowed(req)
	}
	n, last, err := pageParams(req.URL.Query())
	if err != nil {
		return err
	}
	names, more, err := r.Repositories(req.Context(), last, n)
	if err != nil {
		return err
	}
	if more && len(names) > 0 {
		setNextLink(w, "/v2/_catalog", n, names[len(names)-1])
	}
	writeJSON(w, http.StatusOK, map[string][]string{"repositories": names})
	return nil
}

func (r *Registry) serveTags(w http.ResponseWriter, req *http.Request, rt route) error {
	if req.Method != http.MethodGet {
		return methodNotAllowed(req)
	}
	n, last, err := pageParams(req.URL.Query())
	if err != nil {
		return err
	}
	tags, more, err := r.Tags(req.Context(), rt.name, last, n)
	if err != nil {
		return err
	}
	if more && len(tags) > 0 {
		setNextLink(w, "/v2/"+rt.name+"/tags/list", n, tags[len(tags)-1])
	}
	writeJSON(w, http.StatusOK, struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}{rt.name, tags})
	return nil
}

func (r *Registry) serveManifest(w http.ResponseWriter, req *http.Request, rt route) error {
	ctx := req.Context()
	switch req.Method {
	case http.MethodHead:
		img, err := r.Image(ctx, rt.name, rt.ref)
		if err != nil {
			return err
		}
		setManifestHeaders(w, img.Digest, img.MediaType, img.Size)
		w.WriteHeader(http.StatusOK)
		return nil
	case http.MethodGet:
		m, err := r.GetManifest(ctx, rt.name, rt.ref)
		if err != nil {
			return err
		}
		setManifestHeaders(w, m.Digest, m.MediaType, int64(len(m.Body)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(m.Body)
		ev := Event{Kind: EventManifestPulled, Repository: rt.name, Digest: m.Digest, MediaType: m.MediaType}
		if !isDigestRef(rt.ref) {
			ev.Tags = []string{rt.ref}
		}
		r.emit(ctx, ev)
		return nil
	case http.MethodPut:
		return r.putManifest(w, req, rt)
	case http.MethodDelete:
		if err := r.DeleteManifest(ctx, rt.name, rt.ref); err != nil {
			return err
		}
		w.WriteHeader(http.StatusAccepted)
		return nil
	}
	return methodNotAllowed(req)
}

func setManifestHeaders(w http.ResponseWriter, d digest.Digest, mediaType string, size int64) {
	h := w.Header()
	h.Set("Content-Type", mediaType)
	h.Set("Docker-Content-Digest", d.String())
	h.Set("Content-Length", strconv.FormatInt(size, 10))
	h.Set("Etag", `"`+d.String()+`"`)
}

func (r *Registry) putManifest(w http.ResponseWriter, req *http.Request, rt route) error {
	if req.ContentLength > MaxManifestSize {
		return &Error{Code: CodeSizeInvalid, Message: "manifest exceeds 4 MiB", Status: http.StatusRequestEntityTooLarge}
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, MaxManifestSize+1))
	if err != nil {
		return newError(CodeManifestInvalid, "reading manifest: %v", err)
	}
	res, err := r.PutManifest(req.Context(), rt.name, rt.ref, req.Header.Get("Content-Type"), body, req.URL.Query()["tag"]...)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Location", "/v2/"+rt.name+"/manifests/"+res.Digest.String())
	h.Set("Docker-Content-Digest", res.Digest.String())
	if res.Subject != "" {
		h.Set("OCI-Subject", res.Subject.String())
	}
	for _, t := range res.Tags {
		h.Add("OCI-Tag", t)
	}
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
	return nil
}

func (r *Registry) serveBlob(w http.ResponseWriter, req *http.Request, rt route) error {
	d, err := ParseDigest(rt.ref)
	if err != nil {
		return err
	}
	ctx := req.Context()
	switch req.Method {
	case http.MethodGet, http.MethodHead:
		f, _, err := r.OpenBlob(ctx, rt.name, d)
		if err != nil {
			return err
		}
		defer f.Close()
		h := w.Header()
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Docker-Content-Digest", d.String())
		h.Set("Etag", `"`+d.String()+`"`)
		h.Set("Cache-Control", "max-age=31536000")
		// ServeContent answers HEAD, Range (206/416) and conditional requests.
		http.ServeContent(w, req, "", time.Time{}, f)
		return nil
	case http.MethodDelete:
		if err := r.DeleteBlob(ctx, rt.name, d); err != nil {
			return err
		}
		w.WriteHeader(http.StatusAccepted)
		return nil
	}
	return methodNotAllowed(req)
}

func (r *Registry) serveUpload(w http.ResponseWriter, req *http.Request, rt route) error {
	if rt.ref == "" {
		if req.Method != http.MethodPost {
			return methodNotAllowed(req)
		}
		return r.postUpload(w, req, rt)
	}
	ctx := req.Context()
	switch req.Method {
	case http.MethodGet:
		size, err := r.UploadSize(ctx, rt.name, rt.ref)
		if err != nil {
			return err
		}
		setUploadHeaders(w, rt.name, rt.ref, size)
		w.WriteHeader(http.StatusNoContent)
		return nil
	case http.MethodPatch:
		return r.patchUpload(w, req, rt)
	case http.MethodPut:
		return r.putUpload(w, req, rt)
	case http.MethodDelete:
		if err := r.CancelUpload(ctx, rt.name, rt.ref); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	return methodNotAllowed(req)
}

// setUploadHeaders describes an open session: where to send the next
// chunk and which bytes arrived.
func setUploadHeaders(w http.ResponseWriter, name, id string, size int64) {
	h := w.Header()
	h.Set("Location", "/v2/"+name+"/blobs/uploads/"+id)
	h.Set("Docker-Upload-UUID", id)
	h.Set("Range", fmt.Sprintf("0-%d", max(size-1, 0)))
	h.Set("Content-Length", "0")
}

func setBlobCreated(w http.ResponseWriter, name string, d digest.Digest) {
	h := w.Header()
	h.Set("Location", "/v2/"+name+"/blobs/"+d.String())
	h.Set("Docker-Content-Digest", d.String())
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
}

// postUpload starts an upload: a mount when ?mount= names an available
// blob, a monolithic upload with ?digest=, else an empty session.
func (r *Registry) postUpload(w http.ResponseWriter, req *http.Request, rt route) error {
	ctx := req.Context()
	q := req.URL.Query()
	if m := q.Get("mount"); m != "" {
		d, err := ParseDigest(m)
		if err != nil {
			return err
		}
		mounted, err := r.MountBlob(ctx, rt.name, q.Get("from"), d)
		if err != nil {
			return err
		}
		if mounted {
			setBlobCreated(w, rt.name, d)
			return nil
		}
	}
	if ds := q.Get("digest"); ds != "" {
		d, err := ParseDigest(ds)
		if err != nil {
			return err
		}
		if _, err := r.PutBlob(ctx, rt.name, d, req.Body); err != nil {
			return err
		}
		setBlobCreated(w, rt.name, d)
		return nil
	}
	id, err := r.StartUpload(ctx, rt.name)
	if err != nil {
		return err
	}
	setUploadHeaders(w, rt.name, id, 0)
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// chunkOffset reads a chunk's Content-Range ("<start>-<end>", optionally
// with a "bytes " prefix); -1 when absent, meaning "append".
func chunkOffset(req *http.Request) (int64, error) {
	cr := strings.TrimSpace(req.Header.Get("Content-Range"))
	if cr == "" {
		return -1, nil
	}
	cr = strings.TrimPrefix(cr, "bytes ")
	if i := strings.IndexByte(cr, '/'); i >= 0 {
		cr = cr[:i]
	}
	startS, endS, ok := strings.Cut(cr, "-")
	start, err1 := strconv.ParseInt(startS, 10, 64)
	end, err2 := strconv.ParseInt(endS, 10, 64)
	if !ok || err1 != nil || err2 != nil || start < 0 || end < start {
		e := *errRangeInvalid
		e.Message = fmt.Sprintf("invalid Content-Range %q", req.Header.Get("Content-Range"))
		return 0, &e
	}
	if req.ContentLength >= 0 && req.ContentLength != end-start+1 {
		e := *errRangeInvalid
		e.Message = fmt.Sprintf("Content-Range %q does not match Content-Length %d", req.Header.Get("Content-Range"), req.ContentLength)
		return 0, &e
	}
	return start, nil
}

func (r *Registry) patchUpload(w http.ResponseWriter, req *http.Request, rt route) error {
	ctx := req.Context()
	offset, err := chunkOffset(req)
	if err == nil {
		_, err = r.AppendUpload(ctx, rt.name, rt.ref, offset, req.Body)
	}
	if err != nil {
		if size, serr := r.UploadSize(ctx, rt.name, rt.ref); serr == nil {
			setUploadHeaders(w, rt.name, rt.ref, size)
		}
		return err
	}
	size, err := r.UploadSize(ctx, rt.name, rt.ref)
	if err != nil {
		return err
	}
	setUploadHeaders(w, rt.name, rt.ref, size)
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// putUpload appends an optional last chunk and completes the upload.
func (r *Registry) putUpload(w http.ResponseWriter, req *http.Request, rt route) error {
	ctx := req.Context()
	ds := req.URL.Query().Get("digest")
	if ds == "" {
		return newError(CodeDigestInvalid, "the digest query parameter is required to complete an upload")
	}
	d, err := ParseDigest(ds)
	if err != nil {
		return err
	}
	if req.ContentLength != 0 {
		offset, err := chunkOffset(req)
		if err != nil {
			return err
		}
		if _, err := r.AppendUpload(ctx, rt.name, rt.ref, offset, req.Body); err != nil {
			return err
		}
	}
	if _, err := r.CompleteUpload(ctx, rt.name, rt.ref, d); err != nil {
		return err
	}
	setBlobCreated(w, rt.name, d)
	return nil
}

func (r *Registry) serveReferrers(w http.ResponseWriter, req *http.Request, rt route) error {
	if req.Method != http.MethodGet {
		return methodNotAllowed(req)
	}
	d, err := ParseDigest(rt.ref)
	if err != nil {
		return err
	}
	artifactType := req.URL.Query().Get("artifactType")
	descs, err := r.Referrers(req.Context(), rt.name, d, artifactType)
	if err != nil {
		return err
	}
	if artifactType != "" {
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	body, err := json.Marshal(ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: MediaTypeOCIIndex, Manifests: descs,
	})
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", MediaTypeOCIIndex)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
	return nil
}
