package registry

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"testing"

	"github.com/opencontainers/go-digest"
)

// TestUploadWriteback pushes blobs larger than writebackChunk in chunks
// that do not line up with it, and checks that writeback was started for
// the bytes received while the stored blob still matches what was sent.
func TestUploadWriteback(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		chunks []int
	}{
		{name: "one chunk", chunks: []int{writebackChunk*2 + 5}},
		{name: "chunks across the boundary", chunks: []int{writebackChunk - 1, 2, writebackChunk + 3}},
		{name: "small chunks", chunks: []int{3 << 20, 3 << 20, 3 << 20, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reg, err := Open(Config{Root: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { reg.Close() })
			ctx := context.Background()
			id, err := reg.StartUpload(ctx, "wb")
			if err != nil {
				t.Fatal(err)
			}
			var sent bytes.Buffer
			for _, n := range tt.chunks {
				chunk := make([]byte, n)
				rand.Read(chunk)
				sent.Write(chunk)
				if _, err := reg.AppendUpload(ctx, "wb", id, int64(sent.Len()-n), bytes.NewReader(chunk)); err != nil {
					t.Fatal(err)
				}
			}
			u, err := reg.uploads.get("wb", id)
			if err != nil {
				t.Fatal(err)
			}
			if floor := int64(sent.Len()) - writebackChunk; u.queued <= floor {
				t.Errorf("writeback queued %d of %d bytes, want more than %d", u.queued, sent.Len(), floor)
			}
			d := digest.FromBytes(sent.Bytes())
			if _, err := reg.CompleteUpload(ctx, "wb", id, d); err != nil {
				t.Fatal(err)
			}
			f, _, err := reg.OpenBlob(ctx, "wb", d)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, err := io.ReadAll(f)
			if err != nil || !bytes.Equal(got, sent.Bytes()) {
				t.Fatalf("stored blob differs from the %d bytes sent (read %d, %v)", sent.Len(), len(got), err)
			}
		})
	}
}
