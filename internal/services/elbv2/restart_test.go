package elbv2

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/kumo-project/kumo/internal/store"
	"github.com/kumo-project/kumo/internal/wire/elbv2wire"
)

// TestServesAgainAfterRestart stops the service and starts a new one on the
// same store, as a kumo restart does: the load balancer answers again on
// the same address.
func TestServesAgainAfterRestart(t *testing.T) {
	t.Parallel()
	st, err := store.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	start := func() (*Service, context.CancelFunc) {
		svc := New(Config{Store: st, Clock: fastClock{}, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), InstanceID: t.Name(), DataDir: t.TempDir()})
		ctx, cancel := context.WithCancel(context.Background())
		if err := svc.Start(ctx); err != nil {
			t.Fatal(err)
		}
		return svc, func() { cancel(); svc.Wait() }
	}
	svc, stop := start()
	ctx := callerContext(context.Background(), "000000000000", "us-east-1")
	lb, err := svc.CreateLoadBalancer(ctx, &elbv2wire.CreateLoadBalancerInput{Name: "again", Subnets: []string{"a", "b"}})
	if err != nil {
		t.Fatal(err)
	}
	arn := lb.LoadBalancers[0].LoadBalancerArn
	port := int32(8080)
	_, err = svc.CreateListener(ctx, &elbv2wire.CreateListenerInput{LoadBalancerArn: arn, Protocol: "HTTP", Port: &port,
		DefaultActions: []elbv2wire.Action{{Type: "fixed-response", FixedResponseConfig: &elbv2wire.FixedResponseActionConfig{StatusCode: "200", MessageBody: "up"}}}})
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + lb.LoadBalancers[0].AvailabilityZones[0].LoadBalancerAddresses[0].IpAddress + ":8080/"
	expectBody(t, url, "200 up")
	stop()
	if _, err := plainClient.Get(url); err == nil {
		t.Fatal("a stopped service still answers")
	}
	_, stop = start()
	defer stop()
	expectBody(t, url, "200 up")
}
