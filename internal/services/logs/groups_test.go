package logs

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cwl "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
)

func TestLogGroups(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	ctx := context.Background()
	for _, name := range []string{"/ecs/web", "/ecs/api", "/ecs/worker", "/lambda/fn", "app"} {
		must[*cwl.CreateLogGroupOutput](t)(e.client.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: aws.String(name)}))
	}
	_, err := e.client.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: aws.String("app")})
	wantCode(t, err, "ResourceAlreadyExistsException")
	_, err = e.client.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: aws.String("bad:name")})
	wantCode(t, err, "InvalidParameterException")
	_, err = e.client.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: aws.String("protected"), DeletionProtectionEnabled: aws.Bool(true)})
	wantCode(t, err, "InvalidParameterException")

	names := func(in *cwl.DescribeLogGroupsInput) []string {
		t.Helper()
		out := must[*cwl.DescribeLogGroupsOutput](t)(e.client.DescribeLogGroups(ctx, in))
		var got []string
		for _, g := range out.LogGroups {
			got = append(got, aws.ToString(g.LogGroupName))
		}
		return got
	}
	tests := []struct {
		name string
		in   *cwl.DescribeLogGroupsInput
		want []string
	}{
		{"all by name", &cwl.DescribeLogGroupsInput{}, []string{"/ecs/api", "/ecs/web", "/ecs/worker", "/lambda/fn", "app"}},
		{"prefix", &cwl.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String("/ecs/")}, []string{"/ecs/api", "/ecs/web", "/ecs/worker"}},
		{"pattern is a case-insensitive substring", &cwl.DescribeLogGroupsInput{LogGroupNamePattern: aws.String("W")}, []string{"/ecs/web", "/ecs/worker"}},
		{"identifiers", &cwl.DescribeLogGroupsInput{LogGroupIdentifiers: []string{"app", "arn:aws:logs:us-east-1:000000000000:log-group:/lambda/fn"}}, []string{"/lambda/fn", "app"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := names(tc.in); !slices.Equal(got, tc.want) {
				t.Fatalf("groups = %v, want %v", got, tc.want)
			}
		})
	}
	_, err = e.client.DescribeLogGroups(ctx, &cwl.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String("/"), LogGroupNamePattern: aws.String("e")})
	wantCode(t, err, "InvalidParameterException")

	t.Run("paginator walks every group once", func(t *testing.T) {
		var got []string
		p := cwl.NewDescribeLogGroupsPaginator(e.client, &cwl.DescribeLogGroupsInput{Limit: aws.Int32(2)})
		for pages := 0; p.HasMorePages(); pages++ {
			if pages > 5 {
				t.Fatal("too many pages")
			}
			out := must[*cwl.DescribeLogGroupsOutput](t)(p.NextPage(ctx))
			for _, g := range out.LogGroups {
				got = append(got, aws.ToString(g.LogGroupName))
			}
		}
		if want := names(&cwl.DescribeLogGroupsInput{}); !slices.Equal(got, want) {
			t.Fatalf("paged groups = %v, want %v", got, want)
		}
	})

	t.Run("description", func(t *testing.T) {
		out := must[*cwl.DescribeLogGroupsOutput](t)(e.client.DescribeLogGroups(ctx, &cwl.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String("app")}))
		g := out.LogGroups[0]
		if aws.ToString(g.Arn) != "arn:aws:logs:us-east-1:000000000000:log-group:app:*" || aws.ToString(g.LogGroupArn) != "arn:aws:logs:us-east-1:000000000000:log-group:app" {
			t.Errorf("arns = %s, %s", aws.ToString(g.Arn), aws.ToString(g.LogGroupArn))
		}
		if g.LogGroupClass != types.LogGroupClassStandard || g.RetentionInDays != nil || aws.ToInt64(g.StoredBytes) != 0 {
			t.Errorf("group = %+v", g)
		}
		if d := time.Since(time.UnixMilli(aws.ToInt64(g.CreationTime))); d < 0 || d > time.Minute {
			t.Errorf("creationTime is %v ago", d)
		}
	})

	t.Run("ListLogGroups", func(t *testing.T) {
		list := func(in *cwl.ListLogGroupsInput) []string {
			out := must[*cwl.ListLogGroupsOutput](t)(e.client.ListLogGroups(ctx, in))
			var got []string
			for _, g := range out.LogGroups {
				got = append(got, aws.ToString(g.LogGroupName))
			}
			return got
		}
		if got := list(&cwl.ListLogGroupsInput{LogGroupNamePattern: aws.String("^/ecs|fn")}); !slices.Equal(got, []string{"/ecs/api", "/ecs/web", "/ecs/worker", "/lambda/fn"}) {
			t.Fatalf("pattern: %v", got)
		}
		first := must[*cwl.ListLogGroupsOutput](t)(e.client.ListLogGroups(ctx, &cwl.ListLogGroupsInput{Limit: aws.Int32(3)}))
		rest := must[*cwl.ListLogGroupsOutput](t)(e.client.ListLogGroups(ctx, &cwl.ListLogGroupsInput{Limit: aws.Int32(3), NextToken: first.NextToken}))
		if len(first.LogGroups) != 3 || len(rest.LogGroups) != 2 || rest.NextToken != nil {
			t.Fatalf("pages of %d and %d", len(first.LogGroups), len(rest.LogGroups))
		}
		if arn := aws.ToString(rest.LogGroups[1].LogGroupArn); arn != "arn:aws:logs:us-east-1:000000000000:log-group:app" {
			t.Fatalf("arn %s", arn)
		}
		_, err := e.client.ListLogGroups(ctx, &cwl.ListLogGroupsInput{LogGroupNamePattern: aws.String("(")})
		wantCode(t, err, "InvalidParameterException")
	})

	t.Run("other regions see nothing", func(t *testing.T) {
		other := clientFor(e.url, "eu-west-1")
		out := must[*cwl.DescribeLogGroupsOutput](t)(other.DescribeLogGroups(ctx, &cwl.DescribeLogGroupsInput{}))
		if len(out.LogGroups) != 0 {
			t.Fatalf("eu-west-1 sees %d groups", len(out.LogGroups))
		}
		_, err := other.DeleteLogGroup(ctx, &cwl.DeleteLogGroupInput{LogGroupName: aws.String("app")})
		wantCode(t, err, "ResourceNotFoundException")
	})

	must[*cwl.DeleteLogGroupOutput](t)(e.client.DeleteLogGroup(ctx, &cwl.DeleteLogGroupInput{LogGroupName: aws.String("app")}))
	_, err = e.client.DeleteLogGroup(ctx, &cwl.DeleteLogGroupInput{LogGroupName: aws.String("app")})
	wantCode(t, err, "ResourceNotFoundException")
}

