// Package server assembles one kumo instance: the store, the containerd it
// supervises, the node agent, the AWS services and the endpoint, with one
// start order and one shutdown path.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/kumo-project/kumo/internal/agent"
	ctrd "github.com/kumo-project/kumo/internal/agent/containerd"
	"github.com/kumo-project/kumo/internal/agent/network"
	"github.com/kumo-project/kumo/internal/arn"
	"github.com/kumo-project/kumo/internal/clock"
	"github.com/kumo-project/kumo/internal/config"
	"github.com/kumo-project/kumo/internal/dns"
	"github.com/kumo-project/kumo/internal/gateway"
	"github.com/kumo-project/kumo/internal/registry"
	"github.com/kumo-project/kumo/internal/services/acm"
	"github.com/kumo-project/kumo/internal/services/ecr"
	"github.com/kumo-project/kumo/internal/services/ecs"
	"github.com/kumo-project/kumo/internal/services/elbv2"
	"github.com/kumo-project/kumo/internal/services/logs"
	"github.com/kumo-project/kumo/internal/store"
)

// Server is a running kumo instance.
type Server struct {
	cfg   config.Config
	log   *slog.Logger
	clock clock.Clock

	store      *store.Store
	containerd *ctrd.Supervisor
	network    *network.Manager
	agent      *agent.Agent
	ecs        *ecs.Service
	ecr        *ecr.Service
	logs       *logs.Service
	acm        *acm.Service
	elbv2      *elbv2.Service
	resolver   *dns.Server
	services   []Service // every AWS service, in start order
	http       *http.Server
	listener   net.Listener
	ready      atomic.Bool

	cancel context.CancelFunc
}

// Service is one AWS service in the server: its gateway entry and its
// reconcilers, which run from Start until the server's context ends.
type Service interface {
	Gateway() *gateway.Service
	Start(ctx context.Context) error
	// Wait returns once the reconcilers have ended.
	Wait()
}

// New prepares a server; Start brings it up.
func New(cfg config.Config, log *slog.Logger) *Server {
	return &Server{cfg: cfg, log: log, clock: clock.Real{}}
}

// Addr is the address the endpoint listens on (useful with port 0).
func (s *Server) Addr() string { return s.listener.Addr().String() }

// Start brings every part up in dependency order. On error, what was
// started is shut down again.
func (s *Server) Start(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	ctx, s.cancel = context.WithCancel(ctx)
	if err := os.MkdirAll(s.cfg.DataDir, 0o700); err != nil {
		return err
	}
	// Listen first: a taken port is the most common start-up failure.
	if s.listener, err = net.Listen("tcp", s.cfg.Listen); err != nil {
		return fmt.Errorf("listen on %s: %w", s.cfg.Listen, err)
	}
	if s.store, err = store.Open(filepath.Join(s.cfg.DataDir, "state.db")); err != nil {
		return err
	}
	// CloudWatch Logs opens before the node: the agent ships awslogs
	// output to it from its first task.
	if s.logs, err = logs.New(logs.Config{Dir: filepath.Join(s.cfg.DataDir, "logs"), Clock: s.clock, Log: s.log.With("service", "logs")}); err != nil {
		return err
	}
	s.services = append(s.services, s.logs)
	if err := s.startNode(ctx); err != nil {
		return err
	}
	gw := gateway.New(gateway.AnyCredentials{AccountID: s.cfg.AccountID, DefaultRegion: s.cfg.Region}, s.log)
	gw.Handle("/_kumo/health", http.HandlerFunc(s.health))
	s.startLoadBalancing()
	s.ecs = ecs.New(ecs.Config{Store: s.store, Node: s.agent, Clock: s.clock, Log: s.log.With("service", "ecs"),
		LoadBalancers: ecsTargets{s.elbv2}})
	s.services = append(s.services, s.ecs)
	if err := s.startECR(gw); err != nil {
		return err
	}
	for _, svc := range s.services {
		if err := svc.Start(ctx); err != nil {
			return fmt.Errorf("start %s: %w", svc.Gateway().SigningName, err)
		}
		gw.Register(svc.Gateway())
	}
	if err := s.startDNS(ctx); err != nil {
		return err
	}
	s.http = &http.Server{Handler: gw, ReadHeaderTimeout: 30 * time.Second}
	go func() {
		if err := s.http.Serve(s.listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("endpoint stopped", "error", err)
		}
	}()
	s.ready.Store(true)
	s.log.Info("kumo is up", "endpoint", "http://"+s.Addr(), "data-dir", s.cfg.DataDir, "instance", s.cfg.InstanceID())
	return nil
}

