// Package registry is kumo's OCI registry: the data plane behind ECR.
//
// It serves the OCI Distribution Spec v1.1 under /v2/ (pull, push in one
// piece, in chunks or streamed, cross-repository mount, tag and catalog
// listings, referrers, deletes) and keeps its state under one directory:
//
//	<root>/blobs/<alg>/<hex>   content-addressed blobs and manifests, stored once
//	<root>/uploads/<id>        upload sessions; deleted on start
//	<root>/registry.db         bbolt: per-repository blob links, manifests, tags, referrers
//
//	client ──HTTP──▶ Handler ──▶ Registry ──▶ blobStore (files) + meta (bbolt)
//	ECR API ─────────Go calls──▶ Registry ──▶ Policy (may refuse), OnEvent (after changes)
//
// A blob becomes visible only after its digest is verified and its file is
// synced and renamed into place, so no partial blob is ever served, even
// after a crash. GC removes blobs no manifest needs, sparing anything
// younger than a grace period so that pushes in progress are safe.
package registry
