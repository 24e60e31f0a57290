package logdriver

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// readAll returns every complete record of the file at path.
func readAll(t *testing.T, path string) []Record {
	t.Helper()
	r, err := NewReader(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var recs []Record
	for range 100000 {
		rec, _, err := r.Next()
		if errors.Is(err, io.EOF) {
			return recs
		}
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	t.Fatal("too many records")
	return nil
}

// startRun runs the driver on two pipes and returns their write ends and
// the channel run's result arrives on.
func startRun(t *testing.T, path string, terminate chan os.Signal) (stdout, stderr *os.File, done chan error) {
	t.Helper()
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { outR.Close(); errR.Close(); outW.Close(); errW.Close() })
	done = make(chan error, 1)
	go func() { done <- run(path, outR, errR, func() error { return nil }, terminate) }()
	return outW, errW, done
}

func waitDone(t *testing.T, done chan error) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("driver did not exit")
	}
}

func TestRunRecordsBothStreams(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", MaxLine+10)
	tests := []struct {
		name   string
		stdout string
		stderr string
		want   []Record // in stream order; times are not compared
	}{
		{"lines", "hello\nworld\n", "oops\n", []Record{
			{Stream: "stdout", Message: "hello"}, {Stream: "stdout", Message: "world"}, {Stream: "stderr", Message: "oops"}}},
		{"no final newline", "tail", "", []Record{{Stream: "stdout", Message: "tail"}}},
		{"empty line", "\n", "", []Record{{Stream: "stdout", Message: ""}}},
		{"long line split", long + "\n", "", []Record{
			{Stream: "stdout", Message: long[:MaxLine], Partial: true}, {Stream: "stdout", Message: long[MaxLine:]}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "c.log")
			stdout, stderr, done := startRun(t, path, nil)
			go func() { io.WriteString(stdout, tt.stdout); stdout.Close() }()
			go func() { io.WriteString(stderr, tt.stderr); stderr.Close() }()
			waitDone(t, done)

			var got []Record
			for _, stream := range []string{"stdout", "stderr"} {
				for _, r := range readAll(t, path) {
					if r.Stream == stream {
						if r.TimeNanos == 0 {
							t.Errorf("record %q has no time", r.Message)
						}
						r.TimeNanos = 0
						got = append(got, r)
					}
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d records, want %d: %+v", len(got), len(tt.want), got)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("record %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestRunFlushesWhileRunning(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "c.log")
	stdout, stderr, done := startRun(t, path, nil)
	io.WriteString(stdout, "early\n")
	deadline := time.Now().Add(3 * time.Second)
	for !fileExists(path) || len(readAll(t, path)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("line not on disk while the container still runs")
		}
		time.Sleep(50 * time.Millisecond)
	}
	stdout.Close()
	stderr.Close()
	waitDone(t, done)
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func TestRunExitsAfterTerminate(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "c.log")
	terminate := make(chan os.Signal, 1)
	stdout, _, done := startRun(t, path, terminate)
	io.WriteString(stdout, "last words\n")
	terminate <- syscall.SIGTERM
	waitDone(t, done) // the pipes stay open: only the drain deadline ends it
	if recs := readAll(t, path); len(recs) != 1 || recs[0].Message != "last words" {
		t.Fatalf("records = %+v", recs)
	}
}

func TestReaderWaitsForTornLine(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "c.log")
	first := `{"t":1,"s":"stdout","m":"one"}` + "\n"
	if err := os.WriteFile(path, []byte(first+`{"t":2,"s":"std`), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := NewReader(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rec, off, err := r.Next()
	if err != nil || rec.Message != "one" || off != int64(len(first)) {
		t.Fatalf("Next = %+v, %d, %v", rec, off, err)
	}
	if _, off, err := r.Next(); !errors.Is(err, io.EOF) || off != int64(len(first)) {
		t.Fatalf("torn line: Next offset %d err %v, want EOF at %d", off, err, len(first))
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(f, `err","m":"two"}`+"\n")
	f.Close()
	rec, _, err = r.Next()
	if err != nil || rec.Message != "two" || rec.Stream != "stderr" {
		t.Fatalf("completed line: Next = %+v, %v", rec, err)
	}

	// A reader opened at a remembered offset continues from there.
	r2, err := NewReader(path, off)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if rec, _, err := r2.Next(); err != nil || rec.Message != "two" {
		t.Fatalf("from offset: Next = %+v, %v", rec, err)
	}
}
