package dataplane

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkForward measures a keep-alive request through the data plane
// to a target answering 1 KB, beside the same request sent to the target
// directly. Run: go test -run - -bench Forward ./internal/services/elbv2/dataplane/
func BenchmarkForward(b *testing.B) {
	body := strings.Repeat("x", 1024)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) }))
	defer target.Close()
	tb := &backendServer{name: "t"}
	tb.addr = mustAddrPort(&testing.T{}, target.URL)
	addr := testAddrFor("BenchmarkForward")
	p := New(Options{Clock: realClock(), Log: discardLog()})
	defer p.Close()
	if err := p.Apply(oneLB(addr, 8080, []Rule{{ARN: "d", Action: forwardTo("tg")}}, targetGroup("tg", tb))); err != nil {
		b.Fatal(err)
	}
	run := func(b *testing.B, url string) {
		tr := &http.Transport{MaxIdleConnsPerHost: 64}
		defer tr.CloseIdleConnections()
		client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
		b.ReportAllocs()
		b.SetParallelism(8)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				resp, err := client.Get(url)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	b.Run("direct", func(b *testing.B) { run(b, target.URL+"/") })
	b.Run("alb", func(b *testing.B) { run(b, "http://"+addr.String()+":8080/") })
}

// BenchmarkWrk loads the data plane with wrk (64 keep-alive connections,
// 1 KB responses) for 5 s per iteration and reports its req/s and the CPU
// time this process spent per request, the plane's and the target's (it
// runs in the same process: its handler is benchTarget); on a shared
// machine the CPU time is the steadier figure. With -cpuprofile it shows
// where the plane's hot path spends its CPU.
//
//	go test -run - -bench Wrk -cpuprofile /tmp/cpu.out ./internal/services/elbv2/dataplane/
//	go tool pprof -top /tmp/cpu.out
func BenchmarkWrk(b *testing.B) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		b.Skip("wrk is not installed")
	}
	target := httptest.NewServer(http.HandlerFunc(benchTarget))
	defer target.Close()
	tb := &backendServer{name: "t", addr: netip.MustParseAddrPort(strings.TrimPrefix(target.URL, "http://"))}
	addr := testAddrFor("BenchmarkWrk")
	p := New(Options{Clock: realClock(), Log: discardLog()})
	defer p.Close()
	if err := p.Apply(oneLB(addr, 8080, []Rule{{ARN: "d", Action: forwardTo("tg")}}, targetGroup("tg", tb))); err != nil {
		b.Fatal(err)
	}
	var rps, cpu float64
	for range b.N {
		before := processCPU()
		out, err := exec.Command(wrk, "-t1", "-c64", "-d5s", "http://"+addr.String()+":8080/").CombinedOutput()
		if err != nil {
			b.Fatalf("wrk: %v\n%s", err, out)
		}
		spent := processCPU() - before
		if bytes.Contains(out, []byte("Non-2xx")) || bytes.Contains(out, []byte("Socket errors")) {
			b.Fatalf("wrk saw errors:\n%s", out)
		}
		m := regexp.MustCompile(`([0-9]+) requests in .*\n(?s:.*)Requests/sec:\s+([0-9.]+)`).FindSubmatch(out)
		if m == nil {
			b.Fatalf("no request count in wrk's output:\n%s", out)
		}
		n, _ := strconv.ParseFloat(string(m[1]), 64)
		r, _ := strconv.ParseFloat(string(m[2]), 64)
		rps += r
		cpu += float64(spent.Microseconds()) / n
	}
	b.ReportMetric(rps/float64(b.N), "req/s")
	b.ReportMetric(cpu/float64(b.N), "cpu-us/req")
}

// processCPU is the CPU time (user and system) this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

var benchBody = []byte(strings.Repeat("x", 1024))

// benchTarget answers 1 KB, as the target of scripts/bench/alb.sh does.
func benchTarget(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	w.Write(benchBody)
}
