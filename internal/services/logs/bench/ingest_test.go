package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kumo-project/kumo/internal/agent/awslogs"
	"github.com/kumo-project/kumo/internal/agent/logdriver"
	"github.com/kumo-project/kumo/internal/clock"
	"github.com/kumo-project/kumo/internal/protocol"
	"github.com/kumo-project/kumo/internal/services/logs"
	"github.com/kumo-project/kumo/internal/wire/logswire"
)

// ingestLines is how many lines a container prints per benchmark run.
const ingestLines = 300_000

// BenchmarkContainerIngest measures the awslogs path from a container's
// log file (as `kumo log-driver` writes it) through the agent's shipper
// into the Logs service until GetLogEvents returns it: sustained lines/s,
// and the 99th percentile of the time from a line's write to the moment
// it is searchable. The writer writes 1,000 lines at a time, as fast as
// it can.
func BenchmarkContainerIngest(b *testing.B) {
	var latencies []time.Duration
	var elapsed time.Duration
	for i := 0; i < b.N; i++ {
		lat, d := ingestRun(b)
		latencies = append(latencies, lat...)
		elapsed += d
	}
	slices.Sort(latencies)
	b.ReportMetric(float64(ingestLines*b.N)/elapsed.Seconds(), "lines/s")
	b.ReportMetric(float64(latencies[len(latencies)*99/100].Milliseconds()), "p99-ms")
	b.ReportMetric(0, "ns/op")
}

// ingestRun ships ingestLines lines and returns the write→searchable
// latency of every 1,000th line and the time until the last was searchable.
func ingestRun(b *testing.B) ([]time.Duration, time.Duration) {
	dir := b.TempDir()
	svc, err := logs.New(logs.Config{Dir: filepath.Join(dir, "logs"), Clock: clock.Real{}})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	svc.Start(ctx)
	defer func() { cancel(); svc.Wait() }()

	path := filepath.Join(dir, "app.log")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	dest := awslogs.Destination{Account: "000000000000", Region: "us-east-1", Group: "/ecs/bench", Stream: "bench/app/1"}
	var written atomic.Bool
	go awslogs.Run(ctx, awslogs.Config{Path: path, Source: "1/app", Dest: dest, Sink: svc, Finished: written.Load,
		Options: awslogs.Options{Group: dest.Group, CreateGroup: true}})

	writeTimes := make([]time.Time, ingestLines/1000)
	began := time.Now()
	go func() {
		var buf []byte
		for i := 0; i < ingestLines; i += 1000 {
			now := time.Now()
			writeTimes[i/1000] = now
			buf = buf[:0]
			for j := i; j < i+1000; j++ {
				rec, _ := json.Marshal(logdriver.Record{TimeNanos: now.UnixNano(), Stream: "stdout", Message: fmt.Sprintf("%d GET /api/items 200 %d", j, j%977)})
				buf = append(append(buf, rec...), '\n')
			}
			f.Write(buf)
		}
		written.Store(true)
	}()
	return waitSearchable(b, svc, dest, writeTimes, began)
}

// waitSearchable polls the newest event of the stream; events arrive in
// order, so every line up to it is searchable.
func waitSearchable(b *testing.B, svc *logs.Service, dest awslogs.Destination, writeTimes []time.Time, began time.Time) ([]time.Duration, time.Duration) {
	ctx := protocol.WithRequest(context.Background(), &protocol.Request{Caller: protocol.Caller{AccountID: dest.Account, Region: dest.Region}})
	var latencies []time.Duration
	next := 0 // the next sampled line not yet seen
	deadline := time.Now().Add(2 * time.Minute)
	for next < len(writeTimes) {
		if time.Now().After(deadline) {
			b.Fatalf("only %d000 lines searchable after 2 minutes", next)
		}
		time.Sleep(5 * time.Millisecond)
		one := int32(1)
		out, err := svc.GetLogEvents(ctx, &logswire.GetLogEventsRequest{LogGroupName: dest.Group, LogStreamName: dest.Stream, Limit: &one})
		if err != nil || len(out.Events) == 0 {
			continue
		}
		seen, _ := strconv.Atoi(strings.Fields(out.Events[0].Message)[0])
		now := time.Now()
		for ; next < len(writeTimes) && next*1000 <= seen; next++ {
			latencies = append(latencies, now.Sub(writeTimes[next]))
		}
	}
	return latencies, time.Since(began)
}
