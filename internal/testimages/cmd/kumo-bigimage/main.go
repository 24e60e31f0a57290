// Command kumo-bigimage writes a large single-layer image as an OCI image
// layout, for registry throughput benchmarks (scripts/bench/registry.sh).
//
//	go run ./internal/testimages/cmd/kumo-bigimage -out DIR [-size-mib 200] [-seed 1]
//
// The layer is a gzip stream (stored blocks, no compression) of a tar with
// one file of pseudo-random bytes drawn from ChaCha8 seeded with -seed: the
// same flags always give the same digests, another seed gives a new blob,
// and the bytes are incompressible, so no transport or client compression
// can shortcut a transfer. Clients such as skopeo see an already compressed
// layer and push it unchanged. Everything streams to disk; memory use stays
// small whatever the size. The image's reference name in the layout is
// "latest", so "oci:DIR" names it. The layer digest is printed on stdout.
package main

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"
)

// buildTime dates the file in the layer and the image config, so the
// output depends on the flags alone.
var buildTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const (
	mediaLayer    = "application/vnd.oci.image.layer.v1.tar+gzip"
	mediaConfig   = "application/vnd.oci.image.config.v1+json"
	mediaManifest = "application/vnd.oci.image.manifest.v1+json"
	mediaIndex    = "application/vnd.oci.image.index.v1+json"
)

func main() {
	out := flag.String("out", "", "write the OCI image layout to `DIR` (replacing its index)")
	sizeMiB := flag.Int64("size-mib", 200, "size of the random file in the layer, in MiB")
	seed := flag.Uint64("seed", 1, "seed of the pseudo-random content; another seed gives another blob")
	flag.Parse()
	if *out == "" || *sizeMiB <= 0 || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	layer, err := writeImage(*out, *sizeMiB<<20, *seed)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kumo-bigimage:", err)
		os.Exit(1)
	}
	fmt.Printf("%s %d\n", layer.Digest, layer.Size)
}

// descriptor is an OCI content descriptor.
type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// writeImage writes the layout in dir: layer, config, manifest, index.json
// and oci-layout. It returns the layer's descriptor.
func writeImage(dir string, size int64, seed uint64) (descriptor, error) {
	blobs := filepath.Join(dir, "blobs", "sha256")
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		return descriptor{}, err
	}
	layer, diffID, err := writeLayer(blobs, size, seed)
	if err != nil {
		return descriptor{}, fmt.Errorf("layer: %w", err)
	}
	config, err := writeJSON(blobs, mediaConfig, map[string]any{
		"created":      buildTime,
		"architecture": "amd64",
		"os":           "linux",
		"config":       map[string]any{},
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{diffID}},
	})
	if err != nil {
		return descriptor{}, err
	}
	manifest, err := writeJSON(blobs, mediaManifest, map[string]any{
		"schemaVersion": 2,
		"mediaType":     mediaManifest,
		"config":        config,
		"layers":        []descriptor{layer},
	})
	if err != nil {
		return descriptor{}, err
	}
	manifest.Annotations = map[string]string{"org.opencontainers.image.ref.name": "latest"}
	index, err := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": mediaIndex, "manifests": []descriptor{manifest}})
	if err != nil {
		return descriptor{}, err
	}
	if err := os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
		return descriptor{}, err
	}
	return layer, os.WriteFile(filepath.Join(dir, "index.json"), index, 0o644)
}

// writeLayer streams the layer into blobs and returns its descriptor and
// the digest of its uncompressed tar (the config's diff ID).
func writeLayer(blobs string, size int64, seed uint64) (descriptor, string, error) {
	tmp, err := os.CreateTemp(blobs, ".layer-*")
	if err != nil {
		return descriptor{}, "", err
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	defer tmp.Close()
	if err := tmp.Chmod(0o644); err != nil {
		return descriptor{}, "", err
	}

	blob := &hashingWriter{w: tmp, h: sha256.New()}
	gz, err := gzip.NewWriterLevel(blob, gzip.NoCompression)
	if err != nil {
		return descriptor{}, "", err
	}
	diff := &hashingWriter{w: gz, h: sha256.New()}
	if err := writeTar(diff, size, seed); err != nil {
		return descriptor{}, "", err
	}
	if err := gz.Close(); err != nil {
		return descriptor{}, "", err
	}
	if err := tmp.Close(); err != nil {
		return descriptor{}, "", err
	}
	d := blob.digest()
	if err := os.Rename(tmp.Name(), filepath.Join(blobs, d[len("sha256:"):])); err != nil {
		return descriptor{}, "", err
	}
	return descriptor{MediaType: mediaLayer, Digest: d, Size: blob.n}, diff.digest(), nil
}

// writeTar writes a tar holding one file, random.bin, of size seeded
// pseudo-random bytes.
func writeTar(w io.Writer, size int64, seed uint64) error {
	tw := tar.NewWriter(w)
	hdr := &tar.Header{Name: "random.bin", Typeflag: tar.TypeReg, Mode: 0o644, Size: size, ModTime: buildTime}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	random := rand.NewChaCha8(key)
	if _, err := io.CopyBuffer(tw, io.LimitReader(random, size), make([]byte, 1<<20)); err != nil {
		return err
	}
	return tw.Close()
}

// writeJSON stores v as a blob and returns its descriptor.
func writeJSON(blobs, mediaType string, v any) (descriptor, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return descriptor{}, err
	}
	sum := sha256.Sum256(b)
	hexSum := hex.EncodeToString(sum[:])
	if err := os.WriteFile(filepath.Join(blobs, hexSum), b, 0o644); err != nil {
		return descriptor{}, err
	}
	return descriptor{MediaType: mediaType, Digest: "sha256:" + hexSum, Size: int64(len(b))}, nil
}

// hashingWriter passes writes on while hashing and counting them.
type hashingWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (hw *hashingWriter) Write(p []byte) (int, error) {
	n, err := hw.w.Write(p)
	hw.h.Write(p[:n])
	hw.n += int64(n)
	return n, err
}

func (hw *hashingWriter) digest() string { return "sha256:" + hex.EncodeToString(hw.h.Sum(nil)) }
