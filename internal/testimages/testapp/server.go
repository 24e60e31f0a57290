package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Upper bounds on query parameters, so that one request cannot hang or
// exhaust the machine by accident.
const (
	maxCPUMillis   = 10 * 60 * 1000 // 10 minutes
	maxSleepMillis = 60 * 60 * 1000 // 1 hour
	maxMemMiB      = 64 * 1024      // 64 GiB
	maxLogLines    = 1_000_000
)

// server holds the state behind the HTTP endpoints: the health switch and
// the memory that /mem keeps alive.
type server struct {
	cfg     config
	stdout  io.Writer // /log?stream=stdout writes here
	stderr  io.Writer // /log?stream=stderr writes here
	exit    func(code int)
	healthy atomic.Bool

	mu   sync.Mutex
	held [][]byte // memory kept by /mem; never released
}

// newServer returns a server whose /exit endpoint calls exit. Writers must
// be safe for concurrent use (os.Stdout and os.Stderr are).
func newServer(cfg config, stdout, stderr io.Writer, exit func(int)) *server {
	s := &server{cfg: cfg, stdout: stdout, stderr: stderr, exit: exit}
	s.healthy.Store(!cfg.HealthFail)
	return s
}

// handler routes every endpoint. Any path not listed below is echoed, so
// path-based load balancer rules can be tested with arbitrary paths.
func (s *server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/", s.echo)
	mux.HandleFunc("/health", s.health)
	mux.HandleFunc("/health/fail", s.setHealth(false))
	mux.HandleFunc("/health/ok", s.setHealth(true))
	mux.HandleFunc("/cpu", s.cpu)
	mux.HandleFunc("/mem", s.mem)
	mux.HandleFunc("/log", s.log)
	mux.HandleFunc("/exit", s.exitHandler)
	mux.HandleFunc("/sleep", s.sleep)
	return mux
}

// echoResponse is the JSON body of the echo endpoint.
type echoResponse struct {
	Method     string      `json:"method"`
	Path       string      `json:"path"`
	Query      string      `json:"query"`
	Host       string      `json:"host"`
	Headers    http.Header `json:"headers"`
	Hostname   string      `json:"hostname"`
	TaskLabel  string      `json:"taskLabel"`
	RemoteAddr string      `json:"remoteAddr"`
}

// echo describes the request back to the caller, plus who answered it.
func (s *server) echo(w http.ResponseWriter, r *http.Request) {
	hostname, _ := os.Hostname() // "" if unknown
	writeJSON(w, http.StatusOK, echoResponse{
		Method:     r.Method,
		Path:       r.URL.Path,
		Query:      r.URL.RawQuery,
		Host:       r.Host,
		Headers:    r.Header,
		Hostname:   hostname,
		TaskLabel:  s.cfg.TaskLabel,
		RemoteAddr: r.RemoteAddr,
	})
}

// health answers 200 "ok" while healthy and 500 "unhealthy" otherwise.
func (s *server) health(w http.ResponseWriter, r *http.Request) {
	if s.healthy.Load() {
		writeText(w, http.StatusOK, "ok")
		return
	}
	writeText(w, http.StatusInternalServerError, "unhealthy")
}

// setHealth returns a handler that switches /health to healthy or failing.
// Switching is idempotent, so a test may call it through any number of
// load balancer hops.
func (s *server) setHealth(healthy bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.healthy.Store(healthy)
		if healthy {
			writeText(w, http.StatusOK, "health set to ok")
			return
		}
		writeText(w, http.StatusOK, "health set to fail")
	}
}

// cpu keeps one core busy until it has used ms milliseconds of CPU time,
// then answers.
func (s *server) cpu(w http.ResponseWriter, r *http.Request) {
	ms, err := intParam(r, "ms", 100, maxCPUMillis)
	if err != nil {
		writeText(w, http.StatusBadRequest, err.Error())
		return
	}
	burnCPU(r.Context(), time.Duration(ms)*time.Millisecond)
	writeJSON(w, http.StatusOK, map[string]int{"burnedMs": ms})
}

