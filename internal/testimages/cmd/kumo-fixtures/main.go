// Command kumo-fixtures makes kumo's fixture images available to shell
// scripts, without Docker or network access.
//
//	go run ./internal/testimages/cmd/kumo-fixtures -out DIR
//
// writes OCI image layouts DIR/busybox and DIR/testapp, ready for e.g.
//
//	skopeo copy oci:DIR/testapp docker://127.0.0.1:5000/testapp:latest --dest-tls-verify=false
//
// and
//
//	go run ./internal/testimages/cmd/kumo-fixtures -serve 127.0.0.1:5000
//
// serves both images as kumo/busybox:latest and kumo/testapp:latest from an
// in-memory registry until interrupted. It prints one "image NAME REF" line
// per image, then "ready HOST:PORT" once the registry holds them. The two
// flags can be combined.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/kumo-project/kumo/internal/testimages"
)

func main() {
	out := flag.String("out", "", "write OCI image layouts `DIR`/busybox and DIR/testapp")
	addr := flag.String("serve", "", "serve the fixtures from an in-memory registry on `ADDR` (e.g. 127.0.0.1:5000) until interrupted")
	flag.Parse()
	if (*out == "" && *addr == "") || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *out, *addr, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "kumo-fixtures:", err)
		os.Exit(1)
	}
}

// run writes the layouts if outDir is set, then serves the registry if addr
// is set.
func run(ctx context.Context, outDir, addr string, stdout io.Writer) error {
	if outDir != "" {
		if err := writeLayouts(outDir, stdout); err != nil {
			return err
		}
	}
	if addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return serve(ctx, ln, stdout)
}

// writeLayouts writes one OCI layout per fixture image under dir and prints
// "layout DIR/NAME DIGEST" for each.
func writeLayouts(dir string, stdout io.Writer) error {
	images := []struct {
		name  string
		build func() (v1.Image, error)
	}{
		{"busybox", testimages.Busybox},
		{"testapp", testimages.App},
	}
	for _, im := range images {
		img, err := im.build()
		if err != nil {
			return err
		}
		path := filepath.Join(dir, im.name)
		if err := testimages.WriteLayout(path, img); err != nil {
			return err
		}
		digest, err := img.Digest()
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "layout %s %s\n", path, digest)
	}
	return nil
}

// serve runs an in-memory registry on ln, pushes the fixtures into it, and
// answers until ctx is cancelled.
func serve(ctx context.Context, ln net.Listener, stdout io.Writer) error {
	srv := &http.Server{Handler: testimages.NewRegistryHandler(), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	host := ln.Addr().String()
	fixtures, err := testimages.PushAllFixtures(ctx, host)
	if err == nil {
		fmt.Fprintf(stdout, "image busybox %s\nimage testapp %s\nready %s\n", fixtures.Busybox, fixtures.App, host)
		select {
		case <-ctx.Done():
		case err = <-done:
		}
	}
	// A client's connection that never sent a request (a pool's spare)
	// keeps Shutdown waiting; after a grace period it is simply closed.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	shutdownErr := srv.Shutdown(shutdownCtx)
	if errors.Is(shutdownErr, context.DeadlineExceeded) {
		shutdownErr = srv.Close()
	}
	if err == nil {
		err = shutdownErr
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
