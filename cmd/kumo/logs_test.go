package main

import (
	"testing"
	"time"
)

func TestParseLogs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		want    logsOptions
		wantErr bool
	}{
		{"defaults", []string{"web"}, logsOptions{target: "web", cluster: "default", endpoint: "http://127.0.0.1:4566", region: "us-east-1"}, false},
		{"flags after the target", []string{"web", "--follow", "--cluster", "dev", "--since", "10m"},
			logsOptions{target: "web", cluster: "dev", follow: true, since: 10 * time.Minute, endpoint: "http://127.0.0.1:4566", region: "us-east-1"}, false},
		{"flags before the target", []string{"--endpoint-url", "http://127.0.0.1:9999", "--region", "eu-west-1", "abc123"},
			logsOptions{target: "abc123", cluster: "default", endpoint: "http://127.0.0.1:9999", region: "eu-west-1"}, false},
		{"no target", []string{"--follow"}, logsOptions{}, true},
		{"two targets", []string{"web", "api"}, logsOptions{}, true},
		{"unknown flag", []string{"web", "--tail"}, logsOptions{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseLogs(tc.args)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if !tc.wantErr && got != tc.want {
				t.Fatalf("options = %+v, want %+v", got, tc.want)
			}
		})
	}
}
