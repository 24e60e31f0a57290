package agent

import (
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
)

func TestIsLoopbackHost(t *testing.T) {
	t.Parallel()
	tests := []struct {
		host string
		want bool
	}{
		{"127.0.0.1:5000", true},
		{"127.4.5.6", true},
		{"localhost:4566", true},
		{"[::1]:5000", true},
		{"10.0.0.1:5000", false},
		{"registry-1.docker.io", false},
		{"123456789012.dkr.ecr.us-east-1.amazonaws.com", false},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			if got := isLoopbackHost(tt.host); got != tt.want {
				t.Fatalf("isLoopbackHost(%q) = %v", tt.host, got)
			}
		})
	}
}

// TestECRHostRewriteWithCredentials pulls an ECR-style reference that
// ImageHostRewrite maps to a local registry requiring basic auth.
func TestECRHostRewriteWithCredentials(t *testing.T) {
	t.Parallel()
	requireEnv(t)
	upstream, _, _ := strings.Cut(busyboxImage, "/")
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: upstream})
	var authorized atomic.Int32
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if user, pass, ok := r.BasicAuth(); !ok || user != "AWS" || pass != "secret" {
			w.Header().Set("WWW-Authenticate", `Basic realm="kumo"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		authorized.Add(1)
		proxy.ServeHTTP(w, r)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })

	const ecrHost = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
	e := newTestEnvWith(t, func(cfg *Config) {
		cfg.ImageHostRewrite = func(host string) (string, bool) {
			if host == ecrHost {
				return l.Addr().String(), true
			}
			return host, false
		}
		cfg.RegistryCredentials = func(host string) (string, string, error) {
			if host == l.Addr().String() {
				return "AWS", "secret", nil
			}
			return "", "", nil
		}
	})
	app := sh("app", true, "echo pulled")
	app.Image = ecrHost + "/test/busybox:1"
	id := e.run(app)
	st := e.waitStopped(id)
	if exitCode(container(st, "app")) != 0 || authorized.Load() == 0 {
		t.Fatalf("task = %+v, authorized requests %d", st, authorized.Load())
	}
}
