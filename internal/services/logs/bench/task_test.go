package bench

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cwl "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/kumo-project/kumo/internal/kumotest"
	"github.com/kumo-project/kumo/internal/testimages"
)

// taskLines is how many lines the task of BenchmarkTaskIngest prints.
const taskLines = 1_000_000

// BenchmarkTaskIngest is ingestion from a real container: a kumo runs a
// task printing a million lines (testapp lines) with awslogs, through
// `kumo log-driver`, the node's log file and the shipper. It reports
// lines/s from RunTask until the last line is searchable (container start
// included), and the p99 of ingestionTime − timestamp over every event:
// the time from the log driver reading a line to the line being stored.
func BenchmarkTaskIngest(b *testing.B) {
	images := testimages.PushFixtures(b, testimages.StartRegistry(b))
	k := kumotest.Start(b)
	ecsc, logsc := k.ECS(), cwl.NewFromConfig(k.AWSConfig())
	ctx := kumotest.Context(b, 10*time.Minute)
	if _, err := ecsc.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("default")}); err != nil {
		b.Fatal(err)
	}
	_, err := ecsc.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family: aws.String("lines"), NetworkMode: types.NetworkModeAwsvpc, Cpu: aws.String("1024"), Memory: aws.String("2048"),
		RequiresCompatibilities: []types.Compatibility{types.CompatibilityFargate},
		ExecutionRoleArn:        aws.String("arn:aws:iam::000000000000:role/ecsTaskExecutionRole"),
		ContainerDefinitions: []types.ContainerDefinition{{
			Name: aws.String("app"), Image: aws.String(images.App), Essential: aws.Bool(true),
			Command: []string{"lines", fmt.Sprint(taskLines)},
			LogConfiguration: &types.LogConfiguration{LogDriver: types.LogDriverAwslogs, Options: map[string]string{
				"awslogs-group": "/bench/lines", "awslogs-stream-prefix": "b", "awslogs-create-group": "true"}},
		}},
	})
	if err != nil {
		b.Fatal(err)
	}
	var elapsed time.Duration
	var delays []int64
	for i := 0; i < b.N; i++ {
		began := time.Now()
		out, err := ecsc.RunTask(ctx, &ecs.RunTaskInput{TaskDefinition: aws.String("lines"), LaunchType: types.LaunchTypeFargate,
			NetworkConfiguration: &types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{Subnets: []string{"subnet-local"}}}})
		if err != nil || len(out.Tasks) != 1 {
			b.Fatalf("run task: %v", err)
		}
		arn := aws.ToString(out.Tasks[0].TaskArn)
		stream := "b/app/" + arn[strings.LastIndex(arn, "/")+1:]
		waitLastLine(b, logsc, stream)
		elapsed += time.Since(began)
		delays = append(delays, ingestionDelays(b, logsc, stream)...)
	}
	slices.Sort(delays)
	b.ReportMetric(float64(taskLines*b.N)/elapsed.Seconds(), "lines/s")
	b.ReportMetric(float64(delays[len(delays)*99/100]), "p99-ms")
	b.ReportMetric(0, "ns/op")
}

// waitLastLine polls the stream's newest event until it is the last line.
func waitLastLine(b *testing.B, logsc *cwl.Client, stream string) {
	ctx := kumotest.Context(b, 5*time.Minute)
	want := fmt.Sprintf("line %d", taskLines)
	for {
		out, err := logsc.GetLogEvents(ctx, &cwl.GetLogEventsInput{LogGroupName: aws.String("/bench/lines"), LogStreamName: aws.String(stream), Limit: aws.Int32(5)})
		if err == nil {
			for _, e := range out.Events {
				if aws.ToString(e.Message) == want {
					return
				}
			}
		}
		if ctx.Err() != nil {
			b.Fatalf("the last line never became searchable")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ingestionDelays reads every event of the stream and returns its
// ingestionTime − timestamp in ms, checking the lines are all there.
func ingestionDelays(b *testing.B, logsc *cwl.Client, stream string) []int64 {
	ctx := kumotest.Context(b, 5*time.Minute)
	var delays []int64
	lines := 0
	p := cwl.NewFilterLogEventsPaginator(logsc, &cwl.FilterLogEventsInput{LogGroupName: aws.String("/bench/lines"), LogStreamNames: []string{stream}})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			b.Fatal(err)
		}
		for _, e := range out.Events {
			delays = append(delays, aws.ToInt64(e.IngestionTime)-aws.ToInt64(e.Timestamp))
			if n, ok := strings.CutPrefix(aws.ToString(e.Message), "line "); ok {
				if _, err := strconv.Atoi(n); err == nil {
					lines++
				}
			}
		}
	}
	if lines != taskLines {
		b.Fatalf("%d numbered lines stored, want %d", lines, taskLines)
	}
	return delays
}
