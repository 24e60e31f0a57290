package logs

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cwl "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"github.com/kumo-project/kumo/internal/agent/awslogs"
)

// recordingPublisher keeps what metric filters publish (kumo has no
// metrics service yet to receive it).
type recordingPublisher struct {
	mu   sync.Mutex
	data []string
}

func (p *recordingPublisher) PutMetricData(_ context.Context, account, region string, data []MetricDatum) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, d := range data {
		p.data = append(p.data, fmt.Sprintf("%s/%s %s/%s %v %v %s", account, region, d.Namespace, d.Name, d.Value, d.Dimensions, d.Unit))
	}
	return nil
}

func (p *recordingPublisher) take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.data
	p.data = nil
	return out
}

func TestMetricFilterDataPoints(t *testing.T) {
	t.Parallel()
	pub := &recordingPublisher{}
	e := newAPIEnv(t, func(c *Config) { c.Metrics = pub })
	ctx := context.Background()
	e.makeStream(t, "/ecs/web", "s")
	filters := []cwl.PutMetricFilterInput{
		{FilterName: aws.String("errors"), FilterPattern: aws.String(`?"ERROR:" ?"CRITICAL:"`),
			MetricTransformations: []types.MetricTransformation{{MetricName: aws.String("Errors"), MetricNamespace: aws.String("App"), MetricValue: aws.String("1"), DefaultValue: aws.Float64(0)}}},
		{FilterName: aws.String("latency"), FilterPattern: aws.String(`{ $.latency > 100 }`),
			MetricTransformations: []types.MetricTransformation{{MetricName: aws.String("SlowLatency"), MetricNamespace: aws.String("App"), MetricValue: aws.String("$.latency"),
				Dimensions: map[string]string{"Path": "$.path"}, Unit: types.StandardUnitMilliseconds}}},
		{FilterName: aws.String("bytes"), FilterPattern: aws.String(`[ip, user, status, bytes]`),
			MetricTransformations: []types.MetricTransformation{{MetricName: aws.String("Bytes"), MetricNamespace: aws.String("App"), MetricValue: aws.String("$bytes")}}},
	}
	for _, f := range filters {
		f.LogGroupName = aws.String("/ecs/web")
		must[*cwl.PutMetricFilterOutput](t)(e.client.PutMetricFilter(ctx, &f))
	}
	tests := []struct {
		name     string
		messages []string
		want     []string
	}{
		{"terms and JSON", []string{"ERROR: boom", `{"latency": 150, "path": "/a"}`, `{"latency": 50, "path": "/b"}`, "CRITICAL: down"}, []string{
			"000000000000/us-east-1 App/Errors 1 map[] ",
			"000000000000/us-east-1 App/Errors 1 map[] ",
			"000000000000/us-east-1 App/SlowLatency 150 map[Path:/a] Milliseconds",
		}},
		{"default value when nothing matches; a field that is no number gives nothing", []string{"INFO: fine", "1.2.3.4 bob 200 lots"}, []string{
			"000000000000/us-east-1 App/Errors 0 map[] ",
		}},
		{"space-delimited value", []string{"1.2.3.4 bob 200 512"}, []string{
			"000000000000/us-east-1 App/Bytes 512 map[] ",
			"000000000000/us-east-1 App/Errors 0 map[] ",
		}},
	}
	for _, tc := range tests {
		e.put(t, "/ecs/web", "s", e.clock.Now(), tc.messages...)
		got := pub.take()
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: data points\n%q\nwant\n%q", tc.name, got, tc.want)
		}
	}

	t.Run("the awslogs sink publishes too", func(t *testing.T) {
		dest := awslogs.Destination{Account: "000000000000", Region: "us-east-1", Group: "/ecs/web", Stream: "task"}
		e.svc.EnsureStream(ctx, dest)
		if err := e.svc.Put(ctx, dest, "src", 5, []awslogs.Event{{Timestamp: e.clock.Now().Add(-time.Second).UnixMilli(), Message: "ERROR: x"}}); err != nil {
			t.Fatal(err)
		}
		if got := pub.take(); !slices.Equal(got, []string{"000000000000/us-east-1 App/Errors 1 map[] "}) {
			t.Fatalf("data points %q", got)
		}
	})
}
