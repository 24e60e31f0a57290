// Command alb-backend is the target of scripts/bench/alb.sh: a static HTTP
// server answering every path with the same 1 KB body, so the load
// balancers and proxies it sits behind are what the benchmark measures.
//
//	go run ./scripts/bench/alb-backend -listen 127.0.0.1:8080
package main

import (
	"flag"
	"log"
	"net/http"
	"strconv"
	"strings"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "address to serve on (loopback)")
	size := flag.Int("size", 1024, "bytes in every response body")
	flag.Parse()
	body := []byte(strings.Repeat("x", *size))
	length := strconv.Itoa(len(body))
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Content-Type"] = []string{"text/plain"}
		h["Content-Length"] = []string{length}
		w.Write(body)
	})
	log.Fatal(http.ListenAndServe(*listen, handler))
}
