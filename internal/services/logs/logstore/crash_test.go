package logstore

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

const crashChildEnv = "LOGSTORE_CRASH_CHILD_DIR"

// TestKillDuringAppends runs appenders in a child process, SIGKILLs it in
// the middle, reopens the store and checks that every batch the child saw
// acknowledged is there exactly once.
func TestKillDuringAppends(t *testing.T) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		appendUntilKilled(dir)
		return
	}
	t.Parallel()
	dir := t.TempDir()
	clk := newClock()
	s := openStore(t, dir, clk, 64<<10)
	mustCreate(t, s, "g", "s")
	s.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^TestKillDuringAppends$", "-test.v")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := readAcks(out, 400, 20*time.Second)
	cmd.Process.Kill()
	cmd.Wait()
	if len(acked) == 0 {
		t.Fatal("the child acknowledged nothing")
	}

	s2 := openStore(t, dir, clk, 64<<10)
	res, err := s2.Read("g", "s", ReadQuery{Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]int{}
	for i, e := range res.Events {
		if e.Seq != uint64(i) {
			t.Fatalf("event %d has seq %d", i, e.Seq)
		}
		found[e.Message]++
	}
	for _, batch := range acked {
		for j := range 5 {
			if n := found[fmt.Sprintf("%s/%d", batch, j)]; n != 1 {
				t.Fatalf("acknowledged event %s/%d found %d times", batch, j, n)
			}
		}
	}
	t.Logf("%d batches acknowledged before the kill, %d events recovered", len(acked), len(res.Events))
}

// readAcks collects "ack <batch>" lines until it has want of them or the
// time is up.
func readAcks(out interface{ Read([]byte) (int, error) }, want int, limit time.Duration) []string {
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var acked []string
	deadline := time.After(limit)
	for len(acked) < want {
		select {
		case l, ok := <-lines:
			if !ok {
				return acked
			}
			if b, ok := strings.CutPrefix(l, "ack "); ok {
				acked = append(acked, b)
			}
		case <-deadline:
			return acked
		}
	}
	return acked
}

// appendUntilKilled is the child: four writers append 5-event batches for
// at most 30 seconds, printing each acknowledged batch.
func appendUntilKilled(dir string) {
	s, err := Open(Config{Dir: dir, Clock: newClock(), SegmentBytes: 64 << 10})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	stop := time.Now().Add(30 * time.Second)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(stop); i++ {
				batch := fmt.Sprintf("w%d-%d", w, i)
				evs := make([]InputEvent, 5)
				for j := range evs {
					evs[j] = InputEvent{Timestamp: int64(1000 + i), Message: fmt.Sprintf("%s/%d", batch, j)}
				}
				if _, err := s.Append("g", "s", evs); err != nil {
					fmt.Println("append:", err)
					os.Exit(1)
				}
				mu.Lock()
				fmt.Println("ack", batch)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	os.Exit(0)
}
