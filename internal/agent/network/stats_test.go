package network

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/kumo-project/kumo/internal/node"
)

func TestStatsCountTaskTraffic(t *testing.T) {
	needRoot(t)
	t.Parallel()
	m := newTestManager(t, "")
	ctx := context.Background()
	sb, err := m.Setup(ctx, newTaskID(t), node.NetworkAWSVPC, nil)
	if err != nil {
		t.Fatal(err)
	}
	before, err := m.Stats(sb.TaskID)
	if err != nil {
		t.Fatal(err)
	}
	const size = 256 << 10
	c, err := m.ServeInNetNS(sb.NetNSPath, net.JoinHostPort(sb.IPv4, "80"), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("x", size)))
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	body, err := getFrom("", "http://"+sb.IPv4+"/")
	if err != nil || len(body) != size {
		t.Fatalf("GET = %d bytes, %v", len(body), err)
	}
	after, err := m.Stats(sb.TaskID)
	if err != nil {
		t.Fatal(err)
	}
	if sent := after.TxBytes - before.TxBytes; sent < size {
		t.Errorf("task sent %d bytes by its counters, want at least %d", sent, size)
	}
	if after.RxBytes <= before.RxBytes {
		t.Errorf("task received nothing by its counters: %+v then %+v", before, after)
	}
	if _, err := m.Stats(newTaskID(t)); !errors.Is(err, node.ErrNotFound) {
		t.Errorf("Stats of an unknown task: %v, want ErrNotFound", err)
	}
}

// BenchmarkSetupTeardown measures creating and removing an awsvpc sandbox.
func BenchmarkSetupTeardown(b *testing.B) {
	if !isRoot() {
		b.Skip("needs root")
	}
	m, err := NewManager(Config{InstanceID: "b" + randomHexB(b, 8), StateDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.RemoveAll() })
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		taskID := "bench" + randomHexB(b, 8)
		if _, err := m.Setup(ctx, taskID, node.NetworkAWSVPC, nil); err != nil {
			b.Fatal(err)
		}
		if err := m.Teardown(ctx, taskID); err != nil {
			b.Fatal(err)
		}
	}
}
