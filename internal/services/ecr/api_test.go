package ecr

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecr "github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/kumo-project/kumo/internal/store"
)

func TestRepositories(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	ctx := t.Context()
	out, err := e.client.CreateRepository(ctx, &awsecr.CreateRepositoryInput{
		RepositoryName:             aws.String("team/web"),
		ImageTagMutability:         types.ImageTagMutabilityImmutable,
		ImageScanningConfiguration: &types.ImageScanningConfiguration{ScanOnPush: true},
		Tags:                       []types.Tag{{Key: aws.String("env"), Value: aws.String("dev")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := out.Repository
	if *r.RepositoryUri != e.host+"/team/web" || *r.RepositoryArn != "arn:aws:ecr:us-east-1:000000000000:repository/team/web" ||
		*r.RegistryId != "000000000000" || r.ImageTagMutability != types.ImageTagMutabilityImmutable ||
		!r.ImageScanningConfiguration.ScanOnPush || r.EncryptionConfiguration.EncryptionType != types.EncryptionTypeAes256 || r.CreatedAt == nil {
		t.Fatalf("repository = %+v", r)
	}
	for _, name := range []string{"b", "c", "d"} {
		if _, err := e.client.CreateRepository(ctx, &awsecr.CreateRepositoryInput{RepositoryName: aws.String(name + "-repo")}); err != nil {
			t.Fatal(err)
		}
	}

	errorCases := []struct {
		name string
		call func() error
		code string
	}{
		{"duplicate", func() error {
			_, err := e.client.CreateRepository(ctx, &awsecr.CreateRepositoryInput{RepositoryName: aws.String("team/web")})
			return err
		}, "RepositoryAlreadyExistsException"},
		{"same name in another region", func() error {
			_, err := e.clientIn("eu-west-1").CreateRepository(ctx, &awsecr.CreateRepositoryInput{RepositoryName: aws.String("team/web")})
			return err
		}, "RepositoryAlreadyExistsException"},
		{"bad name", func() error {
			_, err := e.client.CreateRepository(ctx, &awsecr.CreateRepositoryInput{RepositoryName: aws.String("Bad_Name")})
			return err
		}, "InvalidParameterException"},
		{"too short", func() error {
			_, err := e.client.CreateRepository(ctx, &awsecr.CreateRepositoryInput{RepositoryName: aws.String("a")})
			return err
		}, "InvalidParameterException"},
		{"reserved tag", func() error {
			_, err := e.client.CreateRepository(ctx, &awsecr.CreateRepositoryInput{RepositoryName: aws.String("tagged"), Tags: []types.Tag{{Key: aws.String("aws:x"), Value: aws.String("v")}}})
			return err
		}, "InvalidTagParameterException"},
		{"describe missing", func() error {
			_, err := e.client.DescribeRepositories(ctx, &awsecr.DescribeRepositoriesInput{RepositoryNames: []string{"missing"}})
			return err
		}, "RepositoryNotFoundException"},
		{"other region", func() error {
			_, err := e.clientIn("eu-west-1").DescribeRepositories(ctx, &awsecr.DescribeRepositoriesInput{RepositoryNames: []string{"team/web"}})
			return err
		}, "RepositoryNotFoundException"},
		{"other registry", func() error {
			_, err := e.client.DescribeRepositories(ctx, &awsecr.DescribeRepositoriesInput{RegistryId: aws.String("111111111111")})
			return err
		}, "InvalidParameterException"},
		{"bad token", func() error {
			_, err := e.client.DescribeRepositories(ctx, &awsecr.DescribeRepositoriesInput{NextToken: aws.String("garbage")})
			return err
		}, "InvalidParameterException"},
		{"mutability filters without exclusion mode", func() error {
			_, err := e.client.PutImageTagMutability(ctx, &awsecr.PutImageTagMutabilityInput{RepositoryName: aws.String("b-repo"), ImageTagMutability: types.ImageTagMutabilityImmutable,
				ImageTagMutabilityExclusionFilters: []types.ImageTagMutabilityExclusionFilter{{Filter: aws.String("dev*"), FilterType: types.ImageTagMutabilityExclusionFilterTypeWildcard}}})
			return err
		}, "InvalidParameterException"},
		{"delete missing", func() error {
			_, err := e.client.DeleteRepository(ctx, &awsecr.DeleteRepositoryInput{RepositoryName: aws.String("missing")})
			return err
		}, "RepositoryNotFoundException"},
	}
	for _, tc := range errorCases {
		t.Run(tc.name, func(t *testing.T) { wantCode(t, tc.call(), tc.code) })
	}

	t.Run("pages", func(t *testing.T) {
		var names []string
		p := awsecr.NewDescribeRepositoriesPaginator(e.client, &awsecr.DescribeRepositoriesInput{MaxResults: aws.Int32(3)})
		pages := 0
		for p.HasMorePages() && pages < 10 {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, r := range page.Repositories {
				names = append(names, *r.RepositoryName)
			}
		}
		if pages != 2 || strings.Join(names, ",") != "b-repo,c-repo,d-repo,team/web" {
			t.Fatalf("pages=%d names=%v", pages, names)
		}
	})
	t.Run("settings", func(t *testing.T) {
		if _, err := e.client.PutImageTagMutability(ctx, &awsecr.PutImageTagMutabilityInput{RepositoryName: aws.String("b-repo"), ImageTagMutability: types.ImageTagMutabilityImmutable}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.client.PutImageScanningConfiguration(ctx, &awsecr.PutImageScanningConfigurationInput{RepositoryName: aws.String("b-repo"), ImageScanningConfiguration: &types.ImageScanningConfiguration{ScanOnPush: true}}); err != nil {
			t.Fatal(err)
		}
		got, err := e.client.DescribeRepositories(ctx, &awsecr.DescribeRepositoriesInput{RepositoryNames: []string{"b-repo"}})
		if err != nil {
			t.Fatal(err)
		}
		if r := got.Repositories[0]; r.ImageTagMutability != types.ImageTagMutabilityImmutable || !r.ImageScanningConfiguration.ScanOnPush {
			t.Fatalf("repository = %+v", r)
		}
	})
	t.Run("delete needs force when not empty", func(t *testing.T) {
		mustPush(t, e.host, "c-repo", "v1", randomImage(t))
		_, err := e.client.DeleteRepository(ctx, &awsecr.DeleteRepositoryInput{RepositoryName: aws.String("c-repo")})
		wantCode(t, err, "RepositoryNotEmptyException")
		if _, err := e.client.DeleteRepository(ctx, &awsecr.DeleteRepositoryInput{RepositoryName: aws.String("c-repo"), Force: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := push(t, e.host, "c-repo", "v2", randomImage(t)); err == nil || !strings.Contains(err.Error(), "NAME_UNKNOWN") {
			t.Fatalf("push to deleted repository: %v, want NAME_UNKNOWN", err)
		}
	})
}

func TestPushRequiresRepository(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	_, err := push(t, e.host, "never-created", "v1", randomImage(t))
	if err == nil || !strings.Contains(err.Error(), "NAME_UNKNOWN") {
		t.Fatalf("push = %v, want NAME_UNKNOWN", err)
	}
}

func TestImages(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	ctx := t.Context()
	repo := aws.String("app")
	if _, err := e.client.CreateRepository(ctx, &awsecr.CreateRepositoryInput{RepositoryName: repo}); err != nil {
		t.Fatal(err)
	}
	img1, img2 := randomImage(t), randomImage(t)
	d1 := mustPush(t, e.host, "app", "v1", img1)
	e.clock.Advance(60_000_000_000)
	d2 := mustPush(t, e.host, "app", "v2", img2)
	untagged := randomImage(t)
	ud, _ := untagged.Digest()
	ref, _ := name.ParseReference(e.host+"/app@"+ud.String(), name.Insecure)
	if err := remote.Write(ref, untagged, remote.WithContext(ctx)); err != nil {
		t.Fatal(err)
	}

	t.Run("list with tag status", func(t *testing.T) {
		for _, tc := range []struct {
			status types.TagStatus
			want   int
		}{{types.TagStatusTagged, 2}, {types.TagStatusUntagged, 1}, {types.TagStatusAny, 3}} {
			out, err := e.client.ListImages(ctx, &awsecr.ListImagesInput{RepositoryName: repo, Filter: &types.ListImagesFilter{TagStatus: tc.status}})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.ImageIds) != tc.want {
				t.Errorf("%s: %d ids, want %d", tc.status, len(out.ImageIds), tc.want)
			}
		}
		out, err := e.client.ListImages(ctx, &awsecr.ListImagesInput{RepositoryName: repo, MaxResults: aws.Int32(2)})
		if err != nil || len(out.ImageIds) != 2 || out.NextToken == nil {
			t.Fatalf("first page = %+v, %v", out, err)
		}
		rest, err := e.client.ListImages(ctx, &awsecr.ListImagesInput{RepositoryName: repo, MaxResults: aws.Int32(2), NextToken: out.NextToken})
		if err != nil || len(rest.ImageIds) != 1 || rest.NextToken != nil {
			t.Fatalf("second page = %+v, %v", rest, err)
		}
	})
	t.Run("image status filter", func(t *testing.T) {
		// kumo never archives, so every image is ACTIVE.
		for _, tc := range []struct {
			status types.ImageStatusFilter
			want   int
		}{{types.ImageStatusFilterActive, 3}, {types.ImageStatusFilterAny, 3}, {types.ImageStatusFilterArchived, 0}, {types.ImageStatusFilterActivating, 0}} {
			list, err := e.client.ListImages(ctx, &awsecr.ListImagesInput{RepositoryName: repo, Filter: &types.ListImagesFilter{ImageStatus: tc.status}})
			if err != nil || len(list.ImageIds) != tc.want {
				t.Fatalf("%s: list = %+v, %v; want %d", tc.status, list, err, tc.want)
			}
			details, err := e.client.DescribeImages(ctx, &awsecr.DescribeImagesInput{RepositoryName: repo, Filter: &types.DescribeImagesFilter{ImageStatus: tc.status}})
			if err != nil || len(details.ImageDetails) != tc.want {
				t.Fatalf("%s: describe = %+v, %v; want %d", tc.status, details, err, tc.want)
			}
		}
	})
	t.Run("describe pages", func(t *testing.T) {
		first, err := e.client.DescribeImages(ctx, &awsecr.DescribeImagesInput{RepositoryName: repo, MaxResults: aws.Int32(2)})
		if err != nil || len(first.ImageDetails) != 2 || first.NextToken == nil {
			t.Fatalf("first page = %+v, %v", first, err)
		}
		rest, err := e.client.DescribeImages(ctx, &awsecr.DescribeImagesInput{RepositoryName: repo, MaxResults: aws.Int32(2), NextToken: first.NextToken})
		if err != nil || len(rest.ImageDetails) != 1 || rest.NextToken != nil || *rest.ImageDetails[0].ImageDigest == *first.ImageDetails[1].ImageDigest {
			t.Fatalf("second page = %+v, %v", rest, err)
		}
		_, err = e.client.DescribeImages(ctx, &awsecr.DescribeImagesInput{RepositoryName: repo, MaxResults: aws.Int32(1001)})
		wantCode(t, err, "InvalidParameterException")
	})
	t.Run("describe", func(t *testing.T) {
		out, err := e.client.DescribeImages(ctx, &awsecr.DescribeImagesInput{RepositoryName: repo, ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("v2")}}})
		if err != nil {
			t.Fatal(err)
		}
		d := out.ImageDetails[0]
		size, _ := img2.Size()
		layers, _ := img2.Layers()
		var want int64
		cfg, _ := img2.RawConfigFile()
		want += int64(len(cfg))
		for _, l := range layers {
			s, _ := l.Size()
			want += s
		}
		if *d.ImageDigest != d2 || strings.Join(d.ImageTags, ",") != "v2" || *d.ImageSizeInBytes != want || size == 0 ||
			!d.ImagePushedAt.Equal(e.clock.Now()) || *d.ImageManifestMediaType != "application/vnd.docker.distribution.manifest.v2+json" ||
			*d.ArtifactMediaType != "application/vnd.docker.container.image.v1+json" || *d.RegistryId != "000000000000" {
			t.Fatalf("detail = %+v (want digest %s size %d)", d, d2, want)
		}
		_, err = e.client.DescribeImages(ctx, &awsecr.DescribeImagesInput{RepositoryName: repo, ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("nope")}}})
		wantCode(t, err, "ImageNotFoundException")
	})
	t.Run("pull time", func(t *testing.T) {
		ref, _ := name.ParseReference(e.host+"/app:v1", name.Insecure)
		if _, err := remote.Get(ref, remote.WithContext(ctx)); err != nil {
			t.Fatal(err)
		}
		out, err := e.client.DescribeImages(ctx, &awsecr.DescribeImagesInput{RepositoryName: repo, ImageIds: []types.ImageIdentifier{{ImageDigest: aws.String(d1)}}})
		if err != nil || out.ImageDetails[0].LastRecordedPullTime == nil {
			t.Fatalf("detail = %+v, %v", out, err)
		}
	})
	t.Run("batch get", func(t *testing.T) {
		out, err := e.client.BatchGetImage(ctx, &awsecr.BatchGetImageInput{RepositoryName: repo, ImageIds: []types.ImageIdentifier{
			{ImageTag: aws.String("v1")}, {ImageTag: aws.String("gone")}, {}, {ImageTag: aws.String("v1"), ImageDigest: aws.String(d2)},
		}})
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := img1.RawManifest()
		if len(out.Images) != 1 || *out.Images[0].ImageManifest != string(raw) || *out.Images[0].ImageId.ImageDigest != d1 {
			t.Fatalf("images = %+v", out.Images)
		}
		codes := []string{}
		for _, f := range out.Failures {
			codes = append(codes, string(f.FailureCode))
		}
		if strings.Join(codes, ",") != "ImageNotFound,MissingDigestAndTag,ImageTagDoesNotMatchDigest" {
			t.Fatalf("failures = %v", codes)
		}
	})
	t.Run("put image", func(t *testing.T) {
		raw, _ := img1.RawManifest()
		out, err := e.client.PutImage(ctx, &awsecr.PutImageInput{RepositoryName: repo, ImageManifest: aws.String(string(raw)), ImageTag: aws.String("stable")})
		if err != nil || *out.Image.ImageId.ImageDigest != d1 {
			t.Fatalf("put = %+v, %v", out, err)
		}
		_, err = e.client.PutImage(ctx, &awsecr.PutImageInput{RepositoryName: repo, ImageManifest: aws.String(string(raw)), ImageTag: aws.String("stable")})
		wantCode(t, err, "ImageAlreadyExistsException")
		_, err = e.client.PutImage(ctx, &awsecr.PutImageInput{RepositoryName: repo, ImageManifest: aws.String(string(raw)), ImageTag: aws.String("x"), ImageDigest: aws.String(d2)})
		wantCode(t, err, "ImageDigestDoesNotMatchException")
		_, err = e.client.PutImage(ctx, &awsecr.PutImageInput{RepositoryName: repo, ImageManifest: aws.String("{not json"), ImageTag: aws.String("x")})
		wantCode(t, err, "InvalidParameterException")
		missing := randomImage(t)
		mraw, _ := missing.RawManifest()
		_, err = e.client.PutImage(ctx, &awsecr.PutImageInput{RepositoryName: repo, ImageManifest: aws.String(string(mraw)), ImageTag: aws.String("x")})
		wantCode(t, err, "LayersNotFoundException")
		_, err = e.client.PutImage(ctx, &awsecr.PutImageInput{RepositoryName: aws.String("nope"), ImageManifest: aws.String(string(raw))})
		wantCode(t, err, "RepositoryNotFoundException")
		index := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:` + strings.Repeat("0", 64) + `","size":100}]}`
		_, err = e.client.PutImage(ctx, &awsecr.PutImageInput{RepositoryName: repo, ImageManifest: aws.String(index), ImageTag: aws.String("multi")})
		wantCode(t, err, "ReferencedImagesNotFoundException")
	})
	t.Run("batch delete", func(t *testing.T) {
		out, err := e.client.BatchDeleteImage(ctx, &awsecr.BatchDeleteImageInput{RepositoryName: repo, ImageIds: []types.ImageIdentifier{
			{ImageTag: aws.String("stable")}, {ImageDigest: aws.String(d2)}, {ImageTag: aws.String("gone")},
		}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.ImageIds) != 2 || *out.ImageIds[0].ImageTag != "stable" || *out.ImageIds[1].ImageTag != "v2" || len(out.Failures) != 1 || out.Failures[0].FailureCode != types.ImageFailureCodeImageNotFound {
			t.Fatalf("deleted %+v failures %+v", out.ImageIds, out.Failures)
		}
		// v1 still names img1, whose other tag was removed; deleting its last tag deletes it.
		if _, err := e.client.BatchDeleteImage(ctx, &awsecr.BatchDeleteImageInput{RepositoryName: repo, ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("v1")}}}); err != nil {
			t.Fatal(err)
		}
		left, err := e.client.ListImages(ctx, &awsecr.ListImagesInput{RepositoryName: repo})
		if err != nil || len(left.ImageIds) != 1 || *left.ImageIds[0].ImageDigest != ud.String() {
			t.Fatalf("left = %+v, %v", left, err)
		}
	})
}

func TestTagImmutability(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	ctx := t.Context()
	for _, r := range []struct {
		name, mut string
		filters   []types.ImageTagMutabilityExclusionFilter
	}{
		{"immutable", "IMMUTABLE", nil},
		{"mutable", "MUTABLE", nil},
		{"immutable-except-dev", "IMMUTABLE_WITH_EXCLUSION", []types.ImageTagMutabilityExclusionFilter{{Filter: aws.String("dev*"), FilterType: types.ImageTagMutabilityExclusionFilterTypeWildcard}}},
		{"mutable-except-release", "MUTABLE_WITH_EXCLUSION", []types.ImageTagMutabilityExclusionFilter{{Filter: aws.String("release-*"), FilterType: types.ImageTagMutabilityExclusionFilterTypeWildcard}}},
	} {
		if _, err := e.client.CreateRepository(ctx, &awsecr.CreateRepositoryInput{RepositoryName: aws.String(r.name), ImageTagMutability: types.ImageTagMutability(r.mut), ImageTagMutabilityExclusionFilters: r.filters}); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name, repo, tag string
		wantRefused     bool
	}{
		{"immutable tag", "immutable", "v1", true},
		{"mutable tag", "mutable", "v1", false},
		{"excluded tag stays mutable", "immutable-except-dev", "dev-1", false},
		{"other tags immutable", "immutable-except-dev", "v1", true},
		{"excluded tag immutable", "mutable-except-release", "release-1", true},
		{"other tags mutable", "mutable-except-release", "latest", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mustPush(t, e.host, tc.repo, tc.tag, randomImage(t))
			next := randomImage(t)
			_, err := push(t, e.host, tc.repo, tc.tag, next)
			if refused := err != nil; refused != tc.wantRefused {
				t.Fatalf("registry re-push: %v, want refused=%v", err, tc.wantRefused)
			}
			if tc.wantRefused && !strings.Contains(err.Error(), "TAG_INVALID") {
				t.Fatalf("registry re-push error %v, want TAG_INVALID", err)
			}
			// The same through PutImage (the layers are there from the push).
			if err == nil {
				return
			}
			raw, _ := next.RawManifest()
			_, perr := e.client.PutImage(ctx, &awsecr.PutImageInput{RepositoryName: aws.String(tc.repo), ImageManifest: aws.String(string(raw)), ImageTag: aws.String(tc.tag)})
			wantCode(t, perr, "ImageTagAlreadyExistsException")
		})
	}
}