// startLoadBalancing adds ACM and ELBv2; ELBv2's data plane serves each
// load balancer on its own loopback address and, by Host, on the shared
// addresses of hostRoutedAddrs. It runs after startNode: the bridge IP is
// the network manager's.
func (s *Server) startLoadBalancing() {
	s.acm = acm.New(acm.Config{Store: s.store, Clock: s.clock, Log: s.log.With("service", "acm"), DataDir: s.cfg.DataDir,
		Users: func(ctx context.Context, certARN string) ([]string, error) {
			return s.elbv2.CertificateUsers(ctx, certARN)
		}})
	s.elbv2 = elbv2.New(elbv2.Config{Store: s.store, Clock: s.clock, Log: s.log.With("service", "elasticloadbalancing"),
		Certificates: s.acm, InstanceID: s.cfg.InstanceID(), DataDir: s.cfg.DataDir, HostRouted: s.hostRoutedAddrs()})
	s.services = append(s.services, s.acm, s.elbv2)
}

// hostRoutedAddrs are the addresses where load balancers are served by
// Host: 127.0.0.1 (`curl http://<DNSName>/` on the host), and every
// non-loopback address kumo's DNS listens on, since it answers load
// balancer names asked there with that address: the task bridge IP (the
// tasks' resolver) and a specific host address given to --dns-listen.
func (s *Server) hostRoutedAddrs() []netip.Addr {
	addrs := []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, 1}), netip.MustParseAddr(s.network.BridgeIP())}
	if ap, err := netip.ParseAddrPort(s.cfg.DNSListen); err == nil {
		if a := ap.Addr().Unmap(); a.Is4() && !a.IsLoopback() && !a.IsUnspecified() && a != addrs[1] {
			addrs = append(addrs, a)
		}
	}
	return addrs
}

// startDNS serves kumo's DNS on the task bridge (port 53: the tasks'
// resolver) and on the host's address (--dns-listen), with the load
// balancers' names; other names go to the host's resolvers. Asked on the
// bridge IP, a load balancer's name answers the bridge IP, where the data
// plane routes it by Host (hostRoutedAddrs).
func (s *Server) startDNS(ctx context.Context) error {
	cfg := dns.Config{
		Listen:    []string{net.JoinHostPort(s.network.BridgeIP(), "53")},
		Upstreams: s.cfg.DNSUpstreams,
		Sources:   []dns.Source{dns.LoadBalancerSource(s.elbv2)},
		Clock:     s.clock,
		Log:       s.log.With("component", "dns"),
	}
	switch s.cfg.DNSListen {
	case "":
		cfg.ListenOneOf = dns.LoopbackCandidates(s.cfg.InstanceID())
	case "off":
	default:
		cfg.Listen = append(cfg.Listen, s.cfg.DNSListen)
	}
	if len(cfg.Upstreams) == 0 {
		upstreams, err := dns.UpstreamsFromResolvConf("/etc/resolv.conf")
		if err != nil {
			return err
		}
		cfg.Upstreams = upstreams
	}
	s.resolver = dns.New(cfg)
	if err := s.resolver.Start(ctx); err != nil {
		return err
	}
	s.log.Info("dns is up", "addresses", s.resolver.Addrs(), "upstreams", cfg.Upstreams)
	return nil
}

// ecsTargets lets ECS services put their tasks into ELBv2 target groups;
// the account and region are the target group ARN's.
type ecsTargets struct{ elb *elbv2.Service }

func (e ecsTargets) RegisterTargets(ctx context.Context, tgARN string, targets []ecs.Target) error {
	a, _ := arn.Parse(tgARN)
	return e.elb.RegisterTargetsInternal(ctx, a.AccountID, a.Region, tgARN, elbTargets(targets))
}

func (e ecsTargets) DeregisterTargets(ctx context.Context, tgARN string, targets []ecs.Target) error {
	a, _ := arn.Parse(tgARN)
	return e.elb.DeregisterTargetsInternal(ctx, a.AccountID, a.Region, tgARN, elbTargets(targets))
}

func (e ecsTargets) TargetHealth(ctx context.Context, tgARN string, targets []ecs.Target) ([]ecs.TargetHealth, error) {
	a, _ := arn.Parse(tgARN)
	if len(targets) == 0 {
		_, err := e.elb.TargetGroupInfo(ctx, a.AccountID, a.Region, tgARN)
		return nil, err
	}
	states, err := e.elb.TargetHealth(ctx, a.AccountID, a.Region, tgARN, elbTargets(targets))
	var out []ecs.TargetHealth
	for _, st := range states {
		out = append(out, ecs.TargetHealth{Target: ecs.Target{ID: st.Target.ID, Port: int(st.Target.Port)},
			State: st.State, Reason: st.Reason, Description: st.Description})
	}
	return out, err
}

