package dataplane

import (
	"io"
	"net/http"
	"net/http/httptest"
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
