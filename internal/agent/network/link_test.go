package network

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRetryDump: an interrupted dump (EINTR) is asked again, a bounded
// number of times; any other outcome is returned as it is.
func TestRetryDump(t *testing.T) {
	calls := 0
	got, err := retryDump(func() (int, error) {
		calls++
		if calls < 3 {
			return 0, unix.EINTR
		}
		return 42, nil
	})
	if got != 42 || err != nil || calls != 3 {
		t.Fatalf("got %d, %v after %d calls; want 42 after 3", got, err, calls)
	}
	calls = 0
	if _, err := retryDump(func() (int, error) { calls++; return 0, unix.EINTR }); !errors.Is(err, unix.EINTR) || calls != 5 {
		t.Fatalf("always interrupted: %v after %d calls; want EINTR after 5", err, calls)
	}
	calls = 0
	if _, err := retryDump(func() (int, error) { calls++; return 0, unix.EPERM }); !errors.Is(err, unix.EPERM) || calls != 1 {
		t.Fatalf("failed: %v after %d calls; want EPERM after 1", err, calls)
	}
}
