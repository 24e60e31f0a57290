package ecr

import (
	"context"
	"encoding/base64"
	"net"
	"regexp"
	"time"

	"github.com/kumo-project/kumo/internal/protocol"
	"github.com/kumo-project/kumo/internal/wire/ecrwire"
)

// tokenTTL is how long a GetAuthorizationToken password is valid, as in ECR.
const tokenTTL = 12 * time.Hour

// GetAuthorizationToken returns base64("AWS:<token>") for the registry, for
// `aws ecr get-login-password | skopeo login --username AWS --password-stdin`.
func (s *Service) GetAuthorizationToken(ctx context.Context, in *ecrwire.GetAuthorizationTokenRequest) (*ecrwire.GetAuthorizationTokenResponse, error) {
	sc := scopeOf(ctx)
	for _, id := range in.RegistryIds {
		if err := sc.checkRegistryID(id); err != nil {
			return nil, err
		}
	}
	token, exp := s.auth.Issue(sc.account, tokenTTL)
	return &ecrwire.GetAuthorizationTokenResponse{AuthorizationData: []ecrwire.AuthorizationData{{
		AuthorizationToken: base64.StdEncoding.EncodeToString([]byte("AWS:" + token)),
		ExpiresAt:          protocol.NewTimestamp(exp),
		ProxyEndpoint:      "http://" + s.cfg.RegistryHost,
	}}}, nil
}

// ecrHostRE matches AWS's private registry hostnames.
var ecrHostRE = regexp.MustCompile(`^[0-9]{12}\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?(:443)?$`)

// IsECRHost reports whether host is an AWS-style ECR registry host
// (<account>.dkr.ecr.<region>.amazonaws.com).
func IsECRHost(host string) bool { return ecrHostRE.MatchString(host) }

// ImageHostRewrite returns the node agent's image host mapping: AWS-style
// ECR hosts and the registry host go to kumo's endpoint over plain HTTP
// (both name the one registry of the instance); other loopback hosts keep
// their address over plain HTTP; everything else is left to HTTPS.
func ImageHostRewrite(registryHost, endpoint string) func(host string) (string, bool) {
	return func(host string) (string, bool) {
		if IsECRHost(host) || host == registryHost {
			return endpoint, true
		}
		return host, isLoopback(host)
	}
}

// isLoopback reports whether host[:port] is a loopback address or localhost.
func isLoopback(host string) bool {
	h, _, err := net.SplitHostPort(host)
	if err != nil {
		h = host
	}
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
