// Package ecr is kumo's Amazon ECR: the ECR JSON 1.1 API on top of kumo's
// OCI registry (internal/registry), which serves /v2/ on the same endpoint.
//
//	aws CLI / SDK ──► handlers (repositories, images, layers, policies, scans)
//	                      │            │
//	                      ▼            ▼
//	                    store      registry ◄── skopeo / crane / containerd (/v2/)
//	                      ▲            │ Policy: repository must exist, immutable tags
//	                      │            │ OnEvent: scan on push, last pull time
//	reconcilers: lifecycle policies, scan worker, registry GC
//
// Repository names are unique per kumo instance: the registry has one
// namespace (kumo's host has no account or region in it), so a name belongs
// to the account and region that created it.
package ecr

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/kumo-project/kumo/internal/clock"
	"github.com/kumo-project/kumo/internal/gateway"
	"github.com/kumo-project/kumo/internal/protocol"
	"github.com/kumo-project/kumo/internal/registry"
	"github.com/kumo-project/kumo/internal/store"
	"github.com/kumo-project/kumo/internal/wire/ecrwire"
)

// Config configures the ECR service.
type Config struct {
	Store *store.Store
	Clock clock.Clock
	Log   *slog.Logger
	// RegistryRoot is the registry's directory (blobs, uploads, metadata). Required.
	RegistryRoot string
	// RegistryHost is host[:port] of repository URIs, proxy endpoints and
	// download URLs: an address clients can push to. Required.
	RegistryHost string
	// AuthRequired refuses anonymous registry requests.
	AuthRequired bool
	// AdvisoryDir holds OSV JSON advisories for image scans; optional.
	AdvisoryDir string
	// LifecycleInterval is how often lifecycle policies are applied; 1 hour when zero.
	LifecycleInterval time.Duration
	// GCInterval is how often unreferenced blobs are collected; 1 hour when zero.
	GCInterval time.Duration
	// UpstreamTransport carries pull-through cache fetches; the default
	// transport when nil.
	UpstreamTransport http.RoundTripper
}

