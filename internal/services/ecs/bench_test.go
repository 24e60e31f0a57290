package ecs_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/kumo-project/kumo/internal/kumotest"
)

// The benchmarks report latency percentiles as custom metrics; run them with
//
//	go test ./internal/services/ecs -run '^$' -bench . -benchtime 100x
//
// BenchmarkRunTaskToRunning measures RunTask → RUNNING for a cached image
// and, in the same run, `ctr run --rm` of the same image on kumo's own
// containerd: the floor kumo is compared with.
func BenchmarkRunTaskToRunning(b *testing.B) {
	e := newEnv(b)
	td := e.register(b, "bench", shell(e, "app", "sleep 3600"))
	warm := e.run(b, td, nil) // pulls the image once
	e.waitStatus(b, warm, "RUNNING")
	e.stop(b, warm)

	var kumo []time.Duration
	var arns []string
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		arn := e.run(b, td, nil)
		for aws.ToString(e.describe(b, arn).LastStatus) != "RUNNING" {
			time.Sleep(2 * time.Millisecond)
		}
		kumo = append(kumo, time.Since(start))
		arns = append(arns, arn)
		// Stop in the background of the next run, as a user's cleanup would.
		e.ecs.StopTask(kumotest.Context(b, 10*time.Second), &ecs.StopTaskInput{Cluster: aws.String(e.cluster), Task: aws.String(arn)})
	}
	b.StopTimer()
	reportPercentiles(b, "runtask", kumo)
	reportPercentiles(b, "ctr-run", ctrRun(b, e.kumo, e.images.App, b.N))
	for _, arn := range arns {
		e.waitStatus(b, arn, "STOPPED")
	}
}

// BenchmarkDescribeTasks measures DescribeTasks of 100 running tasks.
func BenchmarkDescribeTasks(b *testing.B) {
	e := newEnv(b)
	td := e.register(b, "many", shell(e, "app", "sleep 3600"))
	arns := runMany(b, e, td, 100)
	for _, arn := range arns {
		e.waitStatus(b, arn, "RUNNING")
	}
	var d []time.Duration
	ctx := kumotest.Context(b, 10*time.Minute)
	// Without retries: on loopback the SDK sometimes closes the request body
	// before its transport has finished writing it, and the connection dies
	// under the response ("use of closed network connection"). The SDK
	// retries that after a backoff of up to seconds, which would measure its
	// backoff, not kumo; such calls are counted instead.
	noRetry := func(o *ecs.Options) { o.RetryMaxAttempts = 1 }
	clientErrors := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		out, err := e.ecs.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(e.cluster), Tasks: arns}, noRetry)
		if err != nil && strings.Contains(err.Error(), "use of closed network connection") {
			clientErrors++
			continue
		}
		if err != nil || len(out.Tasks) != 100 {
			b.Fatalf("describe: %v, %d tasks", err, len(out.Tasks))
		}
		d = append(d, time.Since(start))
	}
	b.StopTimer()
	reportPercentiles(b, "describe100", d)
	b.ReportMetric(float64(clientErrors), "sdk-closed-conn-calls")
	reportPercentiles(b, "describe100-raw", rawDescribe(b, e, arns, b.N))
}

// rawDescribe times DescribeTasks over plain HTTP, without the SDK's
// response decoding: what kumo itself takes.
func rawDescribe(b *testing.B, e *env, arns []string, n int) []time.Duration {
	body, _ := json.Marshal(map[string]any{"cluster": e.cluster, "tasks": arns})
	var d []time.Duration
	for i := 0; i < n; i++ {
		req, _ := http.NewRequest("POST", e.kumo.Endpoint(), bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		req.Header.Set("X-Amz-Target", "AmazonEC2ContainerServiceV20141113.DescribeTasks")
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		d = append(d, time.Since(start))
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("raw DescribeTasks: %s", resp.Status)
		}
	}
	return d
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[int(float64(len(s)-1)*p)]
}

func reportPercentiles(b *testing.B, prefix string, d []time.Duration) {
	b.ReportMetric(float64(percentile(d, 0.5).Microseconds())/1000, prefix+"-p50-ms")
	b.ReportMetric(float64(percentile(d, 0.99).Microseconds())/1000, prefix+"-p99-ms")
}

