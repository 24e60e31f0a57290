package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
)

func TestModes(t *testing.T) {
	t.Parallel()
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.Error(w, "nope", http.StatusNotFound)
			return
		}
		fmt.Fprint(w, "hello from "+r.URL.Path)
	}))
	t.Cleanup(web.Close)
	closedURL := closedPortURL(t)

	tests := []struct {
		name       string
		args       []string
		cancelled  bool // run with an already cancelled context (as after SIGTERM)
		wantCode   int
		wantStdout string // exact
		wantStderr string // substring
	}{
		{name: "exit 0", args: []string{"exit", "0"}, wantCode: 0},
		{name: "exit 3", args: []string{"exit", "3"}, wantCode: 3},
		{name: "exit without code", args: []string{"exit"}, wantCode: 2, wantStderr: "want one argument"},
		{name: "exit out of range", args: []string{"exit", "300"}, wantCode: 2, wantStderr: "0 to 255"},
		{name: "sleep finishes", args: []string{"sleep", "0.01"}, wantCode: 0, wantStdout: "sleeping for 10ms\n"},
		{name: "sleep stopped by signal", args: []string{"sleep", "60"}, cancelled: true,
			wantCode: 143, wantStdout: "sleeping for 1m0s\ngot signal, exiting\n"},
		{name: "sleep bad seconds", args: []string{"sleep", "soon"}, wantCode: 2, wantStderr: "SECONDS"},
		{name: "trap-term finishes", args: []string{"trap-term", "0.01"}, cancelled: true,
			wantCode: 0, wantStdout: "trap-term: ignoring SIGTERM for 10ms\ntrap-term: done\n"},
		{name: "mem holds until signal", args: []string{"mem", "4"}, cancelled: true,
			wantCode: 143, wantStdout: "allocated 4 MiB\ngot signal, exiting\n"},
		{name: "mem bad size", args: []string{"mem", "-1"}, wantCode: 2, wantStderr: "MB must be"},
		{name: "lines", args: []string{"lines", "3"}, wantCode: 0, wantStdout: "line 1\nline 2\nline 3\n"},
		{name: "lines bad count", args: []string{"lines", "x"}, wantCode: 2, wantStderr: "N must be"},
		{name: "get 200", args: []string{"get", web.URL + "/hi"}, wantCode: 0, wantStdout: "hello from /hi"},
		{name: "get 404", args: []string{"get", web.URL + "/missing"}, wantCode: 1,
			wantStdout: "nope\n", wantStderr: "404 Not Found"},
		{name: "get refused", args: []string{"get", closedURL}, wantCode: 1, wantStderr: "refused"},
		{name: "get bad url", args: []string{"get", "://"}, wantCode: 2, wantStderr: "missing protocol scheme"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			if tt.cancelled {
				cancel()
			}
			var stdout, stderr syncBuffer
			code := run(ctx, tt.args, &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("exit code = %d, want %d (stderr %q)", code, tt.wantCode, stderr.String())
			}
			if stdout.String() != tt.wantStdout {
				t.Errorf("stdout = %q, want %q", stdout.String(), tt.wantStdout)
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("stderr = %q, want it to contain %q", stderr.String(), tt.wantStderr)
			}
		})
	}
}

// closedPortURL returns an http URL on 127.0.0.1 where nothing listens.
func closedPortURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr + "/"
}

func TestLinesPrintsStackTraces(t *testing.T) {
	t.Parallel()
	var stdout syncBuffer
	if code := run(t.Context(), []string{"lines", "2500"}, &stdout, &stdout); code != 0 {
		t.Fatalf("exit code = %d, output %q", code, stdout.String())
	}
	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	if want := 2500 + 2*4; len(lines) != want {
		t.Fatalf("got %d lines, want %d", len(lines), want)
	}
	wantTrace := []string{
		"line 1000",
		"ERROR simulated failure after line 1000",
		"\tat main.work (lines.go:20)",
		"\tat main.run (lines.go:12)",
		"\tat main.main (main.go:8)",
		"line 1001",
	}
	for i, want := range wantTrace {
		if got := lines[999+i]; got != want {
			t.Errorf("line %d = %q, want %q", 1000+i, got, want)
		}
	}
	if last := lines[len(lines)-1]; last != "line 2500" {
		t.Errorf("last line = %q, want \"line 2500\"", last)
	}
}

func TestTrapTermIgnoresSIGTERM(t *testing.T) {
	t.Parallel()
	p := startProcess(t, nil, "trap-term", "1")
	p.waitLine(t, "ignoring SIGTERM")
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	p.waitLine(t, "got SIGTERM")
	p.waitLine(t, "trap-term: done")
	if code := p.wait(t); code != 0 {
		t.Errorf("exit code = %d, want 0", code)
	}
}

func TestSIGTERMStopsWaitingModes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		args      []string
		readyLine string
	}{
		{"sleep", []string{"sleep", "60"}, "sleeping for 1m0s"},
		{"mem", []string{"mem", "2"}, "allocated 2 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := startProcess(t, nil, tt.args...)
			p.waitLine(t, tt.readyLine)
			if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if code := p.wait(t); code != 143 {
				t.Errorf("exit code = %d, want 143", code)
			}
		})
	}
}

func TestServeProcess(t *testing.T) {
	t.Parallel()
	p := startProcess(t, []string{"PORT=0", "TASK_LABEL=proc"})
	line := p.waitLine(t, "testapp listening on ")
	_, port, err := net.SplitHostPort(strings.TrimPrefix(line, "testapp listening on "))
	if err != nil {
		t.Fatal(err)
	}
	base := "http://127.0.0.1:" + port
	resp, err := http.Get(base + "/exit?code=7")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET /exit = %d", resp.StatusCode)
	}
	if code := p.wait(t); code != 7 {
		t.Errorf("exit code = %d, want 7", code)
	}
}
