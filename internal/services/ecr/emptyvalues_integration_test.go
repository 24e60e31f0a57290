package ecr_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecr "github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/kumo-project/kumo/internal/kumotest"
)

// TestEmptyTagValuesOnKumo checks against a real kumo that a repository
// tag whose value is "" is accepted and comes back as "", not as missing,
// as ECR answers it (the aws CLI shows "Value": "").
func TestEmptyTagValuesOnKumo(t *testing.T) {
	k := kumotest.Start(t)
	client := awsecr.NewFromConfig(k.AWSConfig())
	ctx := kumotest.Context(t, time.Minute)

	repo, err := client.CreateRepository(ctx, &awsecr.CreateRepositoryInput{RepositoryName: aws.String("empty-tags"),
		Tags: []ecrtypes.Tag{{Key: aws.String("owner"), Value: aws.String("")}}})
	if err != nil {
		t.Fatal(err)
	}
	repoARN := repo.Repository.RepositoryArn
	if _, err := client.TagResource(ctx, &awsecr.TagResourceInput{ResourceArn: repoARN,
		Tags: []ecrtypes.Tag{{Key: aws.String("team"), Value: aws.String("")}, {Key: aws.String("env"), Value: aws.String("dev")}}}); err != nil {
		t.Fatal(err)
	}
	out, err := client.ListTagsForResource(ctx, &awsecr.ListTagsForResourceInput{ResourceArn: repoARN})
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]*string{}
	for _, tag := range out.Tags {
		values[aws.ToString(tag.Key)] = tag.Value
	}
	for _, key := range []string{"owner", "team"} {
		if v, ok := values[key]; !ok || v == nil || *v != "" {
			t.Errorf("tag %s = %v (present %v), want \"\"", key, v, ok)
		}
	}
	if len(out.Tags) != 3 || aws.ToString(values["env"]) != "dev" {
		t.Errorf("tags %v, want owner, team and env", values)
	}
}
