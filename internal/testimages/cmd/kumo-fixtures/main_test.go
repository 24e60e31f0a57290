package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/kumo-project/kumo/internal/testimages"
)

func TestWriteLayouts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var out bytes.Buffer
	if err := run(t.Context(), dir, "", &out); err != nil {
		t.Fatal(err)
	}
	for _, image := range []string{"busybox", "testapp"} {
		if _, err := os.Stat(filepath.Join(dir, image, "index.json")); err != nil {
			t.Errorf("layout %s: %v", image, err)
		}
		if !strings.Contains(out.String(), "layout "+filepath.Join(dir, image)+" sha256:") {
			t.Errorf("output %q does not report layout %s", out.String(), image)
		}
	}
}

// TestServeWithSkopeo serves the fixtures, pulls them back, and copies a
// layout written by -out into the served registry with skopeo, as the e2e
// scripts do.
func TestServeWithSkopeo(t *testing.T) {
	t.Parallel()
	// Build first, so that a cold build cache does not count against the
	// wait for the registry below.
	app, err := testimages.App()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := ln.Addr().String()
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, ln, pw)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("serve did not stop within 10s")
		}
	})
	waitReady(t, pr, host)
	go io.Copy(io.Discard, pr)

	want, err := app.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if got := remoteDigest(t, host+"/kumo/testapp:latest"); got != want.String() {
		t.Errorf("served testapp digest %s, want %s", got, want)
	}

	skopeo, err := exec.LookPath("skopeo")
	if err != nil {
		t.Skip("skopeo not installed")
	}
	dir := t.TempDir()
	if err := writeLayouts(dir, io.Discard); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), skopeo, "--insecure-policy", "copy",
		"oci:"+filepath.Join(dir, "testapp"), "docker://"+host+"/copied/testapp:1", "--dest-tls-verify=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("skopeo copy: %v\n%s", err, out)
	}
	if got := remoteDigest(t, host+"/copied/testapp:1"); got != want.String() {
		t.Errorf("skopeo-copied testapp digest %s, want %s", got, want)
	}
}

// waitReady reads serve's output until its "ready" line, checking that both
// images were announced first.
func waitReady(t *testing.T, r io.Reader, host string) {
	t.Helper()
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			lines <- sc.Text()
			if strings.HasPrefix(sc.Text(), "ready ") {
				return
			}
		}
	}()
	var seen []string
	timeout := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("output ended before ready; got %q", seen)
			}
			seen = append(seen, line)
			if line != "ready "+host {
				continue
			}
			want := []string{"image busybox " + host + "/kumo/busybox@sha256:", "image testapp " + host + "/kumo/testapp@sha256:"}
			for i, prefix := range want {
				if len(seen) < 3 || !strings.HasPrefix(seen[i], prefix) {
					t.Fatalf("output %q, want lines starting %q", seen, want)
				}
			}
			return
		case <-timeout:
			t.Fatalf("no ready line within 30s; got %q", seen)
		}
	}
}

func remoteDigest(t *testing.T, ref string) string {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Head(r, remote.WithContext(t.Context()))
	if err != nil {
		t.Fatalf("HEAD %s: %v", ref, err)
	}
	return desc.Digest.String()
}
