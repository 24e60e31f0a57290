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
// 1 KB responses) for 5 s per iteration and reports its req/s; with
// -cpuprofile it shows where the plane's hot path spends its CPU (the
// target runs in the same process: its handler is benchTarget).
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
	var total float64
	for range b.N {
		out, err := exec.Command(wrk, "-t1", "-c64", "-d5s", "http://"+addr.String()+":8080/").CombinedOutput()
		if err != nil {
			b.Fatalf("wrk: %v\n%s", err, out)
		}
		if bytes.Contains(out, []byte("Non-2xx")) || bytes.Contains(out, []byte("Socket errors")) {
			b.Fatalf("wrk saw errors:\n%s", out)
		}
		m := regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`).FindSubmatch(out)
		if m == nil {
			b.Fatalf("no Requests/sec in wrk's output:\n%s", out)
		}
		rps, _ := strconv.ParseFloat(string(m[1]), 64)
		total += rps
	}
	b.ReportMetric(total/float64(b.N), "req/s")
}

var benchBody = []byte(strings.Repeat("x", 1024))

// benchTarget answers 1 KB, as the target of scripts/bench/alb.sh does.
func benchTarget(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	w.Write(benchBody)
}
