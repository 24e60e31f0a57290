package containerd

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

func requireContainerd(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if _, err := exec.LookPath("containerd"); err != nil {
		t.Skip("containerd not installed")
	}
}

func TestSocketPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, dataDir, want string
	}{
		{"short data dir", "/var/lib/kumo", "/var/lib/kumo/containerd/containerd.sock"},
		{"long data dir", "/" + strings.Repeat("d", 100), "/run/kumo-abc123/containerd.sock"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SocketPath(tt.dataDir, "abc123"); got != tt.want {
				t.Fatalf("SocketPath = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSupervisorRestartsAndAdopts(t *testing.T) {
	requireContainerd(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	s, err := New(Config{InstanceID: "t1", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	first := s.Pid()
	if first == 0 {
		t.Fatal("supervisor started no process")
	}

	// A second supervisor of the same data dir adopts the live daemon.
	adopter, err := New(Config{InstanceID: "t1", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := adopter.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if adopter.Pid() != 0 {
		t.Fatalf("second supervisor started its own containerd (pid %d) instead of adopting", adopter.Pid())
	}
	adopter.Close()
	if err := ping(ctx, s.Address()); err != nil {
		t.Fatalf("closing the adopter stopped the daemon: %v", err)
	}

	// kill -9: the supervisor starts a new daemon that answers.
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for s.Pid() == first || ping(ctx, s.Address()) != nil {
		if time.Now().After(deadline) {
			t.Fatal("containerd not restarted after kill -9")
		}
		time.Sleep(100 * time.Millisecond)
	}

	second := s.Pid()
	s.Close()
	if err := syscall.Kill(second, 0); err == nil {
		t.Fatalf("containerd pid %d still alive after Close", second)
	}
}
