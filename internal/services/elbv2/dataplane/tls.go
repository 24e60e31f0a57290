package dataplane

import (
	"crypto/tls"
	"strings"
)

// SSLPolicy is an ELB security policy: the TLS versions a listener accepts.
type SSLPolicy struct {
	Name       string
	MinVersion uint16
	MaxVersion uint16
}

// DefaultSSLPolicy is the policy of an HTTPS listener created without one.
const DefaultSSLPolicy = "ELBSecurityPolicy-TLS13-1-2-2021-06"

// SSLPolicies are the predefined ELB security policies kumo enforces by
// their TLS versions (cipher lists are Go's).
var SSLPolicies = []SSLPolicy{
	{"ELBSecurityPolicy-2016-08", tls.VersionTLS10, tls.VersionTLS12},
	{"ELBSecurityPolicy-2015-05", tls.VersionTLS10, tls.VersionTLS12},
	{"ELBSecurityPolicy-TLS-1-0-2015-04", tls.VersionTLS10, tls.VersionTLS12},
	{"ELBSecurityPolicy-TLS-1-1-2017-01", tls.VersionTLS11, tls.VersionTLS12},
	{"ELBSecurityPolicy-TLS-1-2-2017-01", tls.VersionTLS12, tls.VersionTLS12},
	{"ELBSecurityPolicy-TLS-1-2-Ext-2018-06", tls.VersionTLS12, tls.VersionTLS12},
	{"ELBSecurityPolicy-FS-2018-06", tls.VersionTLS10, tls.VersionTLS12},
	{"ELBSecurityPolicy-FS-1-1-2019-08", tls.VersionTLS11, tls.VersionTLS12},
	{"ELBSecurityPolicy-FS-1-2-2019-08", tls.VersionTLS12, tls.VersionTLS12},
	{"ELBSecurityPolicy-FS-1-2-Res-2020-10", tls.VersionTLS12, tls.VersionTLS12},
	{"ELBSecurityPolicy-TLS13-1-0-2021-06", tls.VersionTLS10, tls.VersionTLS13},
	{"ELBSecurityPolicy-TLS13-1-1-2021-06", tls.VersionTLS11, tls.VersionTLS13},
	{"ELBSecurityPolicy-TLS13-1-2-2021-06", tls.VersionTLS12, tls.VersionTLS13},
	{"ELBSecurityPolicy-TLS13-1-2-Res-2021-06", tls.VersionTLS12, tls.VersionTLS13},
	{"ELBSecurityPolicy-TLS13-1-2-Ext1-2021-06", tls.VersionTLS12, tls.VersionTLS13},
	{"ELBSecurityPolicy-TLS13-1-2-Ext2-2021-06", tls.VersionTLS12, tls.VersionTLS13},
	{"ELBSecurityPolicy-TLS13-1-3-2021-06", tls.VersionTLS13, tls.VersionTLS13},
}

// LookupSSLPolicy finds a policy by name.
func LookupSSLPolicy(name string) (SSLPolicy, bool) {
	for _, p := range SSLPolicies {
		if p.Name == name {
			return p, true
		}
	}
	return SSLPolicy{}, false
}

// VersionName is the name ELB gives a TLS version ("TLSv1.2").
func VersionName(v uint16) string {
	return strings.Replace(tls.VersionName(v), "TLS 1.", "TLSv1.", 1)
}

// listenerTLS is the TLS configuration of an HTTPS listener: certificates by
// SNI, the policy's versions, HTTP/2 by ALPN when enabled.
func listenerTLS(l Listener, http2 bool) *tls.Config {
	policy, _ := LookupSSLPolicy(l.SSLPolicy)
	protos := []string{"http/1.1"}
	if http2 {
		protos = []string{"h2", "http/1.1"}
	}
	certs := make([]tls.Certificate, 0, len(l.Certificates))
	for _, c := range l.Certificates {
		certs = append(certs, *c)
	}
	return &tls.Config{
		MinVersion:   policy.MinVersion,
		MaxVersion:   policy.MaxVersion,
		Certificates: certs,
		NextProtos:   protos,
	}
}
