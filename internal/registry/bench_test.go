package registry

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/opencontainers/go-digest"
)

const benchBlobSize = 64 << 20

// benchServer starts a registry for a benchmark and returns its URL.
func benchServer(b *testing.B) string {
	b.Helper()
	reg, err := Open(Config{Root: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(reg.Handler())
	b.Cleanup(func() {
		srv.Close()
		reg.Close()
	})
	return srv.URL
}

func benchPush(b *testing.B, url string, blob []byte) digest.Digest {
	d := digest.FromBytes(blob)
	resp, err := http.Post(fmt.Sprintf("%s/v2/bench/blobs/uploads/?digest=%s", url, d), "application/octet-stream", bytes.NewReader(blob))
	if err != nil || resp.StatusCode != http.StatusCreated {
		b.Fatalf("push: %v %v", resp, err)
	}
	resp.Body.Close()
	return d
}

// BenchmarkBlobPush measures a monolithic blob push over loopback
// (client-side hashing excluded).
func BenchmarkBlobPush(b *testing.B) {
	url := benchServer(b)
	blob := make([]byte, benchBlobSize)
	rand.Read(blob)
	b.SetBytes(benchBlobSize)
	b.StopTimer()
	for i := 0; i < b.N; i++ {
		blob[0] = byte(i) // a new blob each round
		d := digest.FromBytes(blob)
		b.StartTimer()
		resp, err := http.Post(fmt.Sprintf("%s/v2/bench/blobs/uploads/?digest=%s", url, d), "application/octet-stream", bytes.NewReader(blob))
		b.StopTimer()
		if err != nil || resp.StatusCode != http.StatusCreated {
			b.Fatalf("push: %v %v", resp, err)
		}
		resp.Body.Close()
	}
}

// BenchmarkBlobPull measures a full blob pull over loopback.
func BenchmarkBlobPull(b *testing.B) {
	url := benchServer(b)
	blob := make([]byte, benchBlobSize)
	rand.Read(blob)
	d := benchPush(b, url, blob)
	b.SetBytes(benchBlobSize)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp, err := http.Get(url + "/v2/bench/blobs/" + d.String())
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("pull: %v %v", resp, err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if n != benchBlobSize {
			b.Fatalf("pulled %d bytes", n)
		}
	}
}
