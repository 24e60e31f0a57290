// Package initproc is the init process kumo runs as PID 1 of a container
// whose task definition sets initProcessEnabled (as docker's --init / tini
// do): it starts the real command, forwards signals to it, reaps orphaned
// zombies, and exits with the command's status.
package initproc

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// InitMain runs the command in args (optionally after a "--") and returns the
// exit code for the init process: the command's exit code, or 128+signal if
// a signal killed it, or 127 if it could not be started.
func InitMain(args []string) int {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "kumo init: no command")
		return 127
	}
	// Outside PID 1 (tests, or a shared PID namespace) orphans would go to
	// the real init; ask for them so they are reaped here.
	_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)

	signals := make(chan os.Signal, 32)
	signal.Notify(signals)
	defer signal.Stop(signals)

	child, err := start(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "kumo init: %v\n", err)
		return 127
	}
	for sig := range signals {
		if sig != syscall.SIGCHLD {
			_ = child.Signal(sig)
			continue
		}
		if code, exited := reap(child.Pid); exited {
			return code
		}
	}
	return 127 // unreachable: signals is never closed
}

// start runs the command with init's stdio and environment.
func start(args []string) (*os.Process, error) {
	path, err := exec.LookPath(args[0])
	if err != nil {
		return nil, err
	}
	return os.StartProcess(path, args, &os.ProcAttr{
		Files: []*os.File{os.Stdin, os.Stdout, os.Stderr},
		Env:   os.Environ(),
	})
}

// reap collects every exited child. It reports the exit code once the main
// child is among them.
func reap(mainPid int) (code int, exited bool) {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil || pid <= 0 {
			return code, exited
		}
		if pid != mainPid {
			continue
		}
		exited = true
		switch {
		case status.Exited():
			code = status.ExitStatus()
		case status.Signaled():
			code = 128 + int(status.Signal())
		}
	}
}
