// Package config is the only place that reads kumo's flags and environment;
// everything else receives a typed Config.
package config

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Config is how one kumo instance runs.
type Config struct {
	// Listen is the address of the AWS endpoint.
	Listen string
	// DataDir holds all state: the store, containerd's root, agent files.
	DataDir string
	// ContainerdAddress, when set, is an existing containerd to use instead
	// of the one kumo supervises.
	ContainerdAddress string
	// AccountID is the account every resource belongs to.
	AccountID string
	// Region answers unsigned requests.
	Region string
	// TaskSubnet optionally fixes the CIDR of task addresses.
	TaskSubnet string
	// Verbose turns on debug logging.
	Verbose bool
	// RegistryHost is the host[:port] in ECR repository URIs and proxy
	// endpoints; empty means the endpoint's listen address.
	RegistryHost string
	// RegistryAuthRequired refuses anonymous registry requests.
	RegistryAuthRequired bool
	// AdvisoryDir holds the OSV advisories ECR image scans match against;
	// empty scans with no advisories.
	AdvisoryDir string
	// ECRLifecycleInterval is how often ECR lifecycle policies are applied.
	ECRLifecycleInterval time.Duration
	// DNSListen is the host's address of kumo's DNS (host:port): "" picks
	// a per-instance 127.53.x.y:53, "off" serves only the task bridge.
	DNSListen string
	// DNSUpstreams are the resolvers (ip:port) kumo's DNS forwards other
	// names to; empty means the nameservers of the host's /etc/resolv.conf.
	DNSUpstreams []string
}

// InstanceID is a short ID derived from the data dir, so two instances with
// different data dirs never share a bridge, subnet, cgroup or netns name.
func (c Config) InstanceID() string {
	sum := sha256.Sum256([]byte(c.DataDir))
	return hex.EncodeToString(sum[:])[:8]
}

var accountPattern = regexp.MustCompile(`^[0-9]{12}$`)

// ParseUp reads the flags of `kumo up`; environment variables give the
// defaults (KUMO_LISTEN, KUMO_DATA_DIR, KUMO_CONTAINERD_ADDRESS,
// KUMO_ACCOUNT_ID, KUMO_REGION, KUMO_TASK_SUBNET, KUMO_REGISTRY_HOST,
// KUMO_REGISTRY_AUTH_REQUIRED, KUMO_ADVISORY_DIR, KUMO_ECR_LIFECYCLE_INTERVAL,
// KUMO_DNS_LISTEN, KUMO_DNS_UPSTREAMS).
func ParseUp(args []string) (Config, error) {
	fs := flag.NewFlagSet("kumo up", flag.ContinueOnError)
	var c Config
	fs.StringVar(&c.Listen, "listen", env("KUMO_LISTEN", "127.0.0.1:4566"), "address of the AWS endpoint")
	fs.StringVar(&c.DataDir, "data-dir", env("KUMO_DATA_DIR", "/var/lib/kumo"), "directory for all of kumo's state")
	fs.StringVar(&c.ContainerdAddress, "containerd-address", env("KUMO_CONTAINERD_ADDRESS", ""), "use this containerd socket instead of starting one")
	fs.StringVar(&c.AccountID, "account-id", env("KUMO_ACCOUNT_ID", "000000000000"), "AWS account ID of all resources")
	fs.StringVar(&c.Region, "region", env("KUMO_REGION", "us-east-1"), "region for requests that carry none")
	fs.StringVar(&c.TaskSubnet, "task-subnet", env("KUMO_TASK_SUBNET", ""), "CIDR for task addresses (default: a free /24 chosen per data dir)")
	fs.BoolVar(&c.Verbose, "verbose", os.Getenv("KUMO_VERBOSE") != "", "debug logging")
	fs.StringVar(&c.RegistryHost, "registry-host", env("KUMO_REGISTRY_HOST", ""), "host[:port] of ECR repository URIs (default: the listen address)")
	fs.BoolVar(&c.RegistryAuthRequired, "registry-auth-required", os.Getenv("KUMO_REGISTRY_AUTH_REQUIRED") != "", "refuse anonymous registry pulls and pushes")
	fs.StringVar(&c.AdvisoryDir, "advisory-dir", env("KUMO_ADVISORY_DIR", ""), "directory of OSV JSON advisories for ECR image scans")
	lifecycle := env("KUMO_ECR_LIFECYCLE_INTERVAL", "1h")
	fs.Func("ecr-lifecycle-interval", "how often ECR lifecycle policies run (default 1h)", func(v string) error { lifecycle = v; return nil })
	fs.StringVar(&c.DNSListen, "dns-listen", env("KUMO_DNS_LISTEN", ""), `host address of kumo's DNS, host:port, or "off" (default: a per-instance 127.53.x.y:53)`)
	upstreams := env("KUMO_DNS_UPSTREAMS", "")
	fs.Func("dns-upstreams", "comma-separated resolvers (ip or ip:port) for names outside kumo's (default: the host's /etc/resolv.conf)", func(v string) error { upstreams = v; return nil })
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	d, err := time.ParseDuration(lifecycle)
	if err != nil || d <= 0 {
		return c, fmt.Errorf("invalid ECR lifecycle interval %q", lifecycle)
	}
	c.ECRLifecycleInterval = d
	if c.DNSUpstreams, err = parseUpstreams(upstreams); err != nil {
		return c, err
	}
	if err := checkDNSListen(c.DNSListen); err != nil {
		return c, err
	}
	return c.normalize()
}

// ParsePurge reads the flags of `kumo purge`.
func ParsePurge(args []string) (c Config, removeData bool, err error) {
	fs := flag.NewFlagSet("kumo purge", flag.ContinueOnError)
	fs.StringVar(&c.DataDir, "data-dir", env("KUMO_DATA_DIR", "/var/lib/kumo"), "data dir of the instance to purge")
	fs.StringVar(&c.TaskSubnet, "task-subnet", env("KUMO_TASK_SUBNET", ""), "task subnet the instance used, if fixed")
	fs.BoolVar(&removeData, "remove-data", false, "also delete the data dir")
	if err := fs.Parse(args); err != nil {
		return c, false, err
	}
	c.AccountID = "000000000000"
	c, err = c.normalize()
	return c, removeData, err
}

func (c Config) normalize() (Config, error) {
	if !accountPattern.MatchString(c.AccountID) {
		return c, errors.New("account id must be 12 digits")
	}
	if c.DataDir == "" {
		return c, errors.New("data dir must not be empty")
	}
	abs, err := filepath.Abs(c.DataDir)
	if err != nil {
		return c, err
	}
	c.DataDir = abs
	return c, nil
}

// parseUpstreams reads a comma-separated list of ip or ip:port (port 53
// by default) as ip:port addresses.
func parseUpstreams(list string) ([]string, error) {
	var out []string
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if ip, err := netip.ParseAddr(s); err == nil {
			s = netip.AddrPortFrom(ip, 53).String()
		}
		ap, err := netip.ParseAddrPort(s)
		if err != nil || ap.Port() == 0 {
			return nil, fmt.Errorf("invalid DNS upstream %q: want ip or ip:port", s)
		}
		out = append(out, ap.String())
	}
	return out, nil
}

// checkDNSListen accepts "", "off" or host:port.
func checkDNSListen(v string) error {
	if v == "" || v == "off" {
		return nil
	}
	if _, _, err := net.SplitHostPort(v); err != nil {
		return fmt.Errorf("invalid --dns-listen %q: want host:port or off", v)
	}
	return nil
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
