package elbv2

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// manyTags returns n tags named prefix0, prefix1, ...
func manyTags(prefix string, n int) []types.Tag {
	tags := make([]types.Tag, n)
	for i := range tags {
		tags[i] = types.Tag{Key: aws.String(fmt.Sprintf("%s%d", prefix, i)), Value: aws.String("v")}
	}
	return tags
}

func TestTagRules(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	ctx := context.Background()
	lb := e.createLB(t, "tagged")
	arn := aws.ToString(lb.LoadBalancerArn)
	addTags := func(tags ...types.Tag) error {
		_, err := e.elb.AddTags(ctx, &elb.AddTagsInput{ResourceArns: []string{arn}, Tags: tags})
		return err
	}
	tagsOf := func(t *testing.T) map[string]string {
		t.Helper()
		d, err := e.elb.DescribeTags(ctx, &elb.DescribeTagsInput{ResourceArns: []string{arn}})
		if err != nil || len(d.TagDescriptions) != 1 {
			t.Fatalf("describe tags %+v %v", d, err)
		}
		got := map[string]string{}
		for _, tag := range d.TagDescriptions[0].Tags {
			got[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
		}
		return got
	}

	t.Run("a key added again replaces its value", func(t *testing.T) {
		if err := addTags(types.Tag{Key: aws.String("env"), Value: aws.String("dev")}); err != nil {
			t.Fatal(err)
		}
		if err := addTags(types.Tag{Key: aws.String("env"), Value: aws.String("prod")}); err != nil {
			t.Fatal(err)
		}
		if got := tagsOf(t); len(got) != 1 || got["env"] != "prod" {
			t.Fatalf("tags %v", got)
		}
	})
	t.Run("at most 50, counting replaced keys once", func(t *testing.T) {
		if err := addTags(manyTags("k", 49)...); err != nil {
			t.Fatal(err)
		}
		if err := addTags(manyTags("k", 49)...); err != nil {
			t.Fatalf("replacing 49 tags: %v", err)
		}
		err := addTags(types.Tag{Key: aws.String("one-too-many"), Value: aws.String("v")})
		if errorCode(err) != "TooManyTags" || !strings.Contains(err.Error(), "You've reached the limit on the number of tags for this resource") {
			t.Fatalf("51st tag: %v", err)
		}
		if got := tagsOf(t); len(got) != 50 {
			t.Fatalf("%d tags after a refused AddTags, want 50", len(got))
		}
		if err := addTags(manyTags("n", 51)...); errorCode(err) != "TooManyTags" {
			t.Fatalf("51 tags in one call: %v", err)
		}
	})
	t.Run("removing every tag", func(t *testing.T) {
		keys := []string{"env"}
		for i := range 49 {
			keys = append(keys, fmt.Sprintf("k%d", i))
		}
		if _, err := e.elb.RemoveTags(ctx, &elb.RemoveTagsInput{ResourceArns: []string{arn}, TagKeys: keys}); err != nil {
			t.Fatal(err)
		}
		if got := tagsOf(t); len(got) != 0 {
			t.Fatalf("tags %v", got)
		}
	})
	t.Run("errors", func(t *testing.T) {
		cases := []struct {
			name, code, message string
			err                 error
		}{
			{"reserved prefix", "ValidationError", "Tag keys starting with 'aws:' are reserved",
				addTags(types.Tag{Key: aws.String("aws:x"), Value: aws.String("1")})},
			{"duplicate key", "DuplicateTagKeys", "Tag key 'a' is duplicated",
				addTags(types.Tag{Key: aws.String("a")}, types.Tag{Key: aws.String("a"), Value: aws.String("2")})},
			{"not an ELB ARN", "ValidationError", "'arn:aws:ecs:us-east-1:000000000000:cluster/x' is not a valid load balancer",
				func() error {
					_, err := e.elb.DescribeTags(ctx, &elb.DescribeTagsInput{ResourceArns: []string{"arn:aws:ecs:us-east-1:000000000000:cluster/x"}})
					return err
				}()},
			{"missing load balancer", "LoadBalancerNotFound", "",
				func() error {
					_, err := e.elb.RemoveTags(ctx, &elb.RemoveTagsInput{ResourceArns: []string{strings.Replace(arn, "/tagged/", "/gone/", 1)}, TagKeys: []string{"a"}})
					return err
				}()},
		}
		for _, tc := range cases {
			if errorCode(tc.err) != tc.code || !strings.Contains(fmt.Sprint(tc.err), tc.message) {
				t.Errorf("%s: %v, want %s %q", tc.name, tc.err, tc.code, tc.message)
			}
		}
	})
}
