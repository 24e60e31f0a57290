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

// BenchmarkBlobPushPull measures HTTP throughput of a monolithic blob push
// and a full pull through the handler on loopback.
func BenchmarkBlobPushPull(b *testing.B) {
	reg, err := Open(Config{Root: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer reg.Close()
	srv := httptest.NewServer(reg.Handler())
	defer srv.Close()
	const size = 64 << 20
	blob := make([]byte, size)
	rand.Read(blob)
	b.SetBytes(2 * size)
	b.ResetTimer()
	for i := range b.N {
		blob[0] = byte(i) // a new digest each round
		d := digest.FromBytes(blob)
		url := fmt.Sprintf("%s/v2/bench/blobs/uploads/?digest=%s", srv.URL, d)
		resp, err := http.Post(url, "application/octet-stream", bytes.NewReader(blob))
		if err != nil || resp.StatusCode != http.StatusCreated {
			b.Fatalf("push: %v %v", resp, err)
		}
		resp.Body.Close()
		resp, err = http.Get(srv.URL + "/v2/bench/blobs/" + d.String())
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("pull: %v %v", resp, err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if n != size {
			b.Fatalf("pulled %d bytes", n)
		}
	}
}
