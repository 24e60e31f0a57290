package ecr_test

import (
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecr "github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/kumo-project/kumo/internal/kumotest"
	"github.com/kumo-project/kumo/internal/testimages"
)

// stdlibAdvisory affects every Go toolchain, so the test app's binary matches.
const stdlibAdvisory = `{"id":"GO-2026-9999","aliases":["CVE-2026-9999"],"summary":"test advisory for the Go standard library",
"affected":[{"package":{"ecosystem":"Go","name":"stdlib"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"999.0.0"}]}],"database_specific":{"severity":"HIGH"}}]}`

// TestECROnKumo walks the user flow against a real kumo: create an
// IMMUTABLE, scan-on-push repository, log in, push with skopeo and
// go-containerregistry, and run an ECS task from the AWS-style hostname.
func TestECROnKumo(t *testing.T) {
	advisories := t.TempDir()
	if err := os.WriteFile(filepath.Join(advisories, "stdlib.json"), []byte(stdlibAdvisory), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUMO_ADVISORY_DIR", advisories)
	t.Setenv("KUMO_ECR_LIFECYCLE_INTERVAL", "1s")
	k := kumotest.Start(t)
	client := awsecr.NewFromConfig(k.AWSConfig())
	ctx := kumotest.Context(t, 3*time.Minute)

	repo, err := client.CreateRepository(ctx, &awsecr.CreateRepositoryInput{
		RepositoryName: aws.String("web"), ImageTagMutability: ecrtypes.ImageTagMutabilityImmutable,
		ImageScanningConfiguration: &ecrtypes.ImageScanningConfiguration{ScanOnPush: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	uri := aws.ToString(repo.Repository.RepositoryUri)
	if uri != k.Addr+"/web" {
		t.Fatalf("repositoryUri = %s, want %s/web", uri, k.Addr)
	}
	password := loginPassword(t, client)
	authFile := filepath.Join(t.TempDir(), "auth.json")
	login := exec.Command("skopeo", "login", "--authfile", authFile, "--tls-verify=false", "--username", "AWS", "--password-stdin", k.Addr)
	login.Stdin = strings.NewReader(password)
	if out, err := login.CombinedOutput(); err != nil {
		t.Fatalf("skopeo login: %v\n%s", err, out)
	}

	app, err := testimages.App()
	if err != nil {
		t.Fatal(err)
	}
	busybox, err := testimages.Busybox()
	if err != nil {
		t.Fatal(err)
	}
	if out, err := skopeoCopy(t, authFile, app, uri+":v1"); err != nil {
		t.Fatalf("skopeo copy: %v\n%s", err, out)
	}
	pushGGCR(t, busybox, uri+":v2", password)

	t.Run("immutable tag refused on re-push", func(t *testing.T) {
		out, err := skopeoCopy(t, authFile, busybox, uri+":v1")
		if err == nil || !strings.Contains(string(out), "tag invalid: The image tag 'v1' already exists") {
			t.Fatalf("re-push of v1: %v\n%s", err, out)
		}
	})
	t.Run("describe images and scan findings", func(t *testing.T) {
		appDigest, _ := app.Digest()
		id := &ecrtypes.ImageIdentifier{ImageTag: aws.String("v1")}
		findings := waitScan(t, client, id)
		if findings.ImageScanFindings.FindingSeverityCounts["HIGH"] != 1 || aws.ToString(findings.ImageScanFindings.Findings[0].Name) != "CVE-2026-9999" {
			t.Fatalf("findings = %+v", findings.ImageScanFindings)
		}
		out, err := client.DescribeImages(ctx, &awsecr.DescribeImagesInput{RepositoryName: aws.String("web"), ImageIds: []ecrtypes.ImageIdentifier{*id}})
		if err != nil {
			t.Fatal(err)
		}
		d := out.ImageDetails[0]
		if aws.ToString(d.ImageDigest) != appDigest.String() || aws.ToInt64(d.ImageSizeInBytes) <= 0 || d.ImagePushedAt == nil ||
			d.ImageScanStatus.Status != ecrtypes.ScanStatusComplete || d.ImageScanFindingsSummary.FindingSeverityCounts["HIGH"] != 1 ||
			aws.ToString(d.ImageManifestMediaType) == "" || aws.ToString(d.ArtifactMediaType) == "" {
			t.Fatalf("image detail = %+v", d)
		}
	})
	t.Run("lifecycle expires images", func(t *testing.T) {
		if _, err := client.CreateRepository(ctx, &awsecr.CreateRepositoryInput{RepositoryName: aws.String("cycle")}); err != nil {
			t.Fatal(err)
		}
		for _, tag := range []string{"a", "b", "c"} {
			img, err := random.Image(256, 1)
			if err != nil {
				t.Fatal(err)
			}
			pushGGCR(t, img, k.Addr+"/cycle:"+tag, password)
		}
		policy := `{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}`
		if _, err := client.PutLifecyclePolicy(ctx, &awsecr.PutLifecyclePolicyInput{RepositoryName: aws.String("cycle"), LifecyclePolicyText: aws.String(policy)}); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			out, err := client.ListImages(ctx, &awsecr.ListImagesInput{RepositoryName: aws.String("cycle")})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.ImageIds) == 1 && aws.ToString(out.ImageIds[0].ImageTag) == "c" {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("lifecycle left %+v", out.ImageIds)
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
	t.Run("ECS task from the AWS-style hostname", func(t *testing.T) {
		runTask(t, k, "000000000000.dkr.ecr.us-east-1.amazonaws.com/web:v1", nil, uri+":v2")
	})
	t.Run("images and tokens survive kill -9", func(t *testing.T) {
		k.Kill()
		k.Restart()
		out, err := client.DescribeImages(ctx, &awsecr.DescribeImagesInput{RepositoryName: aws.String("web")})
		if err != nil || len(out.ImageDetails) != 2 {
			t.Fatalf("images after restart = %+v, %v", out, err)
		}
		ref, _ := name.ParseReference(uri+":v1", name.Insecure)
		img, err := remote.Image(ref, remote.WithContext(ctx), remote.WithAuth(&authn.Basic{Username: "AWS", Password: password}))
		if err != nil {
			t.Fatal(err)
		}
		layers, _ := img.Layers()
		for _, l := range layers {
			rc, err := l.Compressed()
			if err != nil {
				t.Fatal(err)
			}
			rc.Close()
		}
	})
}

// loginPassword is what `aws ecr get-login-password` prints.
func loginPassword(t *testing.T, client *awsecr.Client) string {
	t.Helper()
	out, err := client.GetAuthorizationToken(t.Context(), &awsecr.GetAuthorizationTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(aws.ToString(out.AuthorizationData[0].AuthorizationToken))
	if err != nil {
		t.Fatal(err)
	}
	user, password, _ := strings.Cut(string(raw), ":")
	if user != "AWS" {
		t.Fatalf("token user %q", user)
	}
	return password
}

// skopeoCopy copies img (written as an OCI layout) to ref with skopeo.
func skopeoCopy(t *testing.T, authFile string, img v1.Image, ref string) ([]byte, error) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "layout")
	if err := testimages.WriteLayout(dir, img); err != nil {
		t.Fatal(err)
	}
	return exec.Command("skopeo", "copy", "--authfile", authFile, "--dest-tls-verify=false", "oci:"+dir, "docker://"+ref).CombinedOutput()
}

// pushGGCR pushes img to ref with go-containerregistry (crane's library).
func pushGGCR(t *testing.T, img v1.Image, ref, password string) {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img, remote.WithContext(t.Context()), remote.WithAuth(&authn.Basic{Username: "AWS", Password: password})); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
}

func waitScan(t *testing.T, client *awsecr.Client, id *ecrtypes.ImageIdentifier) *awsecr.DescribeImageScanFindingsOutput {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		out, err := client.DescribeImageScanFindings(t.Context(), &awsecr.DescribeImageScanFindingsInput{RepositoryName: aws.String("web"), ImageId: id})
		if err != nil {
			t.Fatal(err)
		}
		if out.ImageScanStatus.Status == ecrtypes.ScanStatusComplete {
			return out
		}
		if out.ImageScanStatus.Status == ecrtypes.ScanStatusFailed {
			t.Fatalf("scan failed: %s", aws.ToString(out.ImageScanStatus.Description))
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("scan did not complete")
	return nil
}

// runTask runs a task whose app container comes from appImage (running
// appCommand, if any) and whose sidecar sleeps in shImage, and waits until
// it is RUNNING.
func runTask(t *testing.T, k *kumotest.Kumo, appImage string, appCommand []string, shImage string) {
	t.Helper()
	ctx := kumotest.Context(t, 2*time.Minute)
	client := k.ECS()
	if _, err := client.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("ecr")}); err != nil {
		t.Fatal(err)
	}
	td, err := client.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family: aws.String("from-ecr"), NetworkMode: ecstypes.NetworkModeAwsvpc,
		RequiresCompatibilities: []ecstypes.Compatibility{ecstypes.CompatibilityFargate},
		Cpu:                     aws.String("256"), Memory: aws.String("512"),
		ContainerDefinitions: []ecstypes.ContainerDefinition{
			{Name: aws.String("app"), Image: aws.String(appImage), Essential: aws.Bool(true), Command: appCommand},
			{Name: aws.String("sh"), Image: aws.String(shImage), Essential: aws.Bool(true), Command: []string{"sleep", "300"}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	run, err := client.RunTask(ctx, &ecs.RunTaskInput{
		Cluster: aws.String("ecr"), TaskDefinition: td.TaskDefinition.TaskDefinitionArn, LaunchType: ecstypes.LaunchTypeFargate,
		NetworkConfiguration: &ecstypes.NetworkConfiguration{AwsvpcConfiguration: &ecstypes.AwsVpcConfiguration{Subnets: []string{"subnet-local"}}},
	})
	if err != nil || len(run.Tasks) != 1 {
		t.Fatalf("run task: %+v, %v", run, err)
	}
	arn := run.Tasks[0].TaskArn
	deadline := time.Now().Add(90 * time.Second)
	for {
		out, err := client.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String("ecr"), Tasks: []string{*arn}})
		if err != nil {
			t.Fatal(err)
		}
		task := out.Tasks[0]
		switch aws.ToString(task.LastStatus) {
		case "RUNNING":
			return
		case "STOPPED":
			t.Fatalf("task stopped: %s\n%s", aws.ToString(task.StoppedReason), k.Log())
		}
		if time.Now().After(deadline) {
			t.Fatalf("task never reached RUNNING: %s", aws.ToString(task.LastStatus))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestRegistryAuthRequiredOnKumo runs kumo with --registry-auth-required:
// anonymous pushes are refused, token pushes accepted, and the node agent
// pulls with credentials of its own.
func TestRegistryAuthRequiredOnKumo(t *testing.T) {
	t.Setenv("KUMO_REGISTRY_AUTH_REQUIRED", "1")
	k := kumotest.Start(t)
	client := awsecr.NewFromConfig(k.AWSConfig())
	ctx := kumotest.Context(t, 2*time.Minute)
	if _, err := client.CreateRepository(ctx, &awsecr.CreateRepositoryInput{RepositoryName: aws.String("private")}); err != nil {
		t.Fatal(err)
	}
	busybox, err := testimages.Busybox()
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(k.Addr+"/private:v1", name.Insecure)
	if err := remote.Write(ref, busybox, remote.WithContext(ctx)); err == nil || !strings.Contains(err.Error(), "UNAUTHORIZED") {
		t.Fatalf("anonymous push: %v, want UNAUTHORIZED", err)
	}
	pushGGCR(t, busybox, k.Addr+"/private:v1", loginPassword(t, client))
	runTask(t, k, "000000000000.dkr.ecr.us-east-1.amazonaws.com/private:v1", []string{"sleep", "300"}, k.Addr+"/private:v1")
}
