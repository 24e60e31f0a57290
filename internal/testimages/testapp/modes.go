package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
	"time"
)

// exitCodeSIGTERM is what a shell (and containerd) reports for a process
// ended by SIGTERM; the waiting modes exit with it when told to stop.
const exitCodeSIGTERM = 128 + int(syscall.SIGTERM)

// exitMode implements "testapp exit CODE": exit at once with CODE.
func exitMode(args []string) (int, error) {
	if len(args) != 1 {
		return 0, errors.New("want one argument: CODE")
	}
	code, err := strconv.Atoi(args[0])
	if err != nil || code < 0 || code > 255 {
		return 0, fmt.Errorf("CODE must be an integer from 0 to 255, not %q", args[0])
	}
	return code, nil
}

// sleepMode implements "testapp sleep SECONDS": print "sleeping for D",
// wait, then exit 0. On SIGTERM or SIGINT it prints a line and exits 143 at
// once.
func sleepMode(ctx context.Context, args []string, stdout io.Writer) (int, error) {
	d, err := secondsArg(args)
	if err != nil {
		return 0, err
	}
	fmt.Fprintf(stdout, "sleeping for %s\n", d)
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return 0, nil
	case <-ctx.Done():
		fmt.Fprintln(stdout, "got signal, exiting")
		return exitCodeSIGTERM, nil
	}
}

// trapTermMode implements "testapp trap-term SECONDS": ignore SIGTERM
// (printing "got SIGTERM" for each one) for SECONDS, then exit 0. Only
// SIGKILL stops it sooner; stop-timeout tests rely on this.
func trapTermMode(args []string, stdout io.Writer) (int, error) {
	d, err := secondsArg(args)
	if err != nil {
		return 0, err
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM)
	defer signal.Stop(sigs)
	fmt.Fprintf(stdout, "trap-term: ignoring SIGTERM for %s\n", d)
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case <-sigs:
			fmt.Fprintln(stdout, "got SIGTERM")
		case <-timer.C:
			fmt.Fprintln(stdout, "trap-term: done")
			return 0, nil
		}
	}
}

// memMode implements "testapp mem MB": allocate and touch MB MiB, print
// "allocated MB MiB", then hold it until SIGTERM (exit 143). With a memory
// limit below MB the kernel OOM-kills the process during allocation.
func memMode(ctx context.Context, args []string, stdout io.Writer) (int, error) {
	if len(args) != 1 {
		return 0, errors.New("want one argument: MB")
	}
	mb, err := strconv.Atoi(args[0])
	if err != nil || mb < 0 || mb > maxMemMiB {
		return 0, fmt.Errorf("MB must be an integer from 0 to %d, not %q", maxMemMiB, args[0])
	}
	block := allocate(mb)
	fmt.Fprintf(stdout, "allocated %d MiB\n", mb)
	<-ctx.Done()
	runtime.KeepAlive(block)
	fmt.Fprintln(stdout, "got signal, exiting")
	return exitCodeSIGTERM, nil
}

// linesMode implements "testapp lines N": print "line 1" .. "line N" to
// stdout as fast as possible. After every 1000th line it prints a
// multi-line stack trace whose first line starts with "ERROR" and whose
// continuation lines start with a tab, for multi-line log pattern tests:
//
//	ERROR simulated failure after line 1000
//		at main.work (lines.go:20)
//		at main.run (lines.go:12)
//		at main.main (main.go:8)
func linesMode(args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return errors.New("want one argument: N")
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 0 {
		return fmt.Errorf("N must be a non-negative integer, not %q", args[0])
	}
	w := bufio.NewWriterSize(stdout, 64<<10)
	for i := 1; i <= n; i++ {
		fmt.Fprintf(w, "line %d\n", i)
		if i%1000 == 0 {
			fmt.Fprintf(w, "ERROR simulated failure after line %d\n", i)
			fmt.Fprint(w, "\tat main.work (lines.go:20)\n\tat main.run (lines.go:12)\n\tat main.main (main.go:8)\n")
		}
	}
	return w.Flush()
}

// getMode implements "testapp get URL": GET the URL, print the body to
// stdout, exit 0 on a 2xx status and 1 otherwise (including when the
// request fails).
func getMode(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	if len(args) != 1 {
		return 0, errors.New("want one argument: URL")
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, args[0], nil)
	if err != nil {
		return 0, err
	}
	// No proxy from the environment: the targets are local (localhost, the
	// task metadata endpoint, other tasks), never the internet.
	client := &http.Client{Transport: &http.Transport{}}
	resp, err := client.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "GET %s: %v\n", args[0], err)
		return 1, nil
	}
	defer resp.Body.Close()
	if _, err := io.Copy(stdout, resp.Body); err != nil {
		fmt.Fprintf(stderr, "GET %s: reading body: %v\n", args[0], err)
		return 1, nil
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		fmt.Fprintf(stderr, "GET %s: %s\n", args[0], resp.Status)
		return 1, nil
	}
	return 0, nil
}

// secondsArg parses the single SECONDS argument; fractions are allowed.
func secondsArg(args []string) (time.Duration, error) {
	if len(args) != 1 {
		return 0, errors.New("want one argument: SECONDS")
	}
	s, err := strconv.ParseFloat(args[0], 64)
	if err != nil || s < 0 || s > 1e9 {
		return 0, fmt.Errorf("SECONDS must be a non-negative number, not %q", args[0])
	}
	return time.Duration(s * float64(time.Second)), nil
}

// burnCPU spins until the calling thread has used d of CPU time, or until
// ctx is cancelled. Counting CPU time rather than wall time makes the work
// the same under CPU limits and on a busy machine: with a quarter of a core,
// burning 100ms takes about 400ms.
func burnCPU(ctx context.Context, d time.Duration) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start := threadCPUTime()
	x := uint64(1)
	for threadCPUTime()-start < d && ctx.Err() == nil {
		for i := 0; i < 100000; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	runtime.KeepAlive(x)
}

// rusageThread is Linux's RUSAGE_THREAD, missing from package syscall.
const rusageThread = 1

// threadCPUTime is the user+system CPU time of the calling OS thread.
func threadCPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		panic(fmt.Sprintf("getrusage(RUSAGE_THREAD): %v", err))
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// allocate returns mb MiB with every page written, so the memory counts
// as resident in the container's cgroup rather than merely reserved.
func allocate(mb int) []byte {
	b := make([]byte, mb<<20)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	return b
}
