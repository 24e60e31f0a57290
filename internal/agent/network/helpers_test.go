package network

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary double as the helper processes that the
// shared-namespace test starts inside a task namespace with `ip netns exec`.
func TestMain(m *testing.M) {
	switch os.Getenv("KUMO_NETNS_HELPER") {
	case "server":
		os.Exit(runHelperServer())
	case "client":
		os.Exit(runHelperClient(os.Getenv("KUMO_NETNS_HELPER_ADDR")))
	}
	os.Exit(m.Run())
}

// runHelperServer listens on a loopback port, prints it, and answers one
// connection with "pong <pid>".
func runHelperServer() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("listen:", err)
		return 1
	}
	fmt.Println(l.Addr().String())
	l.(*net.TCPListener).SetDeadline(time.Now().Add(10 * time.Second))
	c, err := l.Accept()
	if err != nil {
		return 1
	}
	defer c.Close()
	fmt.Fprintf(c, "pong %d\n", os.Getpid())
	return 0
}

// runHelperClient prints the line the server at addr sends.
func runHelperClient(addr string) int {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		fmt.Println("dial:", err)
		return 1
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		fmt.Println("read:", err)
		return 1
	}
	fmt.Print(line)
	return 0
}

// needRoot skips tests that create namespaces and links.
func needRoot(t *testing.T) {
	t.Helper()
	if !isRoot() {
		t.Skip("needs root to create network namespaces")
	}
}

func isRoot() bool { return os.Geteuid() == 0 }

func randomHex(t *testing.T, n int) string { return randomHexB(t, n) }

// randomHexB returns n random hex digits.
func randomHexB(tb testing.TB, n int) string {
	tb.Helper()
	b := make([]byte, (n+1)/2)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return hex.EncodeToString(b)[:n]
}

// newTestManager starts a Manager with a random instance ID and removes all
// it created when the test ends.
func newTestManager(t *testing.T, stateDir string) *Manager {
	t.Helper()
	if stateDir == "" {
		stateDir = t.TempDir()
	}
	m, err := NewManager(Config{InstanceID: "t" + randomHex(t, 8), StateDir: stateDir})
	if err != nil {
		t.Fatalf("NewManager: %v", err)
	}
	t.Cleanup(func() {
		if err := m.RemoveAll(); err != nil {
			t.Errorf("RemoveAll: %v", err)
		}
	})
	return m
}

func newTaskID(t *testing.T) string { return randomHex(t, 32) }

// hello answers every request with its body text.
func hello(text string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, text)
	})
}

// serveIn starts an HTTP server answering text inside the namespace.
func serveIn(t *testing.T, m *Manager, nsPath, addr, text string) {
	t.Helper()
	c, err := m.ServeInNetNS(nsPath, addr, hello(text))
	if err != nil {
		t.Fatalf("ServeInNetNS(%s): %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
}

// getFrom fetches url with connections dialled from the namespace at nsPath,
// or from the host if nsPath is "".
func getFrom(nsPath, url string) (string, error) {
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := net.Dialer{Timeout: 3 * time.Second}
		if nsPath == "" {
			return d.DialContext(ctx, network, addr)
		}
		var c net.Conn
		err := inNetNS(nsPath, func() error {
			var err error
			c, err = d.DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
	client := &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true},
	}
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// mustGet is getFrom that fails the test on error or an unexpected body.
func mustGet(t *testing.T, nsPath, url, want string) {
	t.Helper()
	got, err := getFrom(nsPath, url)
	if err != nil {
		t.Fatalf("GET %s from %q: %v", url, nsPath, err)
	}
	if got != want {
		t.Fatalf("GET %s from %q = %q, want %q", url, nsPath, got, want)
	}
}

// netnsListed reports whether `ip netns list` shows name.
func netnsListed(t *testing.T, name string) bool {
	t.Helper()
	out, err := runCmd("ip", "netns", "list")
	if err != nil {
		t.Fatalf("ip netns list: %v: %s", err, out)
	}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == name {
			return true
		}
	}
	return false
}

// runCmd runs a command with a time limit and returns its combined output.
func runCmd(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return string(out), err
}