func elbTargets(targets []ecs.Target) []elbv2.Target {
	out := make([]elbv2.Target, 0, len(targets))
	for _, t := range targets {
		out = append(out, elbv2.Target{ID: t.ID, Port: int32(t.Port)})
	}
	return out
}

// startECR opens the registry under <DataDir>/registry and mounts it on
// the endpoint (/v2/ and the token path) beside the ECR API.
func (s *Server) startECR(gw *gateway.Gateway) (err error) {
	s.ecr, err = ecr.New(ecr.Config{
		Store: s.store, Clock: s.clock, Log: s.log.With("service", "ecr"),
		RegistryRoot: filepath.Join(s.cfg.DataDir, "registry"), RegistryHost: s.registryHost(),
		AuthRequired: s.cfg.RegistryAuthRequired, AdvisoryDir: s.cfg.AdvisoryDir,
		LifecycleInterval: s.cfg.ECRLifecycleInterval,
	})
	if err != nil {
		return err
	}
	gw.Handle("/v2/", s.ecr.RegistryHandler())
	gw.Handle(registry.TokenPath, s.ecr.RegistryHandler())
	s.services = append(s.services, s.ecr)
	return nil
}

// registryHost is the host of ECR repository URIs: the configured one, or
// the endpoint's address.
func (s *Server) registryHost() string {
	if s.cfg.RegistryHost != "" {
		return s.cfg.RegistryHost
	}
	return s.Addr()
}

// startNode starts containerd (unless one was given), task networking and
// the node agent.
func (s *Server) startNode(ctx context.Context) error {
	id := s.cfg.InstanceID()
	sup, err := ctrd.New(ctrd.Config{InstanceID: id, DataDir: s.cfg.DataDir, Address: s.cfg.ContainerdAddress, Logger: s.log.With("component", "containerd")})
	if err != nil {
		return err
	}
	s.containerd = sup
	if err := sup.Start(ctx); err != nil {
		return fmt.Errorf("start containerd: %w", err)
	}
	s.network, err = network.NewManager(network.Config{InstanceID: id, StateDir: filepath.Join(s.cfg.DataDir, "network"), Subnet: s.cfg.TaskSubnet})
	if err != nil {
		return fmt.Errorf("task network: %w", err)
	}
	namespace := "kumo"
	if s.cfg.ContainerdAddress != "" {
		namespace = "kumo-" + id // a shared containerd may serve other instances
	}
	s.agent, err = agent.New(agent.Config{
		InstanceID: id, DataDir: s.cfg.DataDir, ContainerdAddress: sup.Address(), Namespace: namespace,
		Clock: s.clock, Network: s.network, Logger: s.log.With("component", "agent"),
		// Image references naming kumo's registry (AWS-style ECR hosts or
		// the registry host) pull from this endpoint.
		ImageHostRewrite:    ecr.ImageHostRewrite(s.registryHost(), s.Addr()),
		RegistryCredentials: s.registryCredentials,
		LogSink:             s.logs,
		DNSServer:           s.network.BridgeIP(),
	})
	if err != nil {
		return err
	}
	return s.agent.Start(ctx)
}

// registryCredentials lets the agent pull from kumo's registry when it
// requires authentication; other registries get none.
func (s *Server) registryCredentials(host string) (string, string, error) {
	if s.ecr == nil || !s.cfg.RegistryAuthRequired || host != s.Addr() {
		return "", "", nil
	}
	return s.ecr.RegistryCredentials(host)
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if !s.ready.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"status":"starting"}`))
		return
	}
	w.Write([]byte(`{"status":"ok"}`))
}

// Close shuts everything down in reverse order. Running tasks keep running
// (their containerd shims outlive kumo) and are re-attached on next start.
func (s *Server) Close() error {
	s.ready.Store(false)
	var errs []error
	if s.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		errs = append(errs, s.http.Shutdown(ctx))
		cancel()
	} else if s.listener != nil {
		s.listener.Close()
	}
	if s.cancel != nil {
		s.cancel()
	}
	for _, svc := range s.services {
		svc.Wait()
	}
	if s.resolver != nil {
		errs = append(errs, s.resolver.Close())
	}
	if s.agent != nil {
		errs = append(errs, s.agent.Close())
	}
	if s.network != nil {
		errs = append(errs, s.network.Close())
	}
	if s.containerd != nil {
		errs = append(errs, s.containerd.Close())
	}
	if s.store != nil {
		errs = append(errs, s.store.Close())
	}
	return errors.Join(errs...)
}
