package config

import (
	"strings"
	"testing"
)

func TestParseUpDNS(t *testing.T) {
	tests := []struct {
		name          string
		args          []string
		wantListen    string
		wantUpstreams string
		wantErr       string
	}{
		{"defaults", nil, "", "", ""},
		{"listen off", []string{"--dns-listen", "off"}, "off", "", ""},
		{"listen address", []string{"--dns-listen", "127.0.0.1:5353"}, "127.0.0.1:5353", "", ""},
		{"bad listen", []string{"--dns-listen", "127.0.0.1"}, "", "", "dns-listen"},
		{"upstreams", []string{"--dns-upstreams", "10.0.0.2, 127.0.0.1:5300"}, "", "10.0.0.2:53,127.0.0.1:5300", ""},
		{"bad upstream", []string{"--dns-upstreams", "resolver.example"}, "", "", "DNS upstream"},
		{"upstream port 0", []string{"--dns-upstreams", "10.0.0.2:0"}, "", "", "DNS upstream"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("KUMO_DNS_LISTEN", "")
			t.Setenv("KUMO_DNS_UPSTREAMS", "")
			c, err := ParseUp(append([]string{"--data-dir", t.TempDir()}, tt.args...))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one about %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || c.DNSListen != tt.wantListen || strings.Join(c.DNSUpstreams, ",") != tt.wantUpstreams {
				t.Fatalf("listen %q upstreams %v, %v; want %q and %q", c.DNSListen, c.DNSUpstreams, err, tt.wantListen, tt.wantUpstreams)
			}
		})
	}
}
