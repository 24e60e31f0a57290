// Command kumo is the AWS container platform in one binary. It is also,
// when containerd runs it, the containers' log driver and init process.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/sirupsen/logrus"

	"github.com/kumo-project/kumo/internal/agent/initproc"
	"github.com/kumo-project/kumo/internal/agent/logdriver"
	"github.com/kumo-project/kumo/internal/config"
	"github.com/kumo-project/kumo/internal/server"
)

const usage = `kumo: the AWS container platform on your own machine

Usage:
  kumo up [--listen 127.0.0.1:4566] [--data-dir /var/lib/kumo] [--containerd-address SOCKET]
  kumo purge [--data-dir /var/lib/kumo] [--remove-data]   remove a stopped instance's tasks, network and mounts
  kumo logs <service|task> [--follow] [--cluster C]    print a service's or task's awslogs output
  kumo version

Point the aws CLI at it:
  aws --endpoint-url http://127.0.0.1:4566 ecs list-clusters
`

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return 2
	}
	switch args[0] {
	case "up":
		return up(args[1:])
	case "log-driver":
		// Started by a containerd shim: `kumo log-driver <file>`.
		if len(args) != 2 {
			fmt.Fprintln(os.Stderr, "usage: kumo log-driver FILE")
			return 2
		}
		if err := logdriver.Main(args[1]); err != nil {
			fmt.Fprintln(os.Stderr, "kumo log-driver:", err)
			return 1
		}
		return 0
	case "init":
		return initproc.InitMain(args[1:])
	case "purge":
		return purge(args[1:])
	case "logs":
		return logsCmd(args[1:])
	case "version":
		fmt.Println("kumo", version)
		return 0
	case "help", "-h", "--help":
		fmt.Print(usage)
		return 0
	}
	fmt.Fprintf(os.Stderr, "kumo: unknown command %q\n\n%s", args[0], usage)
	return 2
}

func up(args []string) int {
	cfg, err := config.ParseUp(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kumo up:", err)
		return 2
	}
	level := slog.LevelInfo
	if cfg.Verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if !cfg.Verbose {
		// containerd's client logs every registry fallback at info level.
		logrus.SetLevel(logrus.WarnLevel)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	srv := server.New(cfg, log)
	if err := srv.Start(ctx); err != nil {
		log.Error("kumo could not start", "error", err)
		return 1
	}
	<-ctx.Done()
	log.Info("shutting down")
	if err := srv.Close(); err != nil {
		log.Error("shutdown", "error", err)
		return 1
	}
	return 0
}

func purge(args []string) int {
	cfg, removeData, err := config.ParsePurge(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kumo purge:", err)
		return 2
	}
	if err := server.Purge(cfg, removeData); err != nil {
		fmt.Fprintln(os.Stderr, "kumo purge:", err)
		return 1
	}
	return 0
}
