// Package containerd runs and supervises the private containerd daemon of one
// kumo instance, the way k3s embeds containerd: it renders the daemon's
// config under the data dir, starts it with a parent-death signal, waits until
// its API answers, restarts it with backoff when it dies, and stops it on
// Close. A daemon left serving the socket by an earlier run of the same data
// dir is adopted instead of started twice. Containers survive every restart of
// the daemon: their shims are not its children.
package containerd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"time"

	containerdclient "github.com/containerd/containerd"
)

// maxSocketPath is the longest path a unix socket address may have (sun_path
// is 108 bytes including the terminating NUL).
const maxSocketPath = 107

// Config configures a Supervisor.
type Config struct {
	// InstanceID names the kumo instance; used for the fallback socket
	// directory /run/kumo-<InstanceID>. Required unless Address is set.
	InstanceID string
	// DataDir is kumo's data dir; containerd's root, state and config live
	// under <DataDir>/containerd. Required unless Address is set.
	DataDir string
	// Address, if set, is an existing containerd's socket to use as is:
	// nothing is started or supervised.
	Address string
	// Binary is the containerd executable; default "containerd" from PATH.
	Binary string
	// Logger receives daemon lifecycle events; default slog.Default().
	Logger *slog.Logger
}

// Supervisor owns the containerd daemon of one kumo instance.
type Supervisor struct {
	cfg     Config
	dir     string // <DataDir>/containerd
	address string // grpc socket path

	cancel context.CancelFunc
	done   chan struct{}

	mu  sync.Mutex
	cmd *exec.Cmd // the daemon this supervisor started, nil if adopted
}

// New prepares a supervisor without side effects; Start runs the daemon.
func New(cfg Config) (*Supervisor, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Binary == "" {
		cfg.Binary = "containerd"
	}
	s := &Supervisor{cfg: cfg, address: cfg.Address}
	if cfg.Address != "" {
		return s, nil
	}
	if cfg.DataDir == "" || cfg.InstanceID == "" {
		return nil, errors.New("containerd supervisor: DataDir and InstanceID are required without Address")
	}
	s.dir = filepath.Join(cfg.DataDir, "containerd")
	s.address = SocketPath(cfg.DataDir, cfg.InstanceID)
	return s, nil
}

// SocketPath returns the grpc socket of the containerd of a data dir: under
// the data dir when the path fits in a unix socket address, otherwise under
// /run/kumo-<instanceID>.
func SocketPath(dataDir, instanceID string) string {
	p := filepath.Join(dataDir, "containerd", "containerd.sock")
	if len(p) <= maxSocketPath-len(".ttrpc") {
		return p
	}
	return filepath.Join("/run", "kumo-"+instanceID, "containerd.sock")
}

// Address returns the grpc socket path of the daemon.
func (s *Supervisor) Address() string { return s.address }

// Start makes sure a containerd answers on Address: it adopts a live daemon
// or starts one, then keeps it alive in the background until Close. It
// returns once the daemon answers or ctx ends.
func (s *Supervisor) Start(ctx context.Context) error {
	if s.cfg.Address != "" {
		return waitReady(ctx, s.address)
	}
	if err := s.writeConfig(); err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.done = make(chan struct{})
	ready := make(chan error, 1)
	go s.run(runCtx, ready)
	select {
	case err := <-ready:
		if err != nil {
			s.Close()
		}
		return err
	case <-ctx.Done():
		s.Close()
		return ctx.Err()
	}
}

// Close stops the daemon if this supervisor started it (SIGTERM, then
// SIGKILL after 10s) and ends supervision. An adopted daemon keeps running.
func (s *Supervisor) Close() error {
	if s.cancel == nil {
		return nil
	}
	s.cancel()
	<-s.done
	return nil
}

// run keeps a daemon serving until ctx ends. The first readiness result goes
// to ready.
func (s *Supervisor) run(ctx context.Context, ready chan<- error) {
	defer close(s.done)
	backoff := 250 * time.Millisecond
	for ctx.Err() == nil {
		if ping(ctx, s.address) == nil {
			s.cfg.Logger.Info("adopted running containerd", "address", s.address)
			sendOnce(ready, nil)
			s.watchAdopted(ctx)
			continue
		}
		started := time.Now()
		err := s.runOnce(ctx, ready)
		if ctx.Err() != nil {
			return
		}
		s.cfg.Logger.Warn("containerd exited, restarting", "err", err, "backoff", backoff)
		if time.Since(started) > time.Minute {
			backoff = 250 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

// watchAdopted returns when the adopted daemon stops answering or ctx ends.
func (s *Supervisor) watchAdopted(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if ping(ctx, s.address) != nil {
				return
			}
		}
	}
}

// runOnce starts the daemon, reports readiness, and waits for it to exit or
// for ctx to end (then stops it).
func (s *Supervisor) runOnce(ctx context.Context, ready chan<- error) error {
	if err := os.MkdirAll(filepath.Dir(s.address), 0o711); err != nil {
		sendOnce(ready, err)
		return err
	}
	// A socket file left by a dead daemon would make it fail to listen.
	_ = os.Remove(s.address)
	_ = os.Remove(s.address + ".ttrpc")
	logFile, err := os.OpenFile(filepath.Join(s.dir, "containerd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		sendOnce(ready, err)
		return err
	}
	defer logFile.Close()
	// Not CommandContext: cancellation must stop the daemon gracefully
	// (SIGTERM) so its shims are left running, not SIGKILL it.
	cmd := exec.Command(s.cfg.Binary, "--config", s.configPath())
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM, Setpgid: true}
	exited := make(chan error, 1)
	if err := startLocked(cmd, exited); err != nil {
		sendOnce(ready, fmt.Errorf("start containerd: %w", err))
		return err
	}
	s.mu.Lock()
	s.cmd = cmd
	s.mu.Unlock()

	readyCtx, cancelReady := context.WithTimeout(ctx, 30*time.Second)
	go func() {
		defer cancelReady()
		err := waitReady(readyCtx, s.address)
		if err != nil {
			err = fmt.Errorf("containerd not ready (see %s): %w", logFile.Name(), err)
		}
		sendOnce(ready, err)
	}()

	select {
	case err := <-exited:
		cancelReady()
		sendOnce(ready, fmt.Errorf("containerd exited: %v (see %s)", err, logFile.Name()))
		return err
	case <-ctx.Done():
		cancelReady()
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			return err
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			return <-exited
		}
	}
}

// startLocked starts cmd from a goroutine locked to its OS thread until the
// process exits, then sends the exit to exited. Pdeathsig fires when the
// *thread* that forked the child ends; Go may end a thread (e.g. one a
// netns switch left locked), so the forking thread is kept for the child's
// whole life.
func startLocked(cmd *exec.Cmd, exited chan<- error) error {
	started := make(chan error)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		exited <- cmd.Wait()
	}()
	return <-started
}

// Pid returns the process id of the daemon this supervisor started last, or
// 0 if it adopted one or started none.
func (s *Supervisor) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// sendOnce delivers err if nobody has been told yet (ready has capacity 1).
func sendOnce(ready chan<- error, err error) {
	select {
	case ready <- err:
	default:
	}
}

// ping asks the daemon for its version: the real API, not just the socket.
func ping(ctx context.Context, address string) error {
	if _, err := os.Stat(address); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c, err := containerdclient.New(address, containerdclient.WithTimeout(time.Second))
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Version(ctx)
	return err
}

// waitReady polls the daemon's API until it answers or ctx ends.
func waitReady(ctx context.Context, address string) error {
	for {
		err := ping(ctx, address)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
