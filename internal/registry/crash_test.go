package registry

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

// crashRootEnv makes the test binary act as a registry process to be killed.
const crashRootEnv = "KUMO_REGISTRY_CRASH_ROOT"

// TestCrashHelperProcess is the registry process TestKillDuringPush kills.
// It does nothing in a normal test run.
func TestCrashHelperProcess(t *testing.T) {
	root := os.Getenv(crashRootEnv)
	if root == "" {
		t.Skip("helper process only")
	}
	reg, err := Open(Config{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addrFile := filepath.Join(root, "addr")
	if err := os.WriteFile(addrFile+".tmp", []byte(ln.Addr().String()), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Rename(addrFile+".tmp", addrFile)
	srv := &http.Server{Handler: reg.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	time.Sleep(60 * time.Second) // killed long before
}

// startCrashHelper runs the registry in a child process and returns its
// base URL and the process.
func startCrashHelper(t *testing.T, root string) (string, *exec.Cmd) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashRootEnv+"="+root)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if addr, err := os.ReadFile(filepath.Join(root, "addr")); err == nil {
			return "http://" + string(addr), cmd
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("registry helper did not start")
	return "", nil
}

// TestKillDuringPush SIGKILLs a registry process in the middle of a blob
// upload: the blob must never be visible, the leftover upload must be
// cleaned when the registry opens again, and the push must then succeed.
func TestKillDuringPush(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	base, cmd := startCrashHelper(t, root)

	done := randomBytes(t, 2048)
	doneDigest := digest.FromBytes(done)
	resp, err := http.Post(base+"/v2/crash/blobs/uploads/?digest="+doneDigest.String(), "application/octet-stream", bytes.NewReader(done))
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("pushing the first blob: %v %v", resp, err)
	}
	resp.Body.Close()

	// Start an upload and stream half of a blob, then kill the process.
	blob := randomBytes(t, 1<<20)
	d := digest.FromBytes(blob)
	resp, err = http.Post(base+"/v2/crash/blobs/uploads/", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPut, base+loc+"?digest="+d.String(), pr)
	req.ContentLength = int64(len(blob))
	sent := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			err = fmt.Errorf("upload finished with %s", resp.Status)
		}
		sent <- err
	}()
	if _, err := pw.Write(blob[:len(blob)/2]); err != nil {
		t.Fatal(err)
	}
	waitForUploadBytes(t, filepath.Join(root, "uploads"), int64(len(blob)/2))
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	pw.Close()
	if err := <-sent; err == nil {
		t.Fatal("the interrupted upload reported success")
	}

	if _, err := os.Stat(filepath.Join(root, "blobs", "sha256", d.Encoded())); err == nil {
		t.Fatal("a partial blob is in the blob store")
	}
	reg, err := Open(Config{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	if left, _ := os.ReadDir(filepath.Join(root, "uploads")); len(left) != 0 {
		t.Fatalf("%d upload files left after restart", len(left))
	}
	ctx := t.Context()
	if _, err := reg.BlobSize(ctx, "crash", d); !isCode(err, CodeBlobUnknown) {
		t.Fatalf("interrupted blob: %v", err)
	}
	if n, err := reg.BlobSize(ctx, "crash", doneDigest); err != nil || n != int64(len(done)) {
		t.Fatalf("blob pushed before the crash: %d %v", n, err)
	}
	if _, err := reg.PutBlob(ctx, "crash", d, bytes.NewReader(blob)); err != nil {
		t.Fatalf("retrying the push: %v", err)
	}
	f, _, err := reg.OpenBlob(ctx, "crash", d)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, _ := io.ReadAll(f)
	if !bytes.Equal(got, blob) {
		t.Fatal("retried blob differs")
	}
}

// waitForUploadBytes waits until an upload file in dir holds n bytes.
func waitForUploadBytes(t *testing.T, dir string, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if info, err := e.Info(); err == nil && info.Size() >= n && !strings.HasPrefix(e.Name(), "manifest-") {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("upload never reached %d bytes", n)
}
