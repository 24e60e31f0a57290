package logs_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cwl "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	cwltypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"github.com/kumo-project/kumo/internal/kumotest"
)

// TestEmptyFilterPatternOnKumo checks against a real kumo that a metric
// filter with the empty pattern, which matches every event (AWS's "count
// log events" example), is accepted and described with filterPattern "",
// and that a log group tag whose value is "" comes back.
func TestEmptyFilterPatternOnKumo(t *testing.T) {
	k := kumotest.Start(t)
	client := cwl.NewFromConfig(k.AWSConfig())
	ctx := kumotest.Context(t, time.Minute)
	const groupName = "/empty/values"

	if _, err := client.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: aws.String(groupName),
		Tags: map[string]string{"owner": ""}}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.PutMetricFilter(ctx, &cwl.PutMetricFilterInput{LogGroupName: aws.String(groupName),
		FilterName: aws.String("EventCount"), FilterPattern: aws.String(""),
		MetricTransformations: []cwltypes.MetricTransformation{{MetricName: aws.String("EventCount"),
			MetricNamespace: aws.String("Empty"), MetricValue: aws.String("1"), DefaultValue: aws.Float64(0)}}}); err != nil {
		t.Fatal(err)
	}
	filters, err := client.DescribeMetricFilters(ctx, &cwl.DescribeMetricFiltersInput{LogGroupName: aws.String(groupName)})
	if err != nil {
		t.Fatal(err)
	}
	if len(filters.MetricFilters) != 1 || filters.MetricFilters[0].FilterPattern == nil || *filters.MetricFilters[0].FilterPattern != "" {
		t.Errorf("metric filters %+v, want one with filterPattern \"\"", filters.MetricFilters)
	}

	test, err := client.TestMetricFilter(ctx, &cwl.TestMetricFilterInput{FilterPattern: aws.String(""),
		LogEventMessages: []string{"one", "two"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(test.Matches) != 2 {
		t.Errorf("TestMetricFilter with the empty pattern matched %d of 2 messages", len(test.Matches))
	}

	groups, err := client.DescribeLogGroups(ctx, &cwl.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String(groupName)})
	if err != nil || len(groups.LogGroups) != 1 {
		t.Fatalf("log groups %+v %v", groups, err)
	}
	tags, err := client.ListTagsForResource(ctx, &cwl.ListTagsForResourceInput{ResourceArn: groups.LogGroups[0].LogGroupArn})
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := tags.Tags["owner"]; !ok || v != "" {
		t.Errorf("log group tags %v, want owner \"\"", tags.Tags)
	}
}
