// Package elbv2 is kumo's Elastic Load Balancing v2 for application load
// balancers: the ELBv2 Query API, and a real data plane on loopback.
//
//	handlers (this package's exported methods, wire shapes in and out)
//	   │ validate, store desired state, nudge
//	   ▼
//	store ◄── syncer: builds a dataplane.Config from the store, applies it,
//	   │          and ends draining once in-flight requests are done
//	   ▼
//	dataplane.Plane ── listeners on 127.a.b.c, rules, targets, health checks
package elbv2

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"log/slog"
	"net/netip"
	"path/filepath"
	"sync"

	"github.com/kumo-project/kumo/internal/clock"
	"github.com/kumo-project/kumo/internal/gateway"
	"github.com/kumo-project/kumo/internal/protocol"
	"github.com/kumo-project/kumo/internal/services/elbv2/dataplane"
	"github.com/kumo-project/kumo/internal/store"
	"github.com/kumo-project/kumo/internal/wire/elbv2wire"
)

// Certificates gives listeners the key pairs of ACM certificates.
type Certificates interface {
	// KeyPair returns the certificate chain and private key an ACM
	// certificate ARN names, or an error when there is no such certificate.
	KeyPair(ctx context.Context, certARN string) (*tls.Certificate, error)
}

// Config configures the ELBv2 service.
type Config struct {
	Store *store.Store
	Clock clock.Clock
	Log   *slog.Logger
	// Certificates resolves HTTPS listeners' certificate ARNs (ACM).
	Certificates Certificates
	// InstanceID seeds the loopback range load balancers get addresses from,
	// so two kumo instances on one machine use different addresses.
	InstanceID string
	// DataDir holds access logs (under elbv2/access-logs).
	DataDir string
	// HostRouted are shared addresses that also serve every listener port,
	// routed by the Host header: 127.0.0.1 (`curl http://<DNSName>/` with
	// no DNS set-up) and the task bridge IP (tasks reach load balancers by
	// name, as kumo's DNS answers them with it).
	HostRouted []netip.Addr
}

// Service implements the ELBv2 API and runs the data plane.
type Service struct {
	store    *store.Store
	clock    clock.Clock
	log      *slog.Logger
	certs    Certificates
	plane    *dataplane.Plane
	addrBase [2]byte
	logDir   string

	applied *dataplane.Config // the last Config the plane accepted (syncer only)

	wake chan struct{} // nudges the syncer after a change
	wg   sync.WaitGroup
}

// New returns the service; Start runs its data plane.
func New(cfg Config) *Service {
	sum := sha256.Sum256([]byte(cfg.InstanceID))
	return &Service{
		store: cfg.Store,
		clock: cfg.Clock,
		log:   cfg.Log,
		certs: cfg.Certificates,
		plane: dataplane.New(dataplane.Options{Clock: cfg.Clock, Log: cfg.Log, HostRouted: cfg.HostRouted}),
		// 127.64.0.0-127.191.255.255: clear of 127.0.0.x and of other tools.
		addrBase: [2]byte{64 + sum[0]%128, sum[1]},
		logDir:   filepath.Join(cfg.DataDir, "elbv2", "access-logs"),
		wake:     make(chan struct{}, 1),
	}
}

// Gateway returns the service's entry for the API gateway.
func (s *Service) Gateway() *gateway.Service {
	h := &elbv2wire.Handlers{
		CreateLoadBalancer:             s.CreateLoadBalancer,
		DescribeLoadBalancers:          s.DescribeLoadBalancers,
		DeleteLoadBalancer:             s.DeleteLoadBalancer,
		DescribeLoadBalancerAttributes: s.DescribeLoadBalancerAttributes,
		ModifyLoadBalancerAttributes:   s.ModifyLoadBalancerAttributes,
		CreateTargetGroup:              s.CreateTargetGroup,
		DescribeTargetGroups:           s.DescribeTargetGroups,
		ModifyTargetGroup:              s.ModifyTargetGroup,
		DeleteTargetGroup:              s.DeleteTargetGroup,
		DescribeTargetGroupAttributes:  s.DescribeTargetGroupAttributes,
		ModifyTargetGroupAttributes:    s.ModifyTargetGroupAttributes,
		RegisterTargets:                s.RegisterTargets,
		DeregisterTargets:              s.DeregisterTargets,
		DescribeTargetHealth:           s.DescribeTargetHealth,
		CreateListener:                 s.CreateListener,
		DescribeListeners:              s.DescribeListeners,
		ModifyListener:                 s.ModifyListener,
		DeleteListener:                 s.DeleteListener,
		AddListenerCertificates:        s.AddListenerCertificates,
		RemoveListenerCertificates:     s.RemoveListenerCertificates,
		DescribeListenerCertificates:   s.DescribeListenerCertificates,
		CreateRule:                     s.CreateRule,
		DescribeRules:                  s.DescribeRules,
		ModifyRule:                     s.ModifyRule,
		DeleteRule:                     s.DeleteRule,
		SetRulePriorities:              s.SetRulePriorities,
		AddTags:                        s.AddTags,
		RemoveTags:                     s.RemoveTags,
		DescribeTags:                   s.DescribeTags,
		DescribeSSLPolicies:            s.DescribeSSLPolicies,
		SetSecurityGroups:              s.SetSecurityGroups,
		SetSubnets:                     s.SetSubnets,
		SetIpAddressType:               s.SetIpAddressType,
		DescribeAccountLimits:          s.DescribeAccountLimits,
	}
	return &gateway.Service{
		SigningName:         elbv2wire.SigningName,
		Protocol:            gateway.ProtocolQuery,
		APIVersion:          elbv2wire.APIVersion,
		XMLNamespace:        elbv2wire.XMLNamespace,
		Operations:          h.Operations(),
		ValidationErrorCode: "ValidationError",
	}
}

// Start runs the syncer, which serves the stored load balancers at once.
func (s *Service) Start(ctx context.Context) error {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer s.plane.Close()
		s.syncLoop(ctx)
	}()
	return nil
}

// Wait blocks until the syncer has ended and the data plane is closed.
func (s *Service) Wait() { s.wg.Wait() }

// nudge wakes the syncer without blocking.
func (s *Service) nudge() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
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
