package agent

import (
	"os"
	"testing"

	"github.com/kumo-project/kumo/internal/node"
)

func TestResolvConf(t *testing.T) {
	t.Parallel()
	host, err := os.ReadFile("/etc/resolv.conf")
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		mode       string
		dnsServers []string
		kumoDNS    string
		want       string
	}{
		{"awsvpc uses kumo's DNS", node.NetworkAWSVPC, nil, "10.88.0.1", "nameserver 10.88.0.1\n"},
		{"bridge uses kumo's DNS", node.NetworkBridge, nil, "10.88.0.1", "nameserver 10.88.0.1\n"},
		{"dnsServers win", node.NetworkAWSVPC, []string{"10.9.9.9", "10.8.8.8"}, "10.88.0.1", "nameserver 10.9.9.9\nnameserver 10.8.8.8\n"},
		{"host mode keeps the host's file", node.NetworkHost, nil, "10.88.0.1", string(host)},
		{"none mode keeps the host's file", node.NetworkNone, nil, "10.88.0.1", string(host)},
		{"no kumo DNS", node.NetworkAWSVPC, nil, "", string(host)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := record{Spec: node.TaskSpec{NetworkMode: tt.mode}}
			got, err := resolvConf(rec, node.ContainerSpec{DNSServers: tt.dnsServers}, tt.kumoDNS)
			if err != nil || got != tt.want {
				t.Fatalf("resolv.conf %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