func TestLayerUploads(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	ctx := t.Context()
	repo := aws.String("layers")
	if _, err := e.client.CreateRepository(ctx, &awsecr.CreateRepositoryInput{RepositoryName: repo}); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("kumo layer "), 1000)
	sum := sha256.Sum256(data)
	d := fmt.Sprintf("sha256:%x", sum)

	up, err := e.client.InitiateLayerUpload(ctx, &awsecr.InitiateLayerUploadInput{RepositoryName: repo})
	if err != nil || up.PartSize == nil {
		t.Fatalf("initiate = %+v, %v", up, err)
	}
	half := int64(len(data) / 2)
	part, err := e.client.UploadLayerPart(ctx, &awsecr.UploadLayerPartInput{RepositoryName: repo, UploadId: up.UploadId, PartFirstByte: aws.Int64(0), PartLastByte: aws.Int64(half - 1), LayerPartBlob: data[:half]})
	if err != nil || *part.LastByteReceived != half-1 {
		t.Fatalf("part = %+v, %v", part, err)
	}
	_, err = e.client.UploadLayerPart(ctx, &awsecr.UploadLayerPartInput{RepositoryName: repo, UploadId: up.UploadId, PartFirstByte: aws.Int64(half + 5), PartLastByte: aws.Int64(int64(len(data)) + 4), LayerPartBlob: data[half:]})
	wantCode(t, err, "InvalidLayerPartException")
	if _, err := e.client.UploadLayerPart(ctx, &awsecr.UploadLayerPartInput{RepositoryName: repo, UploadId: up.UploadId, PartFirstByte: aws.Int64(half), PartLastByte: aws.Int64(int64(len(data)) - 1), LayerPartBlob: data[half:]}); err != nil {
		t.Fatal(err)
	}
	done, err := e.client.CompleteLayerUpload(ctx, &awsecr.CompleteLayerUploadInput{RepositoryName: repo, UploadId: up.UploadId, LayerDigests: []string{d}})
	if err != nil || *done.LayerDigest != d {
		t.Fatalf("complete = %+v, %v", done, err)
	}

	errorCases := []struct {
		name string
		call func() error
		code string
	}{
		{"unknown upload", func() error {
			_, err := e.client.UploadLayerPart(ctx, &awsecr.UploadLayerPartInput{RepositoryName: repo, UploadId: aws.String("nope"), PartFirstByte: aws.Int64(0), PartLastByte: aws.Int64(0), LayerPartBlob: []byte("x")})
			return err
		}, "UploadNotFoundException"},
		{"wrong digest", func() error {
			u, _ := e.client.InitiateLayerUpload(ctx, &awsecr.InitiateLayerUploadInput{RepositoryName: repo})
			e.client.UploadLayerPart(ctx, &awsecr.UploadLayerPartInput{RepositoryName: repo, UploadId: u.UploadId, PartFirstByte: aws.Int64(0), PartLastByte: aws.Int64(2), LayerPartBlob: []byte("abc")})
			_, err := e.client.CompleteLayerUpload(ctx, &awsecr.CompleteLayerUploadInput{RepositoryName: repo, UploadId: u.UploadId, LayerDigests: []string{"sha256:" + strings.Repeat("0", 64)}})
			return err
		}, "InvalidLayerException"},
		{"empty upload", func() error {
			u, _ := e.client.InitiateLayerUpload(ctx, &awsecr.InitiateLayerUploadInput{RepositoryName: repo})
			_, err := e.client.CompleteLayerUpload(ctx, &awsecr.CompleteLayerUploadInput{RepositoryName: repo, UploadId: u.UploadId, LayerDigests: []string{d}})
			return err
		}, "EmptyUploadException"},
		{"layer exists", func() error {
			u, _ := e.client.InitiateLayerUpload(ctx, &awsecr.InitiateLayerUploadInput{RepositoryName: repo})
			e.client.UploadLayerPart(ctx, &awsecr.UploadLayerPartInput{RepositoryName: repo, UploadId: u.UploadId, PartFirstByte: aws.Int64(0), PartLastByte: aws.Int64(int64(len(data)) - 1), LayerPartBlob: data})
			_, err := e.client.CompleteLayerUpload(ctx, &awsecr.CompleteLayerUploadInput{RepositoryName: repo, UploadId: u.UploadId, LayerDigests: []string{d}})
			return err
		}, "LayerAlreadyExistsException"},
		{"download of missing layer", func() error {
			_, err := e.client.GetDownloadUrlForLayer(ctx, &awsecr.GetDownloadUrlForLayerInput{RepositoryName: repo, LayerDigest: aws.String("sha256:" + strings.Repeat("1", 64))})
			return err
		}, "LayersNotFoundException"},
		{"missing repository", func() error {
			_, err := e.client.InitiateLayerUpload(ctx, &awsecr.InitiateLayerUploadInput{RepositoryName: aws.String("nope")})
			return err
		}, "RepositoryNotFoundException"},
	}
	for _, tc := range errorCases {
		t.Run(tc.name, func(t *testing.T) { wantCode(t, tc.call(), tc.code) })
	}

	t.Run("availability", func(t *testing.T) {
		out, err := e.client.BatchCheckLayerAvailability(ctx, &awsecr.BatchCheckLayerAvailabilityInput{RepositoryName: repo, LayerDigests: []string{d, "sha256:" + strings.Repeat("2", 64), "bogus"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Layers) != 1 || *out.Layers[0].LayerSize != int64(len(data)) || out.Layers[0].LayerAvailability != types.LayerAvailabilityAvailable ||
			len(out.Failures) != 2 || out.Failures[0].FailureCode != types.LayerFailureCodeMissingLayerDigest || out.Failures[1].FailureCode != types.LayerFailureCodeInvalidLayerDigest {
			t.Fatalf("layers %+v failures %+v", out.Layers, out.Failures)
		}
	})
	t.Run("download", func(t *testing.T) {
		out, err := e.client.GetDownloadUrlForLayer(ctx, &awsecr.GetDownloadUrlForLayerInput{RepositoryName: repo, LayerDigest: aws.String(d)})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get(*out.DownloadUrl)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		got, _ := io.ReadAll(resp.Body)
		if !bytes.Equal(got, data) {
			t.Fatalf("downloaded %d bytes (status %d), want the layer", len(got), resp.StatusCode)
		}
	})
}

func TestAuthorization(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t, func(c *Config) { c.AuthRequired = true })
	ctx := t.Context()
	if _, err := e.client.CreateRepository(ctx, &awsecr.CreateRepositoryInput{RepositoryName: aws.String("private")}); err != nil {
		t.Fatal(err)
	}
	out, err := e.client.GetAuthorizationToken(ctx, &awsecr.GetAuthorizationTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	a := out.AuthorizationData[0]
	if *a.ProxyEndpoint != "http://"+e.host || !a.ExpiresAt.After(e.clock.Now()) {
		t.Fatalf("authorization data = %+v", a)
	}
	raw, err := base64.StdEncoding.DecodeString(*a.AuthorizationToken)
	user, password, ok := strings.Cut(string(raw), ":")
	if err != nil || !ok || user != "AWS" || password == "" {
		t.Fatalf("token %q: %v", raw, err)
	}
	if _, err := push(t, e.host, "private", "v1", randomImage(t)); err == nil {
		t.Fatal("anonymous push accepted with auth required")
	}
	basic := remote.WithAuth(&authn.Basic{Username: "AWS", Password: password})
	if _, err := push(t, e.host, "private", "v1", randomImage(t), basic); err != nil {
		t.Fatalf("push with token: %v", err)
	}
	wrong := remote.WithAuth(&authn.Basic{Username: "AWS", Password: password + "x"})
	if _, err := push(t, e.host, "private", "v2", randomImage(t), wrong); err == nil {
		t.Fatal("push with a forged token accepted")
	}
	_, err = e.client.GetAuthorizationToken(ctx, &awsecr.GetAuthorizationTokenInput{RegistryIds: []string{"111111111111"}})
	wantCode(t, err, "InvalidParameterException")
}

func TestPoliciesTagsAndRegistry(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	ctx := t.Context()
	created, err := e.client.CreateRepository(ctx, &awsecr.CreateRepositoryInput{RepositoryName: aws.String("pol")})
	if err != nil {
		t.Fatal(err)
	}
	repo, arn := aws.String("pol"), created.Repository.RepositoryArn
	_, err = e.client.GetRepositoryPolicy(ctx, &awsecr.GetRepositoryPolicyInput{RepositoryName: repo})
	wantCode(t, err, "RepositoryPolicyNotFoundException")
	_, err = e.client.SetRepositoryPolicy(ctx, &awsecr.SetRepositoryPolicyInput{RepositoryName: repo, PolicyText: aws.String(`{"Version":"2012-10-17"}`)})
	wantCode(t, err, "InvalidParameterException")
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage"}]}`
	if _, err := e.client.SetRepositoryPolicy(ctx, &awsecr.SetRepositoryPolicyInput{RepositoryName: repo, PolicyText: aws.String(policy)}); err != nil {
		t.Fatal(err)
	}
	got, err := e.client.GetRepositoryPolicy(ctx, &awsecr.GetRepositoryPolicyInput{RepositoryName: repo})
	if err != nil || *got.PolicyText != policy {
		t.Fatalf("policy = %+v, %v", got, err)
	}
	del, err := e.client.DeleteRepositoryPolicy(ctx, &awsecr.DeleteRepositoryPolicyInput{RepositoryName: repo})
	if err != nil || *del.PolicyText != policy {
		t.Fatalf("deleted policy = %+v, %v", del, err)
	}
	_, err = e.client.DeleteRepositoryPolicy(ctx, &awsecr.DeleteRepositoryPolicyInput{RepositoryName: repo})
	wantCode(t, err, "RepositoryPolicyNotFoundException")

	tag := func(k, v string) types.Tag { return types.Tag{Key: aws.String(k), Value: aws.String(v)} }
	if _, err := e.client.TagResource(ctx, &awsecr.TagResourceInput{ResourceArn: arn, Tags: []types.Tag{tag("a", "1"), tag("b", "2")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.TagResource(ctx, &awsecr.TagResourceInput{ResourceArn: arn, Tags: []types.Tag{tag("a", "3")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.UntagResource(ctx, &awsecr.UntagResourceInput{ResourceArn: arn, TagKeys: []string{"b"}}); err != nil {
		t.Fatal(err)
	}
	tags, err := e.client.ListTagsForResource(ctx, &awsecr.ListTagsForResourceInput{ResourceArn: arn})
	if err != nil || len(tags.Tags) != 1 || *tags.Tags[0].Key != "a" || *tags.Tags[0].Value != "3" {
		t.Fatalf("tags = %+v, %v", tags, err)
	}
	_, err = e.client.ListTagsForResource(ctx, &awsecr.ListTagsForResourceInput{ResourceArn: aws.String("arn:aws:ecr:us-east-1:000000000000:repository/nope")})
	wantCode(t, err, "RepositoryNotFoundException")
	_, err = e.client.TagResource(ctx, &awsecr.TagResourceInput{ResourceArn: aws.String("not-an-arn"), Tags: []types.Tag{tag("a", "1")}})
	wantCode(t, err, "InvalidParameterException")
	many := make([]types.Tag, 51)
	for i := range many {
		many[i] = tag(fmt.Sprint("k", i), "v")
	}
	_, err = e.client.TagResource(ctx, &awsecr.TagResourceInput{ResourceArn: arn, Tags: many})
	wantCode(t, err, "TooManyTagsException")

	reg, err := e.client.DescribeRegistry(ctx, &awsecr.DescribeRegistryInput{})
	if err != nil || *reg.RegistryId != "000000000000" {
		t.Fatalf("registry = %+v, %v", reg, err)
	}
	_, err = e.client.GetRegistryPolicy(ctx, &awsecr.GetRegistryPolicyInput{})
	wantCode(t, err, "RegistryPolicyNotFoundException")
	if _, err := e.client.PutRegistryPolicy(ctx, &awsecr.PutRegistryPolicyInput{PolicyText: aws.String(policy)}); err != nil {
		t.Fatal(err)
	}
	if got, err := e.client.GetRegistryPolicy(ctx, &awsecr.GetRegistryPolicyInput{}); err != nil || *got.PolicyText != policy {
		t.Fatalf("registry policy = %+v, %v", got, err)
	}
	if _, err := e.client.DeleteRegistryPolicy(ctx, &awsecr.DeleteRegistryPolicyInput{}); err != nil {
		t.Fatal(err)
	}
	_, err = e.client.DeleteRegistryPolicy(ctx, &awsecr.DeleteRegistryPolicyInput{})
	wantCode(t, err, "RegistryPolicyNotFoundException")
	_, err = e.client.PutReplicationConfiguration(ctx, &awsecr.PutReplicationConfigurationInput{ReplicationConfiguration: &types.ReplicationConfiguration{Rules: []types.ReplicationRule{}}})
	wantCode(t, err, "NotImplementedException")
}

func TestImageReferrers(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	ctx := t.Context()
	repo := aws.String("refs")
	if _, err := e.client.CreateRepository(ctx, &awsecr.CreateRepositoryInput{RepositoryName: repo}); err != nil {
		t.Fatal(err)
	}
	img := randomImage(t)
	d := mustPush(t, e.host, "refs", "v1", img)
	desc, err := partial.Descriptor(img)
	if err != nil {
		t.Fatal(err)
	}
	sig := mutate.Subject(mutate.ConfigMediaType(randomImage(t), "application/vnd.example.signature"), *desc).(v1.Image)
	sd, _ := sig.Digest()
	ref, _ := name.ParseReference(e.host+"/refs@"+sd.String(), name.Insecure)
	if err := remote.Write(ref, sig, remote.WithContext(ctx)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		filter *types.ListImageReferrersFilter
		want   int
	}{
		{"all", nil, 1},
		{"matching type", &types.ListImageReferrersFilter{ArtifactTypes: []string{"application/vnd.example.signature"}}, 1},
		{"other type", &types.ListImageReferrersFilter{ArtifactTypes: []string{"application/vnd.example.sbom"}}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := e.client.ListImageReferrers(ctx, &awsecr.ListImageReferrersInput{RepositoryName: repo, SubjectId: &types.SubjectIdentifier{ImageDigest: aws.String(d)}, Filter: tc.filter})
			if err != nil || len(out.Referrers) != tc.want {
				t.Fatalf("referrers = %+v, %v", out, err)
			}
			if tc.want == 1 && (*out.Referrers[0].Digest != sd.String() || *out.Referrers[0].ArtifactType != "application/vnd.example.signature") {
				t.Fatalf("referrer = %+v", out.Referrers[0])
			}
		})
	}
	details, err := e.client.DescribeImages(ctx, &awsecr.DescribeImagesInput{RepositoryName: repo, ImageIds: []types.ImageIdentifier{{ImageDigest: aws.String(sd.String())}}})
	if err != nil || aws.ToString(details.ImageDetails[0].SubjectManifestDigest) != d {
		t.Fatalf("signature detail = %+v, %v", details, err)
	}

	t.Run("pages of 20 by default", func(t *testing.T) {
		for i := 0; i < 20; i++ {
			more := mutate.Subject(mutate.ConfigMediaType(randomImage(t), "application/vnd.example.sbom"), *desc).(v1.Image)
			md, _ := more.Digest()
			if err := remote.Write(mustRef(t, e.host+"/refs@"+md.String()), more, remote.WithContext(ctx)); err != nil {
				t.Fatal(err)
			}
		}
		subject := &types.SubjectIdentifier{ImageDigest: aws.String(d)}
		first, err := e.client.ListImageReferrers(ctx, &awsecr.ListImageReferrersInput{RepositoryName: repo, SubjectId: subject})
		if err != nil || len(first.Referrers) != 20 || first.NextToken == nil {
			t.Fatalf("first page: %d referrers, next %v, %v", len(first.Referrers), first.NextToken, err)
		}
		rest, err := e.client.ListImageReferrers(ctx, &awsecr.ListImageReferrersInput{RepositoryName: repo, SubjectId: subject, NextToken: first.NextToken})
		if err != nil || len(rest.Referrers) != 1 || rest.NextToken != nil {
			t.Fatalf("second page = %+v, %v", rest, err)
		}
		archived, err := e.client.ListImageReferrers(ctx, &awsecr.ListImageReferrersInput{RepositoryName: repo, SubjectId: subject,
			Filter: &types.ListImageReferrersFilter{ArtifactStatus: types.ArtifactStatusFilterArchived}})
		if err != nil || len(archived.Referrers) != 0 {
			t.Fatalf("archived referrers = %+v, %v", archived, err)
		}
	})
}

func TestGarbageCollectionAfterDeletes(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	ctx := t.Context()
	if _, err := e.client.CreateRepository(ctx, &awsecr.CreateRepositoryInput{RepositoryName: aws.String("gc")}); err != nil {
		t.Fatal(err)
	}
	d := mustPush(t, e.host, "gc", "v1", randomImage(t))
	e.clock.Advance(2 * 60 * 60 * 1e9) // past the registry's grace period
	if res, err := e.svc.Registry().GC(ctx); err != nil || res.BlobsDeleted != 0 {
		t.Fatalf("GC of a referenced image: %+v, %v", res, err)
	}
	if _, err := e.client.BatchDeleteImage(ctx, &awsecr.BatchDeleteImageInput{RepositoryName: aws.String("gc"), ImageIds: []types.ImageIdentifier{{ImageDigest: aws.String(d)}}}); err != nil {
		t.Fatal(err)
	}
	res, err := e.svc.Registry().GC(ctx)
	if err != nil || res.BlobsDeleted != 3 { // manifest, config, layer
		t.Fatalf("GC after delete: %+v, %v", res, err)
	}
}

func TestCreateAfterInterruptedDeleteStartsEmpty(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	ctx := t.Context()
	if _, err := e.client.CreateRepository(ctx, &awsecr.CreateRepositoryInput{RepositoryName: aws.String("again")}); err != nil {
		t.Fatal(err)
	}
	mustPush(t, e.host, "again", "v1", randomImage(t))
	// A delete that stopped after removing the record, before clearing the registry.
	if err := e.svc.store.Update(func(tx *store.Tx) error { return tx.Delete(tableRepos, "again") }); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.CreateRepository(ctx, &awsecr.CreateRepositoryInput{RepositoryName: aws.String("again")}); err != nil {
		t.Fatal(err)
	}
	out, err := e.client.ListImages(ctx, &awsecr.ListImagesInput{RepositoryName: aws.String("again")})
	if err != nil || len(out.ImageIds) != 0 {
		t.Fatalf("new repository lists %+v, %v", out, err)
	}
	details, err := e.client.DescribeImages(ctx, &awsecr.DescribeImagesInput{RepositoryName: aws.String("again")})
	if err != nil || len(details.ImageDetails) != 0 {
		t.Fatalf("new repository describes %+v, %v", details, err)
	}
	if _, err := e.client.DeleteRepository(ctx, &awsecr.DeleteRepositoryInput{RepositoryName: aws.String("again")}); err != nil {
		t.Fatalf("delete of an empty repository without force: %v", err)
	}
}

func TestManifestListChildren(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	ctx := t.Context()
	repo := aws.String("multi")
	if _, err := e.client.CreateRepository(ctx, &awsecr.CreateRepositoryInput{RepositoryName: repo}); err != nil {
		t.Fatal(err)
	}
	idx, err := random.Index(256, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(e.host+"/multi:v1", name.Insecure)
	if err := remote.WriteIndex(ref, idx, remote.WithContext(ctx)); err != nil {
		t.Fatal(err)
	}
	im, _ := idx.IndexManifest()
	child := im.Manifests[0].Digest.String()
	e.clock.Advance(30 * 24 * 60 * 60 * 1e9)

	// ECR's imageSizeInBytes of a manifest list is its largest child's size.
	ids := []types.ImageIdentifier{{ImageTag: aws.String("v1")}}
	for _, m := range im.Manifests {
		ids = append(ids, types.ImageIdentifier{ImageDigest: aws.String(m.Digest.String())})
	}
	details, err := e.client.DescribeImages(ctx, &awsecr.DescribeImagesInput{RepositoryName: repo, ImageIds: ids})
	if err != nil {
		t.Fatal(err)
	}
	largest := max(*details.ImageDetails[1].ImageSizeInBytes, *details.ImageDetails[2].ImageSizeInBytes)
	if got := *details.ImageDetails[0].ImageSizeInBytes; got != largest || largest == 0 {
		t.Fatalf("index size %d, want the largest child's %d", got, largest)
	}

	out, err := e.client.BatchDeleteImage(ctx, &awsecr.BatchDeleteImageInput{RepositoryName: repo, ImageIds: []types.ImageIdentifier{{ImageDigest: aws.String(child)}}})
	if err != nil || len(out.Failures) != 1 || out.Failures[0].FailureCode != types.ImageFailureCodeImageReferencedByManifestList {
		t.Fatalf("delete of a child = %+v, %v", out, err)
	}
	// The children are untagged, but an untagged rule leaves them to their index.
	policy := policyText(`{"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":1},"action":{"type":"expire"}}`)
	if _, err := e.client.StartLifecyclePolicyPreview(ctx, &awsecr.StartLifecyclePolicyPreviewInput{RepositoryName: repo, LifecyclePolicyText: aws.String(policy)}); err != nil {
		t.Fatal(err)
	}
	preview, err := e.client.GetLifecyclePolicyPreview(ctx, &awsecr.GetLifecyclePolicyPreviewInput{RepositoryName: repo})
	if err != nil || len(preview.PreviewResults) != 0 {
		t.Fatalf("preview = %+v, %v", preview, err)
	}
	if _, err := e.client.BatchDeleteImage(ctx, &awsecr.BatchDeleteImageInput{RepositoryName: repo, ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("v1")}}}); err != nil {
		t.Fatal(err)
	}
	// Without their index, the children are ordinary untagged images.
	if _, err := e.client.StartLifecyclePolicyPreview(ctx, &awsecr.StartLifecyclePolicyPreviewInput{RepositoryName: repo, LifecyclePolicyText: aws.String(policy)}); err != nil {
		t.Fatal(err)
	}
	preview, err = e.client.GetLifecyclePolicyPreview(ctx, &awsecr.GetLifecyclePolicyPreviewInput{RepositoryName: repo})
	if err != nil || len(preview.PreviewResults) != 2 {
		t.Fatalf("preview after the index went = %+v, %v", preview, err)
	}
}

// TestEmptyListsAreSent checks that empty results are sent as [] as AWS
// sends them, not left out.
func TestEmptyListsAreSent(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	ctx := t.Context()
	client, last := e.recordingClient(t)
	if _, err := client.CreateRepository(ctx, &awsecr.CreateRepositoryInput{RepositoryName: aws.String("empty")}); err != nil {
		t.Fatal(err)
	}
	other := e.clientIn("eu-west-1")
	recorded := awsecr.New(other.Options(), func(o *awsecr.Options) { o.HTTPClient = client.Options().HTTPClient })
	cases := []struct {
		name string
		call func() error
		path []string // members down to the list
	}{
		{"repositories", func() error {
			_, err := recorded.DescribeRepositories(ctx, &awsecr.DescribeRepositoriesInput{})
			return err
		}, []string{"repositories"}},
		{"image details", func() error {
			_, err := client.DescribeImages(ctx, &awsecr.DescribeImagesInput{RepositoryName: aws.String("empty")})
			return err
		}, []string{"imageDetails"}},
		{"image ids", func() error {
			_, err := client.ListImages(ctx, &awsecr.ListImagesInput{RepositoryName: aws.String("empty")})
			return err
		}, []string{"imageIds"}},
		{"pull through cache rules", func() error {
			_, err := client.DescribePullThroughCacheRules(ctx, &awsecr.DescribePullThroughCacheRulesInput{})
			return err
		}, []string{"pullThroughCacheRules"}},
		{"registry scanning rules", func() error {
			_, err := client.GetRegistryScanningConfiguration(ctx, &awsecr.GetRegistryScanningConfigurationInput{})
			return err
		}, []string{"scanningConfiguration", "rules"}},
		{"tags", func() error {
			_, err := client.ListTagsForResource(ctx, &awsecr.ListTagsForResourceInput{ResourceArn: aws.String("arn:aws:ecr:us-east-1:000000000000:repository/empty")})
			return err
		}, []string{"tags"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); err != nil {
				t.Fatal(err)
			}
			obj := last()
			for _, member := range tc.path[:len(tc.path)-1] {
				if err := json.Unmarshal(obj[member], &obj); err != nil {
					t.Fatalf("member %s: %v", member, err)
				}
			}
			if got := string(obj[tc.path[len(tc.path)-1]]); got != "[]" {
				t.Fatalf("%v = %q, want []", tc.path, got)
			}
		})
	}
}

// TestLastRecordedPullTime pulls through the registry: the first pull is
// recorded, a pull within pullTimeResolution is not, a later one is.
func TestLastRecordedPullTime(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	ctx := t.Context()
	repo := aws.String("pulled")
	if _, err := e.client.CreateRepository(ctx, &awsecr.CreateRepositoryInput{RepositoryName: repo}); err != nil {
		t.Fatal(err)
	}
	mustPush(t, e.host, "pulled", "v1", randomImage(t))
	v1 := []types.ImageIdentifier{{ImageTag: aws.String("v1")}}
	pullTime := func() *time.Time {
		t.Helper()
		out, err := e.client.DescribeImages(ctx, &awsecr.DescribeImagesInput{RepositoryName: repo, ImageIds: v1})
		if err != nil {
			t.Fatal(err)
		}
		return out.ImageDetails[0].LastRecordedPullTime
	}
	pull := func() {
		t.Helper()
		if _, err := remote.Get(mustRef(t, e.host+"/pulled:v1"), remote.WithContext(ctx)); err != nil {
			t.Fatal(err)
		}
	}
	if got := pullTime(); got != nil {
		t.Fatalf("pull time %v before any pull", got)
	}
	first := e.clock.Now()
	pull()
	e.clock.Advance(pullTimeResolution / 2)
	pull()
	if got := pullTime(); got == nil || !got.Equal(first) {
		t.Fatalf("pull time %v, want the first pull's %v", got, first)
	}
	e.clock.Advance(pullTimeResolution)
	pull()
	if got := pullTime(); got == nil || !got.Equal(e.clock.Now()) {
		t.Fatalf("pull time %v, want the last pull's %v", got, e.clock.Now())
	}
}

// TestTokensSurviveRestart pushes with a token issued before a restart:
// the signing key is kept in the store.
func TestTokensSurviveRestart(t *testing.T) {
	t.Parallel()
	st, root := openStore(t), t.TempDir()
	shared := func(c *Config) { c.Store, c.RegistryRoot, c.AuthRequired = st, root, true }
	first := newAPIEnv(t, shared)
	ctx := t.Context()
	if _, err := first.client.CreateRepository(ctx, &awsecr.CreateRepositoryInput{RepositoryName: aws.String("kept")}); err != nil {
		t.Fatal(err)
	}
	out, err := first.client.GetAuthorizationToken(ctx, &awsecr.GetAuthorizationTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(*out.AuthorizationData[0].AuthorizationToken)
	_, password, _ := strings.Cut(string(raw), ":")
	first.stop()

	second := newAPIEnv(t, shared)
	basic := remote.WithAuth(&authn.Basic{Username: "AWS", Password: password})
	if _, err := push(t, second.host, "kept", "v1", randomImage(t), basic); err != nil {
		t.Fatalf("push with a token from before the restart: %v", err)
	}
}