// Service implements the ECR API and owns the registry.
type Service struct {
	cfg      Config
	store    *store.Store
	clock    clock.Clock
	log      *slog.Logger
	registry *registry.Registry
	auth     *registry.TokenAuth

	scans   chan scanJob // image scans waiting for the scan worker
	fetchMu sync.Mutex   // one pull-through fetch at a time
	// reposMu orders repository creation and deletion, which change the
	// store and the registry in two steps.
	reposMu   sync.Mutex
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// New opens the registry under cfg.RegistryRoot and returns the service;
// Start runs its reconcilers.
func New(cfg Config) (*Service, error) {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.LifecycleInterval <= 0 {
		cfg.LifecycleInterval = time.Hour
	}
	if cfg.GCInterval <= 0 {
		cfg.GCInterval = time.Hour
	}
	s := &Service{cfg: cfg, store: cfg.Store, clock: cfg.Clock, log: cfg.Log, scans: make(chan scanJob, 256)}
	key, err := s.authKey()
	if err != nil {
		return nil, err
	}
	s.auth = registry.NewTokenAuth(key, cfg.Clock, cfg.AuthRequired)
	s.registry, err = registry.Open(registry.Config{
		Root: cfg.RegistryRoot, Clock: cfg.Clock, Policy: registryPolicy{s},
		OnEvent: s.onRegistryEvent, Auth: s.auth, Service: cfg.RegistryHost,
	})
	if err != nil {
		return nil, fmt.Errorf("open registry: %w", err)
	}
	return s, nil
}

// authKey returns the key that signs registry tokens, made once and kept in
// the store so tokens survive restarts.
func (s *Service) authKey() ([]byte, error) {
	var key []byte
	err := s.store.Update(func(tx *store.Tx) error {
		rec, ok, err := store.Get[settingsRecord](tx, tableSettings, settingsKey)
		if err != nil || ok {
			key = rec.TokenKey
			return err
		}
		rec.TokenKey = make([]byte, 32)
		if _, err := rand.Read(rec.TokenKey); err != nil {
			return err
		}
		key = rec.TokenKey
		return tx.Put(tableSettings, settingsKey, rec)
	})
	if err != nil {
		return nil, fmt.Errorf("registry token key: %w", err)
	}
	return key, nil
}

// Gateway returns the service's entry for the API gateway.
func (s *Service) Gateway() *gateway.Service {
	h := &ecrwire.Handlers{
		CreateRepository:                        s.CreateRepository,
		DescribeRepositories:                    s.DescribeRepositories,
		DeleteRepository:                        s.DeleteRepository,
		PutImageTagMutability:                   s.PutImageTagMutability,
		PutImageScanningConfiguration:           s.PutImageScanningConfiguration,
		SetRepositoryPolicy:                     s.SetRepositoryPolicy,
		GetRepositoryPolicy:                     s.GetRepositoryPolicy,
		DeleteRepositoryPolicy:                  s.DeleteRepositoryPolicy,
		TagResource:                             s.TagResource,
		UntagResource:                           s.UntagResource,
		ListTagsForResource:                     s.ListTagsForResource,
		ListImages:                              s.ListImages,
		DescribeImages:                          s.DescribeImages,
		BatchGetImage:                           s.BatchGetImage,
		BatchDeleteImage:                        s.BatchDeleteImage,
		PutImage:                                s.PutImage,
		BatchCheckLayerAvailability:             s.BatchCheckLayerAvailability,
		InitiateLayerUpload:                     s.InitiateLayerUpload,
		UploadLayerPart:                         s.UploadLayerPart,
		CompleteLayerUpload:                     s.CompleteLayerUpload,
		GetDownloadUrlForLayer:                  s.GetDownloadUrlForLayer,
		GetAuthorizationToken:                   s.GetAuthorizationToken,
		DescribeRegistry:                        s.DescribeRegistry,
		PutLifecyclePolicy:                      s.PutLifecyclePolicy,
		GetLifecyclePolicy:                      s.GetLifecyclePolicy,
		DeleteLifecyclePolicy:                   s.DeleteLifecyclePolicy,
		StartLifecyclePolicyPreview:             s.StartLifecyclePolicyPreview,
		GetLifecyclePolicyPreview:               s.GetLifecyclePolicyPreview,
		StartImageScan:                          s.StartImageScan,
		DescribeImageScanFindings:               s.DescribeImageScanFindings,
		CreatePullThroughCacheRule:              s.CreatePullThroughCacheRule,
		DescribePullThroughCacheRules:           s.DescribePullThroughCacheRules,
		DeletePullThroughCacheRule:              s.DeletePullThroughCacheRule,
		UpdatePullThroughCacheRule:              s.UpdatePullThroughCacheRule,
		ValidatePullThroughCacheRule:            s.ValidatePullThroughCacheRule,
		ListImageReferrers:                      s.ListImageReferrers,
		PutRegistryPolicy:                       s.PutRegistryPolicy,
		GetRegistryPolicy:                       s.GetRegistryPolicy,
		DeleteRegistryPolicy:                    s.DeleteRegistryPolicy,
		PutRegistryScanningConfiguration:        s.PutRegistryScanningConfiguration,
		GetRegistryScanningConfiguration:        s.GetRegistryScanningConfiguration,
		BatchGetRepositoryScanningConfiguration: s.BatchGetRepositoryScanningConfiguration,
	}
	return &gateway.Service{
		SigningName:         ecrwire.SigningName,
		Protocol:            gateway.ProtocolJSON,
		TargetPrefix:        ecrwire.TargetPrefix,
		JSONVersion:         ecrwire.JSONVersion,
		APIVersion:          ecrwire.APIVersion,
		Operations:          h.Operations(),
		ValidationErrorCode: "InvalidParameterException",
	}
}

// RegistryHandler serves the registry (/v2/ and registry.TokenPath), with
// pull-through cache fetches in front of it.
func (s *Service) RegistryHandler() http.Handler {
	return s.pullThrough(s.registry.Handler())
}

// Registry is the registry the service manages.
func (s *Service) Registry() *registry.Registry { return s.registry }

// Start runs the reconcilers until ctx ends: lifecycle policies, the scan
// worker and the registry's garbage collection.
func (s *Service) Start(ctx context.Context) error {
	if err := s.requeueScans(); err != nil {
		return err
	}
	s.wg.Add(3)
	go func() { defer s.wg.Done(); s.runLifecycle(ctx) }()
	go func() { defer s.wg.Done(); s.runScans(ctx) }()
	go func() { defer s.wg.Done(); s.registry.RunGC(ctx, s.cfg.GCInterval) }()
	return nil
}

// Wait blocks until the reconcilers have ended, then closes the registry.
func (s *Service) Wait() {
	s.wg.Wait()
	s.closeOnce.Do(func() { s.registry.Close() })
}

// RegistryCredentials returns credentials to pull from kumo's registry, for
// the node agent when registry auth is required.
func (s *Service) RegistryCredentials(host string) (user, secret string, err error) {
	token, _ := s.auth.Issue("node", time.Hour)
	return "AWS", token, nil
}

// scope is the account and region a request acts in.
type scope struct {
	account string
	region  string
}

func scopeOf(ctx context.Context) scope {
	c := protocol.RequestFrom(ctx).Caller
	return scope{account: c.AccountID, region: c.Region}
}
