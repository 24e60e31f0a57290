package registry

import (
	"context"
	"log/slog"
	"time"

	"github.com/opencontainers/go-digest"
)

// GCResult reports what a garbage collection removed.
type GCResult struct {
	BlobsDeleted   int
	BytesFreed     int64
	UploadsExpired int
}

// GC deletes blobs no manifest of any repository needs, and upload sessions
// older than the grace period.
//
// It is safe against concurrent pushes in two ways. GC holds gcMu
// exclusively while it marks and sweeps, and every operation that creates a
// reference (committing an upload, mounting, putting a manifest) holds it
// shared, so no reference appears half-way through a sweep. And a push is
// a sequence of such operations (layers first, manifest last): a blob
// linked or written within the grace period counts as live even without a
// manifest, so the manifest that follows still finds its layers.
func (r *Registry) GC(ctx context.Context) (GCResult, error) {
	r.gcMu.Lock()
	defer r.gcMu.Unlock()
	var res GCResult
	cutoff := r.clock.Now().Add(-r.cfg.GCGrace)
	res.UploadsExpired = r.uploads.expire(cutoff)
	live, err := r.meta.liveBlobs(cutoff)
	if err != nil {
		return res, err
	}
	gone := map[digest.Digest]bool{}
	err = r.blobs.walk(func(d digest.Digest, mod time.Time) error {
		if live[d] || mod.After(cutoff) {
			return nil
		}
		size, _, err := r.blobs.stat(d)
		if err != nil {
			return nil
		}
		if err := r.blobs.remove(d); err != nil {
			return err
		}
		gone[d] = true
		res.BlobsDeleted++
		res.BytesFreed += size
		return ctx.Err()
	})
	if uerr := r.meta.unlinkEverywhere(gone); err == nil {
		err = uerr
	}
	if res.BlobsDeleted > 0 || res.UploadsExpired > 0 {
		slog.Info("registry: garbage collected", "blobs", res.BlobsDeleted, "bytes", res.BytesFreed, "uploads", res.UploadsExpired)
	}
	return res, err
}

// RunGC collects garbage every interval until ctx ends. kumo runs it in
// the goroutine that owns the registry.
func (r *Registry) RunGC(ctx context.Context, every time.Duration) {
	t := r.clock.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			if _, err := r.GC(ctx); err != nil && ctx.Err() == nil {
				slog.Error("registry: garbage collection failed", "err", err)
			}
		}
	}
}
