// Package acm is kumo's AWS Certificate Manager: certificates imported by
// users or issued by a local certificate authority kumo creates under its
// data dir, for the HTTPS listeners of load balancers.
package acm

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"

	"github.com/kumo-project/kumo/internal/clock"
	"github.com/kumo-project/kumo/internal/gateway"
	"github.com/kumo-project/kumo/internal/protocol"
	"github.com/kumo-project/kumo/internal/store"
	"github.com/kumo-project/kumo/internal/wire/acmwire"
)

// UsersFunc lists the resources (load balancer ARNs) that use a certificate.
type UsersFunc func(ctx context.Context, certARN string) ([]string, error)

// Config configures the ACM service.
type Config struct {
	Store *store.Store
	Clock clock.Clock
	Log   *slog.Logger
	// DataDir holds the local CA (acm/ca.pem, acm/ca-key.pem).
	DataDir string
	// Users reports who uses a certificate (InUseBy, and DeleteCertificate's
	// ResourceInUseException); nil means nobody.
	Users UsersFunc
}

// Service implements the ACM API.
type Service struct {
	store *store.Store
	clock clock.Clock
	log   *slog.Logger
	users UsersFunc
	caDir string

	caOnce sync.Once
	ca     *authority
	caErr  error

	mu       sync.Mutex
	keyPairs map[string]cachedKeyPair // by ARN
}

// New returns the ACM service. The local CA is created on first use.
func New(cfg Config) *Service {
	return &Service{
		store: cfg.Store, clock: cfg.Clock, log: cfg.Log, users: cfg.Users,
		caDir:    filepath.Join(cfg.DataDir, "acm"),
		keyPairs: map[string]cachedKeyPair{},
	}
}

// Gateway returns the service's entry for the API gateway.
func (s *Service) Gateway() *gateway.Service {
	h := &acmwire.Handlers{
		ImportCertificate:         s.ImportCertificate,
		RequestCertificate:        s.RequestCertificate,
		DescribeCertificate:       s.DescribeCertificate,
		GetCertificate:            s.GetCertificate,
		ListCertificates:          s.ListCertificates,
		DeleteCertificate:         s.DeleteCertificate,
		AddTagsToCertificate:      s.AddTagsToCertificate,
		RemoveTagsFromCertificate: s.RemoveTagsFromCertificate,
		ListTagsForCertificate:    s.ListTagsForCertificate,
	}
	return &gateway.Service{
		SigningName:         acmwire.SigningName,
		Protocol:            gateway.ProtocolJSON,
		TargetPrefix:        acmwire.TargetPrefix,
		JSONVersion:         acmwire.JSONVersion,
		APIVersion:          acmwire.APIVersion,
		Operations:          h.Operations(),
		ValidationErrorCode: "ValidationException",
	}
}

// Start has nothing to run: ACM has no reconciler.
func (s *Service) Start(context.Context) error { return nil }

// Wait returns at once.
func (s *Service) Wait() {}

// authority loads or creates the local CA.
func (s *Service) authority() (*authority, error) {
	s.caOnce.Do(func() { s.ca, s.caErr = loadOrCreateAuthority(s.caDir, s.clock.Now()) })
	return s.ca, s.caErr
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
