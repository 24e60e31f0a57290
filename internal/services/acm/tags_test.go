package acm

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsacm "github.com/aws/aws-sdk-go-v2/service/acm"
	"github.com/aws/aws-sdk-go-v2/service/acm/types"
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
	cert, err := e.client.RequestCertificate(ctx, &awsacm.RequestCertificateInput{DomainName: aws.String("tags.test")})
	if err != nil {
		t.Fatal(err)
	}
	addTags := func(tags ...types.Tag) error {
		_, err := e.client.AddTagsToCertificate(ctx, &awsacm.AddTagsToCertificateInput{CertificateArn: cert.CertificateArn, Tags: tags})
		return err
	}
	listTags := func(t *testing.T) []types.Tag {
		t.Helper()
		l, err := e.client.ListTagsForCertificate(ctx, &awsacm.ListTagsForCertificateInput{CertificateArn: cert.CertificateArn})
		if err != nil {
			t.Fatal(err)
		}
		return l.Tags
	}

	t.Run("a key added again replaces its value", func(t *testing.T) {
		if err := addTags(types.Tag{Key: aws.String("env"), Value: aws.String("dev")}); err != nil {
			t.Fatal(err)
		}
		if err := addTags(types.Tag{Key: aws.String("env"), Value: aws.String("prod")}); err != nil {
			t.Fatal(err)
		}
		if tags := listTags(t); len(tags) != 1 || aws.ToString(tags[0].Value) != "prod" {
			t.Fatalf("tags %+v", tags)
		}
	})
	t.Run("at most 50, counting replaced keys once", func(t *testing.T) {
		if err := addTags(manyTags("k", 49)...); err != nil {
			t.Fatal(err)
		}
		if err := addTags(manyTags("k", 49)...); err != nil {
			t.Fatalf("replacing 49 tags: %v", err)
		}
		err := addTags(types.Tag{Key: aws.String("one-too-many")})
		if errorCode(err) != "TooManyTagsException" || !strings.Contains(err.Error(), "A certificate can have at most 50 tags") {
			t.Fatalf("51st tag: %v", err)
		}
		if tags := listTags(t); len(tags) != 50 {
			t.Fatalf("%d tags after a refused add, want 50", len(tags))
		}
		// More than 50 in one call breaks the model's limit before ACM's own.
		_, err = e.client.RequestCertificate(ctx, &awsacm.RequestCertificateInput{DomainName: aws.String("many.test"), Tags: manyTags("n", 51)})
		if errorCode(err) != "ValidationException" || !strings.Contains(err.Error(), "Member must have length less than or equal to 50") {
			t.Fatalf("requesting with 51 tags: %v", err)
		}
	})
	t.Run("removing every tag leaves no Tags", func(t *testing.T) {
		patterns := []types.Tag{{Key: aws.String("env"), Value: aws.String("prod")}}
		for i := range 49 {
			patterns = append(patterns, types.Tag{Key: aws.String(fmt.Sprintf("k%d", i))})
		}
		_, err := e.client.RemoveTagsFromCertificate(ctx, &awsacm.RemoveTagsFromCertificateInput{CertificateArn: cert.CertificateArn, Tags: patterns})
		if err != nil {
			t.Fatal(err)
		}
		if tags := listTags(t); tags != nil {
			t.Fatalf("tags %#v, want none", tags)
		}
	})
}