func TestRetention(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	ctx := context.Background()
	e.makeStream(t, "g", "s")
	e.put(t, "g", "s", e.clock.Now().Add(-3*24*time.Hour), numbered("old", 100)...)
	e.put(t, "g", "s", e.clock.Now(), numbered("new", 10)...)

	_, err := e.client.PutRetentionPolicy(ctx, &cwl.PutRetentionPolicyInput{LogGroupName: aws.String("g"), RetentionInDays: aws.Int32(4)})
	wantCode(t, err, "InvalidParameterException")
	_, err = e.client.PutRetentionPolicy(ctx, &cwl.PutRetentionPolicyInput{LogGroupName: aws.String("nope"), RetentionInDays: aws.Int32(1)})
	wantCode(t, err, "ResourceNotFoundException")
	must[*cwl.PutRetentionPolicyOutput](t)(e.client.PutRetentionPolicy(ctx, &cwl.PutRetentionPolicyInput{LogGroupName: aws.String("g"), RetentionInDays: aws.Int32(1)}))

	groups := must[*cwl.DescribeLogGroupsOutput](t)(e.client.DescribeLogGroups(ctx, &cwl.DescribeLogGroupsInput{}))
	if got := aws.ToInt32(groups.LogGroups[0].RetentionInDays); got != 1 {
		t.Fatalf("retentionInDays = %d", got)
	}
	out := must[*cwl.GetLogEventsOutput](t)(e.client.GetLogEvents(ctx, &cwl.GetLogEventsInput{LogGroupName: aws.String("g"), LogStreamName: aws.String("s"), StartFromHead: aws.Bool(true)}))
	if got := messagesOf(out.Events, outputMessage); !slices.Equal(got, numbered("new", 10)) {
		t.Fatalf("after retention: %d events, first %q", len(got), got[0])
	}

	// Two days later the new events expire too, and the maintenance loop
	// deletes them from disk.
	streamBytes := func() int64 {
		out := must[*cwl.DescribeLogStreamsOutput](t)(e.client.DescribeLogStreams(ctx, &cwl.DescribeLogStreamsInput{LogGroupName: aws.String("g")}))
		return aws.ToInt64(out.LogStreams[0].StoredBytes)
	}
	before := streamBytes()
	e.clock.Advance(2 * 24 * time.Hour)
	deadline := time.Now().Add(5 * time.Second)
	for streamBytes() >= before {
		if time.Now().After(deadline) {
			t.Fatalf("stored bytes still %d after retention", streamBytes())
		}
		time.Sleep(20 * time.Millisecond)
	}
	must[*cwl.DeleteRetentionPolicyOutput](t)(e.client.DeleteRetentionPolicy(ctx, &cwl.DeleteRetentionPolicyInput{LogGroupName: aws.String("g")}))
	groups = must[*cwl.DescribeLogGroupsOutput](t)(e.client.DescribeLogGroups(ctx, &cwl.DescribeLogGroupsInput{}))
	if groups.LogGroups[0].RetentionInDays != nil {
		t.Fatalf("retention still %d", *groups.LogGroups[0].RetentionInDays)
	}
}

