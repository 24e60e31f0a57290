// Command testapp is the program inside kumo's fixture image "kumo/testapp".
//
// It is a static, stdlib-only binary so that it runs in a busybox root
// filesystem with no libc. Tests drive it in two ways:
//
//   - Server mode (no arguments, or "serve"): an HTTP server on $PORT (default
//     8080) with endpoints for echo, health, CPU burn, memory, logging, exit and
//     sleep; see server.go.
//   - Command modes, usable as ECS command overrides:
//     exit N, sleep SECONDS, trap-term SECONDS, mem MB, lines N, get URL;
//     see modes.go.
//
// Environment: PORT (listen port), TASK_LABEL (echoed back, so tests can tell
// tasks apart), HEALTH_FAIL=1 (start with /health answering 500).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// usage lists the modes; printed on a bad command line.
const usage = `usage: testapp [serve]
       testapp exit CODE
       testapp sleep SECONDS
       testapp trap-term SECONDS
       testapp mem MB
       testapp lines N
       testapp get URL`

// run executes one mode and returns the process exit code. ctx is cancelled
// by SIGTERM or SIGINT, except in trap-term mode, which installs its own
// handler.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	mode, rest := "serve", args
	if len(args) > 0 {
		mode, rest = args[0], args[1:]
	}
	var err error
	code := 0
	switch mode {
	case "serve":
		err = serveMode(ctx, stdout, stderr)
	case "exit":
		code, err = exitMode(rest)
	case "sleep":
		code, err = sleepMode(ctx, rest, stdout)
	case "trap-term":
		code, err = trapTermMode(rest, stdout)
	case "mem":
		code, err = memMode(ctx, rest, stdout)
	case "lines":
		err = linesMode(rest, stdout)
	case "get":
		code, err = getMode(ctx, rest, stdout, stderr)
	default:
		err = fmt.Errorf("unknown mode %q\n%s", mode, usage)
	}
	if err != nil {
		fmt.Fprintf(stderr, "testapp %s: %v\n", mode, err)
		return 2
	}
	return code
}

// config is the environment the server reads once at start.
type config struct {
	Port       string // TCP port to listen on
	TaskLabel  string // echoed in every / response
	HealthFail bool   // start with /health failing
}

// configFromEnv reads the server's environment variables.
func configFromEnv() config {
	c := config{
		Port:       os.Getenv("PORT"),
		TaskLabel:  os.Getenv("TASK_LABEL"),
		HealthFail: os.Getenv("HEALTH_FAIL") == "1",
	}
	if c.Port == "" {
		c.Port = "8080"
	}
	return c
}
