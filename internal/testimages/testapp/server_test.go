package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// testServer is a server behind httptest, with captured output and exit.
type testServer struct {
	*server
	url            string
	stdout, stderr *syncBuffer
	exits          chan int // codes passed to exit by /exit
}

func startServer(t *testing.T, cfg config) *testServer {
	t.Helper()
	ts := &testServer{stdout: &syncBuffer{}, stderr: &syncBuffer{}, exits: make(chan int, 10)}
	ts.server = newServer(cfg, ts.stdout, ts.stderr, func(code int) { ts.exits <- code })
	hs := httptest.NewServer(ts.handler())
	t.Cleanup(hs.Close)
	ts.url = hs.URL
	return ts
}

// get fetches path and returns the status and body.
func (ts *testServer) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(ts.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// getJSON fetches path, requires 200, and decodes the body into v.
func (ts *testServer) getJSON(t *testing.T, path string, v any) {
	t.Helper()
	status, body := ts.get(t, path)
	if status != http.StatusOK {
		t.Fatalf("GET %s = %d %q", path, status, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("GET %s: %v in %q", path, err, body)
	}
}

func TestEcho(t *testing.T) {
	t.Parallel()
	ts := startServer(t, config{TaskLabel: "green"})
	req, err := http.NewRequest(http.MethodPost, ts.url+"/api/orders?id=7", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "shop.example"
	req.Header.Set("X-Forwarded-For", "10.0.0.9")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got echoResponse
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	hostname, _ := os.Hostname()
	want := echoResponse{
		Method: "POST", Path: "/api/orders", Query: "id=7", Host: "shop.example",
		Hostname: hostname, TaskLabel: "green",
	}
	if got.Method != want.Method || got.Path != want.Path || got.Query != want.Query ||
		got.Host != want.Host || got.Hostname != want.Hostname || got.TaskLabel != want.TaskLabel {
		t.Errorf("echo = %+v, want %+v", got, want)
	}
	if v := got.Headers.Get("X-Forwarded-For"); v != "10.0.0.9" {
		t.Errorf("X-Forwarded-For header = %q, want 10.0.0.9", v)
	}
	if !strings.HasPrefix(got.RemoteAddr, "127.0.0.1:") {
		t.Errorf("remoteAddr = %q, want 127.0.0.1:PORT", got.RemoteAddr)
	}
}

func TestHealthInitialState(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		healthFail bool
		wantStatus int
		wantBody   string
	}{
		{"healthy by default", false, 200, "ok\n"},
		{"HEALTH_FAIL starts unhealthy", true, 500, "unhealthy\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, config{HealthFail: tt.healthFail})
			status, body := ts.get(t, "/health")
			if status != tt.wantStatus || body != tt.wantBody {
				t.Errorf("GET /health = %d %q, want %d %q", status, body, tt.wantStatus, tt.wantBody)
			}
		})
	}
}

func TestHealthSwitch(t *testing.T) {
	t.Parallel()
	ts := startServer(t, config{})
	steps := []struct {
		path       string
		wantHealth int
	}{
		{"/health/fail", 500},
		{"/health/fail", 500}, // idempotent
		{"/health/ok", 200},
		{"/health/fail", 500},
	}
	for _, step := range steps {
		if status, body := ts.get(t, step.path); status != 200 {
			t.Fatalf("GET %s = %d %q", step.path, status, body)
		}
		if status, _ := ts.get(t, "/health"); status != step.wantHealth {
			t.Errorf("after %s: GET /health = %d, want %d", step.path, status, step.wantHealth)
		}
	}
}

func TestCPUBurnsProcessTime(t *testing.T) {
	ts := startServer(t, config{})
	before := cpuTime(t)
	var got map[string]int
	ts.getJSON(t, "/cpu?ms=200", &got)
	if got["burnedMs"] != 200 {
		t.Errorf("burnedMs = %d, want 200", got["burnedMs"])
	}
	// The server runs in this process, so its CPU time is ours.
	if used := cpuTime(t) - before; used < 195*time.Millisecond {
		t.Errorf("process used %s of CPU, want at least 195ms", used)
	}
}

// cpuTime is the user+system CPU time this process has used so far.
func cpuTime(t *testing.T) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestMemKeepsAllocations(t *testing.T) {
	t.Parallel()
	ts := startServer(t, config{})
	for i, wantHeld := range []int{4, 8} {
		var got map[string]int
		ts.getJSON(t, "/mem?mb=4", &got)
		if got["allocatedMb"] != 4 || got["heldMb"] != wantHeld {
			t.Errorf("call %d: got %v, want allocatedMb 4 heldMb %d", i+1, got, wantHeld)
		}
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if len(ts.held) != 2 || len(ts.held[1]) != 4<<20 || ts.held[1][4096] != 1 {
		t.Errorf("held blocks not kept and touched: %d blocks", len(ts.held))
	}
}

func TestLog(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		query      string
		wantStdout string
		wantStderr string
	}{
		{"default one line", "", "log line 1/1\n", ""},
		{"numbered lines", "?n=3", "log line 1/3\nlog line 2/3\nlog line 3/3\n", ""},
		{"text to stderr", "?n=2&stream=stderr&text=boom", "", "boom\nboom\n"},
		{"zero lines", "?n=0&text=x", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, config{})
			var got map[string]int
			ts.getJSON(t, "/log"+tt.query, &got)
			if ts.stdout.String() != tt.wantStdout || ts.stderr.String() != tt.wantStderr {
				t.Errorf("stdout %q stderr %q, want %q %q",
					ts.stdout.String(), ts.stderr.String(), tt.wantStdout, tt.wantStderr)
			}
		})
	}
}

