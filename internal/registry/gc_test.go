package registry

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

func TestGCRemovesOnlyUnreferencedBlobs(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{now: time.Now()}
	s := newTestServer(t, Config{Clock: clk})
	ctx := t.Context()

	a := s.pushImage("a", 2, nil)
	expect(t, s.putManifest("a", "v1", MediaTypeOCIManifest, a.manifest), http.StatusCreated, "")
	// b shares a's first layer (mounted, so stored once) and has its own.
	expect(t, s.do("POST", "/v2/b/blobs/uploads/?mount="+a.layers[0].String()+"&from=a", nil), http.StatusCreated, "")
	b := s.pushImage("b", 1, nil)
	bManifest := mustJSON(t, map[string]any{
		"schemaVersion": 2, "mediaType": MediaTypeOCIManifest,
		"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": b.config, "size": blobSize(t, s, "b", b.config)},
		"layers": []any{
			map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": a.layers[0], "size": blobSize(t, s, "a", a.layers[0])},
			map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": b.layers[0], "size": blobSize(t, s, "b", b.layers[0])},
		},
	})
	expect(t, s.putManifest("b", "v1", MediaTypeOCIManifest, bManifest), http.StatusCreated, "")
	orphan := s.pushBlob("a", randomBytes(t, 10))
	expect(t, s.do("DELETE", "/v2/a/manifests/"+a.digest.String(), nil), http.StatusAccepted, "")

	// Within the grace period nothing goes.
	res, err := s.reg.GC(ctx)
	if err != nil || res.BlobsDeleted != 0 {
		t.Fatalf("GC within grace: %+v %v", res, err)
	}
	clk.Advance(2 * time.Hour)
	res, err = s.reg.GC(ctx)
	if err != nil {
		t.Fatal(err)
	}
	gone := []digest.Digest{a.digest, a.config, a.layers[1], orphan}
	kept := []digest.Digest{digest.FromBytes(bManifest), b.config, a.layers[0], b.layers[0]}
	if res.BlobsDeleted != len(gone) || res.BytesFreed <= 0 {
		t.Fatalf("GC result %+v, want %d blobs deleted", res, len(gone))
	}
	for _, d := range gone {
		if _, _, err := s.reg.blobs.stat(d); err == nil {
			t.Errorf("blob %s survived GC", d)
		}
	}
	expect(t, s.do("HEAD", "/v2/a/blobs/"+a.layers[1].String(), nil), http.StatusNotFound, "")
	for _, d := range kept {
		if _, _, err := s.reg.blobs.stat(d); err != nil {
			t.Errorf("blob %s was collected: %v", d, err)
		}
	}
	for _, d := range []digest.Digest{b.config, a.layers[0], b.layers[0]} {
		expect(t, s.do("GET", "/v2/b/blobs/"+d.String(), nil), http.StatusOK, "")
	}
	expect(t, s.do("GET", "/v2/b/manifests/v1", nil), http.StatusOK, "")
}

func blobSize(t *testing.T, s *testServer, repo string, d digest.Digest) int64 {
	t.Helper()
	n, err := s.reg.BlobSize(t.Context(), repo, d)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestGCExpiresAbandonedUploads(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{now: time.Now()}
	s := newTestServer(t, Config{Clock: clk})
	loc := s.do("POST", "/v2/u/blobs/uploads/", nil).header.Get("Location")
	s.do("PATCH", loc, []byte("abandoned"))
	clk.Advance(2 * time.Hour)
	res, err := s.reg.GC(t.Context())
	if err != nil || res.UploadsExpired != 1 {
		t.Fatalf("GC %+v %v", res, err)
	}
	expect(t, s.do("GET", loc, nil), http.StatusNotFound, CodeBlobUploadUnknown)
}

// TestGCDuringPushes runs collections while images are pushed: every
// manifest that was accepted must find all its blobs afterwards.
func TestGCDuringPushes(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{now: time.Now().Add(24 * time.Hour)} // stored files look old
	s := newTestServer(t, Config{Clock: clk, GCGrace: time.Minute})
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 500; i++ {
			select {
			case <-done:
				return
			default:
			}
			if _, err := s.reg.GC(t.Context()); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	var pushed []testImage
	for i := 0; i < 15; i++ {
		repo := fmt.Sprintf("p%d", i%3)
		img := s.pushImage(repo, 2, nil)
		expect(t, s.putManifest(repo, fmt.Sprintf("t%d", i), MediaTypeOCIManifest, img.manifest), http.StatusCreated, "")
		pushed = append(pushed, img)
	}
	close(done)
	wg.Wait()
	clk.Advance(time.Hour) // every link is now old: only manifests keep blobs
	if _, err := s.reg.GC(t.Context()); err != nil {
		t.Fatal(err)
	}
	for i, img := range pushed {
		repo := fmt.Sprintf("p%d", i%3)
		for _, d := range append([]digest.Digest{img.config}, img.layers...) {
			expect(t, s.do("GET", "/v2/"+repo+"/blobs/"+d.String(), nil), http.StatusOK, "")
		}
		expect(t, s.do("GET", "/v2/"+repo+"/manifests/"+img.digest.String(), nil), http.StatusOK, "")
	}
}

func TestRunGCCollectsOnSchedule(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, Config{GCGrace: time.Millisecond})
	orphan := s.pushBlob("orphan", randomBytes(t, 100))
	ctx, cancel := context.WithCancel(t.Context())
	stopped := make(chan struct{})
	go func() {
		s.reg.RunGC(ctx, 10*time.Millisecond)
		close(stopped)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, _, err := s.reg.blobs.stat(orphan); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("RunGC never collected the orphan blob")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-stopped
}
