package main

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// runAsMainEnv makes the test binary behave as testapp itself, so tests can
// run real testapp processes (signals, os.Exit) without a separate build.
const runAsMainEnv = "KUMO_TESTAPP_RUN_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runAsMainEnv) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// process is a testapp running as a child process.
type process struct {
	cmd   *exec.Cmd
	lines chan string // stdout, line by line; closed at EOF
}

// startProcess runs testapp with args and extra environment variables; it
// is killed at test cleanup if still running.
func startProcess(t *testing.T, env []string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), runAsMainEnv+"=1"), env...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, lines: make(chan string, 100)}
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return p
}

// waitLine returns the first stdout line containing substr, failing the
// test after 10 seconds.
func (p *process) waitLine(t *testing.T, substr string) string {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				t.Fatalf("stdout closed before a line containing %q", substr)
			}
			if strings.Contains(line, substr) {
				return line
			}
		case <-timeout:
			t.Fatalf("no line containing %q within 10s", substr)
		}
	}
}

// wait returns the exit code, failing the test after 10 seconds.
func (p *process) wait(t *testing.T) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			if _, ok := err.(*exec.ExitError); !ok {
				t.Fatal(err)
			}
		}
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(10 * time.Second):
		t.Fatal("process did not exit within 10s")
		return -1
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writers, standing in
// for stdout and stderr in tests.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var _ io.Writer = (*syncBuffer)(nil)

func TestUnknownModeIsUsageError(t *testing.T) {
	t.Parallel()
	var stdout, stderr syncBuffer
	code := run(t.Context(), []string{"fly"}, &stdout, &stderr)
	if code != 2 {
		t.Errorf("exit code = %d, want 2", code)
	}
	if !strings.Contains(stderr.String(), "usage:") {
		t.Errorf("stderr = %q, want usage", stderr.String())
	}
}

func TestConfigFromEnv(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want config
	}{
		{"defaults", map[string]string{}, config{Port: "8080"}},
		{"all set", map[string]string{"PORT": "9000", "TASK_LABEL": "blue", "HEALTH_FAIL": "1"},
			config{Port: "9000", TaskLabel: "blue", HealthFail: true}},
		{"health fail other value", map[string]string{"HEALTH_FAIL": "yes"}, config{Port: "8080"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"PORT", "TASK_LABEL", "HEALTH_FAIL"} {
				t.Setenv(k, tt.env[k])
			}
			if got := configFromEnv(); got != tt.want {
				t.Errorf("configFromEnv() = %+v, want %+v", got, tt.want)
			}
		})
	}
}