func TestTags(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	ctx := context.Background()
	must[*cwl.CreateLogGroupOutput](t)(e.client.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: aws.String("g"), Tags: map[string]string{"team": "web"}}))
	groupARN := "arn:aws:logs:us-east-1:000000000000:log-group:g"
	must[*cwl.TagResourceOutput](t)(e.client.TagResource(ctx, &cwl.TagResourceInput{ResourceArn: aws.String(groupARN), Tags: map[string]string{"env": "dev"}}))
	must[*cwl.TagLogGroupOutput](t)(e.client.TagLogGroup(ctx, &cwl.TagLogGroupInput{LogGroupName: aws.String("g"), Tags: map[string]string{"owner": "me"}}))
	must[*cwl.UntagResourceOutput](t)(e.client.UntagResource(ctx, &cwl.UntagResourceInput{ResourceArn: aws.String(groupARN), TagKeys: []string{"team"}}))
	must[*cwl.UntagLogGroupOutput](t)(e.client.UntagLogGroup(ctx, &cwl.UntagLogGroupInput{LogGroupName: aws.String("g"), Tags: []string{"owner"}}))
	want := map[string]string{"env": "dev"}
	got := must[*cwl.ListTagsForResourceOutput](t)(e.client.ListTagsForResource(ctx, &cwl.ListTagsForResourceInput{ResourceArn: aws.String(groupARN + ":*")}))
	if len(got.Tags) != 1 || got.Tags["env"] != "dev" {
		t.Fatalf("tags = %v, want %v", got.Tags, want)
	}
	old := must[*cwl.ListTagsLogGroupOutput](t)(e.client.ListTagsLogGroup(ctx, &cwl.ListTagsLogGroupInput{LogGroupName: aws.String("g")}))
	if len(old.Tags) != 1 || old.Tags["env"] != "dev" {
		t.Fatalf("ListTagsLogGroup = %v", old.Tags)
	}

	errs := []struct {
		name string
		call func() error
		code string
	}{
		{"unknown group", func() error {
			_, err := e.client.ListTagsForResource(ctx, &cwl.ListTagsForResourceInput{ResourceArn: aws.String(groupARN + "x")})
			return err
		}, "ResourceNotFoundException"},
		{"not an ARN", func() error {
			_, err := e.client.TagResource(ctx, &cwl.TagResourceInput{ResourceArn: aws.String("g"), Tags: map[string]string{"a": "b"}})
			return err
		}, "InvalidParameterException"},
		{"too many tags", func() error {
			tags := map[string]string{}
			for i := range 50 {
				tags[string(rune('a'+i%26))+string(rune('a'+i/26))] = "v"
			}
			_, err := e.client.TagResource(ctx, &cwl.TagResourceInput{ResourceArn: aws.String(groupARN), Tags: tags})
			return err
		}, "TooManyTagsException"},
		{"old API, unknown group", func() error {
			_, err := e.client.TagLogGroup(ctx, &cwl.TagLogGroupInput{LogGroupName: aws.String("nope"), Tags: map[string]string{"a": "b"}})
			return err
		}, "ResourceNotFoundException"},
	}
	for _, tc := range errs {
		t.Run(tc.name, func(t *testing.T) { wantCode(t, tc.call(), tc.code) })
	}
}
