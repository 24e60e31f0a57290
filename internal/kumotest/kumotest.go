// Package kumotest starts real kumo servers for tests: the kumo binary,
// built once per test process, run as its own process with a temporary data
// dir, and aws-sdk-go-v2 clients pointed at it.
package kumotest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary builds cmd/kumo (static, as `make` does) once per test process.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			buildErr = err
			return
		}
		removeStaleBinaries()
		dir := filepath.Join(os.TempDir(), "kumo-bin-"+strconv.Itoa(os.Getpid()))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "kumo")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/kumo")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build kumo: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// removeStaleBinaries deletes the kumo binaries that test processes which
// have ended left behind (one per process, named by its pid).
func removeStaleBinaries() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "kumo-bin-*"))
	for _, dir := range dirs {
		pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(dir), "kumo-bin-"))
		if err != nil || syscall.Kill(pid, 0) == nil {
			continue // not ours, or its process still runs
		}
		os.RemoveAll(dir)
	}
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", err
	}
	return filepath.Dir(strings.TrimSpace(string(out))), nil
}

// Kumo is a kumo server process under test.
type Kumo struct {
	t       testing.TB
	bin     string
	DataDir string
	Addr    string // host:port of the endpoint
	cmd     *exec.Cmd
	logFile *os.File
	exited  chan struct{}
}

// Start runs a kumo with a fresh data dir and waits until it is healthy.
// Cleanup stops it and purges everything it left on the machine.
func Start(t testing.TB) *Kumo {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("kumo runs containers and needs root")
	}
	// Short paths: unix socket paths under the data dir must fit 108 bytes.
	dataDir, err := os.MkdirTemp("/tmp", "kumo-t")
	if err != nil {
		t.Fatal(err)
	}
	k := &Kumo{t: t, bin: Binary(t), DataDir: dataDir, Addr: freeAddr(t)}
	t.Cleanup(k.purge)
	k.Restart()
	return k
}

func freeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Endpoint is the URL to give AWS clients.
func (k *Kumo) Endpoint() string { return "http://" + k.Addr }

// Restart starts the kumo process (again) on the same data dir and address.
func (k *Kumo) Restart() {
	k.t.Helper()
	logPath := filepath.Join(k.DataDir, "kumo.log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		k.t.Fatal(err)
	}
	k.logFile = f
	k.cmd = exec.Command(k.bin, "up", "--listen", k.Addr, "--data-dir", k.DataDir)
	k.cmd.Stdout, k.cmd.Stderr = f, f
	if err := k.cmd.Start(); err != nil {
		k.t.Fatal(err)
	}
	k.exited = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { cmd.Wait(); close(done) }(k.cmd, k.exited)
	if err := k.waitHealthy(60 * time.Second); err != nil {
		k.t.Fatalf("kumo did not become healthy: %v\n%s", err, k.Log())
	}
}

func (k *Kumo) waitHealthy(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-k.exited:
			return fmt.Errorf("kumo exited")
		default:
		}
		resp, err := http.Get(k.Endpoint() + "/_kumo/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("timed out after %v", timeout)
}

// Kill ends kumo with SIGKILL, as a crash would.
func (k *Kumo) Kill() { k.signal(syscall.SIGKILL) }

// Stop ends kumo with SIGTERM and waits for its clean shutdown.
func (k *Kumo) Stop() { k.signal(syscall.SIGTERM) }

func (k *Kumo) signal(sig syscall.Signal) {
	if k.cmd == nil || k.cmd.Process == nil {
		return
	}
	k.cmd.Process.Signal(sig)
	select {
	case <-k.exited:
	case <-time.After(30 * time.Second):
		k.cmd.Process.Kill()
		<-k.exited
	}
	k.logFile.Close()
	k.cmd = nil
}

// Log returns what kumo printed so far.
func (k *Kumo) Log() string {
	b, _ := os.ReadFile(filepath.Join(k.DataDir, "kumo.log"))
	return string(b)
}

func (k *Kumo) purge() {
	if k.t.Failed() {
		k.t.Logf("kumo log:\n%s", k.Log())
	}
	k.Stop()
	out, err := exec.Command(k.bin, "purge", "--data-dir", k.DataDir, "--remove-data").CombinedOutput()
	if err != nil {
		k.t.Errorf("kumo purge: %v\n%s", err, out)
	}
}

// AWSConfig is an SDK config aimed at this kumo with test credentials.
func (k *Kumo) AWSConfig() aws.Config {
	return aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(k.Endpoint()),
	}
}

// ECS returns an ECS client for this kumo.
func (k *Kumo) ECS() *ecs.Client { return ecs.NewFromConfig(k.AWSConfig()) }

// Context returns a context that ends with the test or after d.
func Context(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