func TestExitAnswersThenExits(t *testing.T) {
	t.Parallel()
	ts := startServer(t, config{})
	status, body := ts.get(t, "/exit?code=3")
	if status != 200 || body != "exiting with code 3\n" {
		t.Errorf("GET /exit = %d %q", status, body)
	}
	// The client may see the answer before the handler goes on to exit.
	select {
	case code := <-ts.exits:
		if code != 3 {
			t.Errorf("exit called with %d, want 3", code)
		}
	case <-time.After(10 * time.Second):
		t.Error("exit not called within 10s of the answer")
	}
}

func TestSleep(t *testing.T) {
	t.Parallel()
	ts := startServer(t, config{})
	start := time.Now()
	var got map[string]int
	ts.getJSON(t, "/sleep?ms=50", &got)
	if got["sleptMs"] != 50 {
		t.Errorf("sleptMs = %d, want 50", got["sleptMs"])
	}
	if elapsed := time.Since(start); elapsed < 50*time.Millisecond {
		t.Errorf("answered after %s, want at least 50ms", elapsed)
	}
}

func TestBadParameters(t *testing.T) {
	t.Parallel()
	ts := startServer(t, config{})
	for _, path := range []string{
		"/cpu?ms=-1",
		"/cpu?ms=99999999999",
		"/mem?mb=lots",
		"/log?n=2&stream=journal",
		"/log?n=-5",
		"/exit?code=256",
		"/sleep?ms=1.5",
	} {
		t.Run(path, func(t *testing.T) {
			status, body := ts.get(t, path)
			if status != http.StatusBadRequest {
				t.Errorf("GET %s = %d %q, want 400", path, status, body)
			}
		})
	}
	if len(ts.exits) != 0 {
		t.Errorf("a bad /exit request exited with %d", <-ts.exits)
	}
}

func TestServeStopsOnCancel(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	var stdout syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, ln, newServer(config{}, &stdout, &stdout, nil).handler(), &stdout)
	}()
	resp, err := http.Get("http://" + ln.Addr().String() + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve returned %v, want nil after cancel", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not return within 10s of cancel")
	}
	if !strings.Contains(stdout.String(), "shutting down") {
		t.Errorf("stdout %q does not say it is shutting down", stdout.String())
	}
}