// mem allocates mb MiB, touches every page so it is really resident, and
// keeps it until the process exits.
func (s *server) mem(w http.ResponseWriter, r *http.Request) {
	mb, err := intParam(r, "mb", 1, maxMemMiB)
	if err != nil {
		writeText(w, http.StatusBadRequest, err.Error())
		return
	}
	block := allocate(mb)
	s.mu.Lock()
	s.held = append(s.held, block)
	total := 0
	for _, b := range s.held {
		total += len(b) >> 20
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]int{"allocatedMb": mb, "heldMb": total})
}

// log prints n lines to stdout or stderr. Each line is text if given,
// otherwise "log line I/N".
func (s *server) log(w http.ResponseWriter, r *http.Request) {
	n, err := intParam(r, "n", 1, maxLogLines)
	if err != nil {
		writeText(w, http.StatusBadRequest, err.Error())
		return
	}
	var out io.Writer
	switch stream := r.URL.Query().Get("stream"); stream {
	case "", "stdout":
		out = s.stdout
	case "stderr":
		out = s.stderr
	default:
		writeText(w, http.StatusBadRequest, fmt.Sprintf("stream must be stdout or stderr, not %q", stream))
		return
	}
	text := r.URL.Query().Get("text")
	for i := 1; i <= n; i++ {
		line := text
		if line == "" {
			line = fmt.Sprintf("log line %d/%d", i, n)
		}
		fmt.Fprintln(out, line)
	}
	writeJSON(w, http.StatusOK, map[string]int{"lines": n})
}

// exitHandler answers, flushes the answer to the client, then exits the
// process with the requested code.
func (s *server) exitHandler(w http.ResponseWriter, r *http.Request) {
	code, err := intParam(r, "code", 0, 255)
	if err != nil {
		writeText(w, http.StatusBadRequest, err.Error())
		return
	}
	w.Header().Set("Connection", "close")
	writeText(w, http.StatusOK, fmt.Sprintf("exiting with code %d", code))
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	fmt.Fprintf(s.stdout, "exit requested with code %d\n", code)
	s.exit(code)
}

// sleep waits ms milliseconds (or until the client goes away) before
// answering; for timeout and slow-target tests.
func (s *server) sleep(w http.ResponseWriter, r *http.Request) {
	ms, err := intParam(r, "ms", 1000, maxSleepMillis)
	if err != nil {
		writeText(w, http.StatusBadRequest, err.Error())
		return
	}
	timer := time.NewTimer(time.Duration(ms) * time.Millisecond)
	defer timer.Stop()
	select {
	case <-timer.C:
		writeJSON(w, http.StatusOK, map[string]int{"sleptMs": ms})
	case <-r.Context().Done():
	}
}

// intParam reads a non-negative integer query parameter no larger than max,
// or def when it is absent.
func intParam(r *http.Request, name string, def, max int) (int, error) {
	raw := r.URL.Query().Get(name)
	if raw == "" {
		return def, nil
	}
	v, err := strconv.Atoi(raw)
	if err != nil || v < 0 || v > max {
		return 0, fmt.Errorf("%s must be an integer from 0 to %d, not %q", name, max, raw)
	}
	return v, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		writeText(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)+1))
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}

func writeText(w http.ResponseWriter, status int, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(text)+1))
	w.WriteHeader(status)
	io.WriteString(w, text+"\n")
}

// serveMode runs the HTTP server on $PORT until ctx is cancelled (SIGTERM),
// then shuts down gracefully and returns nil, so a stopped task exits 0.
func serveMode(ctx context.Context, stdout, stderr io.Writer) error {
	cfg := configFromEnv()
	ln, err := net.Listen("tcp", ":"+cfg.Port)
	if err != nil {
		return err
	}
	s := newServer(cfg, stdout, stderr, os.Exit)
	return serve(ctx, ln, s.handler(), stdout)
}

// serve answers HTTP on ln until ctx is cancelled.
func serve(ctx context.Context, ln net.Listener, h http.Handler, stdout io.Writer) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "testapp listening on %s\n", ln.Addr())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	fmt.Fprintln(stdout, "testapp shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if serveErr := <-done; !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	return err
}
