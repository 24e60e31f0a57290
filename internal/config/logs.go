package config

import (
	"errors"
	"flag"
	"io"
	"time"
)

// Logs is what `kumo logs` prints: the awslogs output of a service's
// tasks, or of one task, read through an instance's endpoint.
type Logs struct {
	// Target is a service name, or a task ID or ARN.
	Target  string
	Cluster string
	// Follow keeps printing new events.
	Follow bool
	// Since limits the output to events newer than this; 0 prints all.
	Since time.Duration
	// Endpoint is the instance's AWS endpoint URL.
	Endpoint string
	Region   string
}

// ParseLogs reads the arguments of `kumo logs`; the endpoint and region
// default to those `kumo up` would use (KUMO_LISTEN, KUMO_REGION). The
// target may come before or after the flags.
func ParseLogs(args []string) (Logs, error) {
	var o Logs
	fs := flag.NewFlagSet("kumo logs", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.Cluster, "cluster", "default", "cluster of the service or task")
	fs.BoolVar(&o.Follow, "follow", false, "keep printing new events")
	fs.DurationVar(&o.Since, "since", 0, "only events newer than this (default: all)")
	fs.StringVar(&o.Endpoint, "endpoint-url", "http://"+env("KUMO_LISTEN", "127.0.0.1:4566"), "kumo's endpoint")
	fs.StringVar(&o.Region, "region", env("KUMO_REGION", "us-east-1"), "region")
	var rest []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			return o, err
		}
		if fs.NArg() == 0 {
			break
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(rest) != 1 {
		return o, errors.New("name one service or task")
	}
	o.Target = rest[0]
	return o, nil
}