// ctrRun times `ctr run --rm` of image n times on kumo's containerd.
func ctrRun(b *testing.B, k *kumotest.Kumo, image string, n int) []time.Duration {
	sock := filepath.Join(k.DataDir, "containerd", "containerd.sock")
	ctr := func(args ...string) *exec.Cmd {
		return exec.Command("ctr", append([]string{"-a", sock, "-n", "kumo"}, args...)...)
	}
	if out, err := ctr("images", "pull", "--plain-http", image).CombinedOutput(); err != nil {
		b.Fatalf("ctr pull: %v\n%s", err, out)
	}
	var d []time.Duration
	for i := 0; i < n; i++ {
		start := time.Now()
		if out, err := ctr("run", "--rm", image, "bench-"+strconv.Itoa(i), "/bin/true").CombinedOutput(); err != nil {
			b.Fatalf("ctr run: %v\n%s", err, out)
		}
		d = append(d, time.Since(start))
	}
	return d
}

// BenchmarkTwoHundredTasks runs 200 tasks at once and reports kumo's RSS
// and the memory each task costs beyond its own processes (containerd
// shim, log driver, kumo's and containerd's growth). b.N is ignored.
func BenchmarkTwoHundredTasks(b *testing.B) {
	const n = 200
	e := newEnv(b)
	td := e.register(b, "idle", types.ContainerDefinition{Name: aws.String("app"), Image: aws.String(e.images.Busybox),
		Essential: aws.Bool(true), Command: []string{"sleep", "3600"}})
	kumoPID := pidOf(b, "kumo up --listen "+e.kumo.Addr)
	ctrdPID := pidOf(b, "containerd --config "+e.kumo.DataDir)
	baseKumo, baseCtrd := rssKiB(kumoPID), rssKiB(ctrdPID)
	start := time.Now()
	arns := runMany(b, e, td, n)
	for _, arn := range arns {
		e.waitFor(b, arn, 5*time.Minute, "RUNNING", func(t types.Task) bool { return aws.ToString(t.LastStatus) == "RUNNING" })
	}
	allRunning := time.Since(start)
	kumo, ctrd := rssKiB(kumoPID), rssKiB(ctrdPID)
	shims := sumRSS(b, "containerd-shim-runc-v2.*"+e.kumo.DataDir)
	drivers := sumRSS(b, "log-driver "+e.kumo.DataDir)
	b.ReportMetric(allRunning.Seconds(), "s-to-all-running")
	b.ReportMetric(float64(kumo)/1024, "kumo-pss-MiB")
	b.ReportMetric(float64(ctrd)/1024, "containerd-pss-MiB")
	perTask := float64((kumo-baseKumo)+(ctrd-baseCtrd)+shims+drivers) / n
	b.ReportMetric(perTask/1024, "overhead-MiB/task")
	b.Logf("200 tasks RUNNING in %v; kumo %d KiB (was %d), containerd %d KiB (was %d), shims %d KiB, log drivers %d KiB",
		allRunning, kumo, baseKumo, ctrd, baseCtrd, shims, drivers)
	for _, arn := range arns {
		e.ecs.StopTask(kumotest.Context(b, 10*time.Second), &ecs.StopTaskInput{Cluster: aws.String(e.cluster), Task: aws.String(arn)})
	}
}

func pidOf(b *testing.B, pattern string) int {
	out, err := exec.Command("pgrep", "-f", "-o", pattern).Output()
	if err != nil {
		b.Fatalf("pgrep %q: %v", pattern, err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	return pid
}

// rssKiB reads a process's proportional set size: resident memory with
// pages shared between processes (the kumo binary's text, mapped by every
// log driver) divided among them, so sums over processes are honest.
func rssKiB(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "Pss:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

func sumRSS(b *testing.B, pattern string) int64 {
	out, _ := exec.Command("pgrep", "-f", pattern).Output()
	var total int64
	for _, f := range strings.Fields(string(out)) {
		pid, _ := strconv.Atoi(f)
		total += rssKiB(pid)
	}
	return total
}

// runMany starts n tasks of td, ten per RunTask call.
func runMany(b *testing.B, e *env, td string, n int) []string {
	var arns []string
	for len(arns) < n {
		out, err := e.ecs.RunTask(kumotest.Context(b, 30*time.Second), &ecs.RunTaskInput{
			Cluster: aws.String(e.cluster), TaskDefinition: aws.String(td), Count: aws.Int32(int32(min(10, n-len(arns)))),
			NetworkConfiguration: &types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{Subnets: []string{"s"}}},
		})
		if err != nil {
			b.Fatal(err)
		}
		for _, t := range out.Tasks {
			arns = append(arns, aws.ToString(t.TaskArn))
		}
	}
	return arns
}
