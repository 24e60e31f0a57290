package config

import (
	"testing"
	"time"
)

func TestParseLogs(t *testing.T) {
	t.Setenv("KUMO_LISTEN", "")
	t.Setenv("KUMO_REGION", "")
	tests := []struct {
		name    string
		args    []string
		want    Logs
		wantErr bool
	}{
		{"defaults", []string{"web"}, Logs{Target: "web", Cluster: "default", Endpoint: "http://127.0.0.1:4566", Region: "us-east-1"}, false},
		{"flags after the target", []string{"web", "--follow", "--cluster", "dev", "--since", "10m"},
			Logs{Target: "web", Cluster: "dev", Follow: true, Since: 10 * time.Minute, Endpoint: "http://127.0.0.1:4566", Region: "us-east-1"}, false},
		{"flags before the target", []string{"--endpoint-url", "http://127.0.0.1:9999", "--region", "eu-west-1", "abc123"},
			Logs{Target: "abc123", Cluster: "default", Endpoint: "http://127.0.0.1:9999", Region: "eu-west-1"}, false},
		{"no target", []string{"--follow"}, Logs{}, true},
		{"two targets", []string{"web", "api"}, Logs{}, true},
		{"unknown flag", []string{"web", "--tail"}, Logs{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseLogs(tc.args)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if !tc.wantErr && got != tc.want {
				t.Fatalf("options = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestParseLogsFollowsUp: with no flags, `kumo logs` reads the endpoint
// and region `kumo up` serves from the same environment.
func TestParseLogsFollowsUp(t *testing.T) {
	t.Setenv("KUMO_LISTEN", "127.0.0.9:5000")
	t.Setenv("KUMO_REGION", "eu-central-1")
	got, err := ParseLogs([]string{"web"})
	if err != nil || got.Endpoint != "http://127.0.0.9:5000" || got.Region != "eu-central-1" {
		t.Fatalf("got %+v, %v", got, err)
	}
}
