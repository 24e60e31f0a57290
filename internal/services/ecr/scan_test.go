package ecr

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecr "github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/kumo-project/kumo/internal/testimages"
)

const dpkgStatus = `Package: libssl3
Status: install ok installed
Source: openssl
Version: 3.0.11-1~deb12u1

Package: zlib1g
Status: install ok installed
Source: zlib (1:1.2.13.dfsg-1)
Version: 1:1.2.13.dfsg-1

Package: removed-pkg
Status: deinstall ok config-files
Version: 1.0
`

const apkInstalled = `P:busybox
V:1.36.1-r5
o:busybox

P:musl
V:1.2.4-r2
`

// advisories are OSV records: three match packages of the test image, two
// do not (fixed before the installed version; other ecosystem release).
var advisories = map[string]string{
	"debian.json": `{"id":"DSA-0001-1","aliases":["CVE-2026-0001"],"summary":"openssl flaw","modified":"2026-01-01T00:00:00Z",
		"references":[{"url":"https://security-tracker.debian.org/tracker/CVE-2026-0001"}],
		"affected":[{"package":{"ecosystem":"Debian:12","name":"openssl"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"3.0.13-1~deb12u1"}]}],"ecosystem_specific":{"severity":"high"}}]}`,
	"alpine.json": `{"id":"ALPINE-CVE-2026-0002","summary":"busybox flaw",
		"affected":[{"package":{"ecosystem":"Alpine:v3.19","name":"busybox"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.36.1-r6"}]}]}],"database_specific":{"severity":"MODERATE"}}`,
	"go/stdlib.json": `{"id":"GO-2026-0003","aliases":["CVE-2026-0003"],"summary":"net/http flaw",
		"affected":[{"package":{"ecosystem":"Go","name":"stdlib"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"999.0.0"}]}],"database_specific":{"severity":"CRITICAL"}}]}`,
	"zlib-fixed.json": `{"id":"DSA-0004-1","summary":"old zlib flaw",
		"affected":[{"package":{"ecosystem":"Debian:12","name":"zlib"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1:1.2.11-1"}]}]}]}`,
	"musl-listed.json": `{"id":"ALPINE-0005","summary":"musl flaw in listed versions",
		"affected":[{"package":{"ecosystem":"Alpine:v3.19","name":"musl"},"versions":["1.2.4-r1"]}]}`,
}

func writeAdvisories(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range advisories {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestScanFindings(t *testing.T) {
	t.Parallel()
	dir := writeAdvisories(t)
	e := newAPIEnv(t, func(c *Config) { c.AdvisoryDir = dir })
	ctx := t.Context()
	app, err := testimages.App() // carries a static Go binary
	if err != nil {
		t.Fatal(err)
	}
	pkgs := imageWithFiles(t, map[string][]byte{"var/lib/dpkg/status": []byte(dpkgStatus), "lib/apk/db/installed": []byte(apkInstalled)})
	pkgLayers, _ := pkgs.Layers()
	img, err := mutate.AppendLayers(app, pkgLayers...)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct {
		name   string
		onPush bool
	}{{"scanned", true}, {"manual", false}} {
		if _, err := e.client.CreateRepository(ctx, &awsecr.CreateRepositoryInput{RepositoryName: aws.String(r.name), ImageScanningConfiguration: &types.ImageScanningConfiguration{ScanOnPush: r.onPush}}); err != nil {
			t.Fatal(err)
		}
		mustPush(t, e.host, r.name, "v1", img)
	}
	v1 := &types.ImageIdentifier{ImageTag: aws.String("v1")}

	_, err = e.client.DescribeImageScanFindings(ctx, &awsecr.DescribeImageScanFindingsInput{RepositoryName: aws.String("manual"), ImageId: v1})
	wantCode(t, err, "ScanNotFoundException")
	_, err = e.client.StartImageScan(ctx, &awsecr.StartImageScanInput{RepositoryName: aws.String("manual"), ImageId: &types.ImageIdentifier{ImageTag: aws.String("v9")}})
	wantCode(t, err, "ImageNotFoundException")
	started, err := e.client.StartImageScan(ctx, &awsecr.StartImageScanInput{RepositoryName: aws.String("manual"), ImageId: v1})
	if err != nil || started.ImageScanStatus.Status != types.ScanStatusInProgress {
		t.Fatalf("start scan = %+v, %v", started, err)
	}

	for _, repo := range []string{"scanned", "manual"} {
		t.Run(repo, func(t *testing.T) {
			out := waitScan(t, e, repo, v1)
			f := out.ImageScanFindings
			counts := f.FindingSeverityCounts
			if len(counts) != 3 || counts["HIGH"] != 1 || counts["MEDIUM"] != 1 || counts["CRITICAL"] != 1 {
				t.Fatalf("severity counts = %v", counts)
			}
			var names []string
			for _, x := range f.Findings {
				names = append(names, *x.Name+"/"+string(x.Severity))
			}
			if got := strings.Join(names, ","); got != "CVE-2026-0003/CRITICAL,CVE-2026-0001/HIGH,ALPINE-CVE-2026-0002/MEDIUM" {
				t.Fatalf("findings = %s", got)
			}
			if *f.Findings[1].Uri != "https://security-tracker.debian.org/tracker/CVE-2026-0001" || f.ImageScanCompletedAt == nil || f.VulnerabilitySourceUpdatedAt == nil {
				t.Fatalf("finding = %+v, scan %+v", f.Findings[1], f)
			}
			page, err := e.client.DescribeImageScanFindings(ctx, &awsecr.DescribeImageScanFindingsInput{RepositoryName: aws.String(repo), ImageId: v1, MaxResults: aws.Int32(2)})
			if err != nil || len(page.ImageScanFindings.Findings) != 2 || page.NextToken == nil {
				t.Fatalf("first page = %+v, %v", page, err)
			}
			rest, err := e.client.DescribeImageScanFindings(ctx, &awsecr.DescribeImageScanFindingsInput{RepositoryName: aws.String(repo), ImageId: v1, MaxResults: aws.Int32(2), NextToken: page.NextToken})
			if err != nil || len(rest.ImageScanFindings.Findings) != 1 || rest.NextToken != nil || *rest.ImageScanFindings.Findings[0].Name != "ALPINE-CVE-2026-0002" {
				t.Fatalf("second page = %+v, %v", rest, err)
			}
			details, err := e.client.DescribeImages(ctx, &awsecr.DescribeImagesInput{RepositoryName: aws.String(repo), ImageIds: []types.ImageIdentifier{*v1}})
			if err != nil || details.ImageDetails[0].ImageScanStatus.Status != types.ScanStatusComplete || details.ImageDetails[0].ImageScanFindingsSummary.FindingSeverityCounts["HIGH"] != 1 {
				t.Fatalf("image detail = %+v, %v", details, err)
			}
		})
	}
}

// waitScan polls DescribeImageScanFindings as the image-scan-complete waiter does.
func waitScan(t *testing.T, e *apiEnv, repo string, id *types.ImageIdentifier) *awsecr.DescribeImageScanFindingsOutput {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		out, err := e.client.DescribeImageScanFindings(t.Context(), &awsecr.DescribeImageScanFindingsInput{RepositoryName: aws.String(repo), ImageId: id})
		if err != nil {
			t.Fatal(err)
		}
		switch out.ImageScanStatus.Status {
		case types.ScanStatusComplete:
			return out
		case types.ScanStatusFailed:
			t.Fatalf("scan failed: %s", *out.ImageScanStatus.Description)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("scan did not complete")
	return nil
}

func TestVersionOrder(t *testing.T) {
	t.Parallel()
	cases := []struct {
		eco, a, b string
		want      int
	}{
		{ecoDebian, "1.0", "1.0", 0},
		{ecoDebian, "1.0~rc1", "1.0", -1},
		{ecoDebian, "1:1.0", "2.0", 1},
		{ecoDebian, "3.0.11-1~deb12u1", "3.0.13-1~deb12u1", -1},
		{ecoDebian, "1.2.10", "1.2.9", 1},
		{ecoDebian, "1.0-1", "1.0-1+b1", -1},
		{ecoDebian, "1.0a", "1.0+", -1},
		{ecoAlpine, "1.36.1-r5", "1.36.1-r6", -1},
		{ecoAlpine, "1.36.1-r10", "1.36.1-r9", 1},
		{ecoGo, "1.21.0", "1.21.0", 0},
		{ecoGo, "1.21.10", "1.21.9", 1},
		{ecoGo, "1.22.0-rc.1", "1.22.0", -1},
		{ecoGo, "v0.3.0+incompatible", "0.3.0", 0},
	}
	for _, tc := range cases {
		if got := compareVersions(tc.eco, tc.a, tc.b); got != tc.want {
			t.Errorf("%s: compare(%s, %s) = %d, want %d", tc.eco, tc.a, tc.b, got, tc.want)
		}
	}
}

func TestInRange(t *testing.T) {
	t.Parallel()
	events := []osvEvent{{Introduced: "1.2.0"}, {Fixed: "1.2.5"}, {Introduced: "1.4.0"}, {LastAffected: "1.4.2"}}
	cases := map[string]bool{"1.1.9": false, "1.2.0": true, "1.2.4": true, "1.2.5": false, "1.3.0": false, "1.4.2": true, "1.4.3": false}
	for v, want := range cases {
		if got := inRange(ecoGo, events, v); got != want {
			t.Errorf("inRange(%s) = %v, want %v", v, got, want)
		}
	}
}

func TestInventoryLayersAndWhiteouts(t *testing.T) {
	t.Parallel()
	inv := inventory{}
	first := imageWithFiles(t, map[string][]byte{"var/lib/dpkg/status": []byte(dpkgStatus), "lib/apk/db/installed": []byte(apkInstalled)})
	second := imageWithFiles(t, map[string][]byte{"lib/apk/db/.wh.installed": nil})
	for _, img := range []v1.Image{first, second} {
		layers, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		rc, err := layers[0].Compressed()
		if err != nil {
			t.Fatal(err)
		}
		err = inv.addLayer(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for _, p := range inv.packages() {
		got = append(got, p.Ecosystem+":"+p.Name+"@"+p.Version)
	}
	sort.Strings(got)
	if strings.Join(got, ",") != "Debian:openssl@3.0.11-1~deb12u1,Debian:zlib@1:1.2.13.dfsg-1" {
		t.Fatalf("packages = %v (the apk database was deleted by a whiteout)", got)
	}
}

func TestScanInProgressResumesAfterRestart(t *testing.T) {
	t.Parallel()
	st, root := openStore(t), t.TempDir()
	shared := func(c *Config) { c.Store, c.RegistryRoot = st, root }
	first := newAPIEnv(t, shared)
	ctx := t.Context()
	if _, err := first.client.CreateRepository(ctx, &awsecr.CreateRepositoryInput{RepositoryName: aws.String("later")}); err != nil {
		t.Fatal(err)
	}
	d := mustPush(t, first.host, "later", "v1", randomImage(t))
	// As if kumo stopped with the scan queued: in progress, and no worker.
	first.svc.editImage(imageKey("later", d), func(r *imageRecord) { r.Scan = &scanResult{Status: scanInProgress} })
	first.stop()

	second := newAPIEnv(t, shared)
	out := waitScan(t, second, "later", &types.ImageIdentifier{ImageDigest: aws.String(d)})
	if out.ImageScanFindings == nil || len(out.ImageScanFindings.Findings) != 0 {
		t.Fatalf("findings = %+v", out.ImageScanFindings)
	}
}

func TestRegistryScanningRules(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	ctx := t.Context()
	for _, name := range []string{"prod-api", "dev-api", "prod-team/web"} {
		if _, err := e.client.CreateRepository(ctx, &awsecr.CreateRepositoryInput{RepositoryName: aws.String(name)}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := e.client.GetRegistryScanningConfiguration(ctx, &awsecr.GetRegistryScanningConfigurationInput{})
	if err != nil || got.ScanningConfiguration.ScanType != types.ScanTypeBasic || len(got.ScanningConfiguration.Rules) != 0 {
		t.Fatalf("default scanning configuration = %+v, %v", got, err)
	}
	_, err = e.client.PutRegistryScanningConfiguration(ctx, &awsecr.PutRegistryScanningConfigurationInput{ScanType: types.ScanTypeEnhanced})
	wantCode(t, err, "InvalidParameterException")
	_, err = e.client.PutRegistryScanningConfiguration(ctx, &awsecr.PutRegistryScanningConfigurationInput{ScanType: types.ScanTypeBasic, Rules: []types.RegistryScanningRule{{
		ScanFrequency:     types.ScanFrequencyScanOnPush,
		RepositoryFilters: []types.ScanningRepositoryFilter{{Filter: aws.String("prod-*"), FilterType: types.ScanningRepositoryFilterTypeWildcard}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := e.client.BatchGetRepositoryScanningConfiguration(ctx, &awsecr.BatchGetRepositoryScanningConfigurationInput{RepositoryNames: []string{"prod-api", "dev-api", "missing", "prod-team/web"}})
	if err != nil {
		t.Fatal(err)
	}
	cfgs := batch.ScanningConfigurations
	// The wildcard crosses the slash of a namespaced repository name.
	if len(cfgs) != 3 || !cfgs[2].ScanOnPush || len(cfgs[2].AppliedScanFilters) != 1 || !cfgs[0].ScanOnPush || cfgs[0].ScanFrequency != types.ScanFrequencyScanOnPush || len(cfgs[0].AppliedScanFilters) != 1 ||
		cfgs[1].ScanOnPush || cfgs[1].ScanFrequency != types.ScanFrequencyManual || len(batch.Failures) != 1 || batch.Failures[0].FailureCode != types.ScanningConfigurationFailureCodeRepositoryNotFound {
		t.Fatalf("scanning configurations %+v failures %+v", cfgs, batch.Failures)
	}
	mustPush(t, e.host, "prod-api", "v1", randomImage(t))
	mustPush(t, e.host, "dev-api", "v1", randomImage(t))
	v1 := &types.ImageIdentifier{ImageTag: aws.String("v1")}
	waitScan(t, e, "prod-api", v1)
	_, err = e.client.DescribeImageScanFindings(ctx, &awsecr.DescribeImageScanFindingsInput{RepositoryName: aws.String("dev-api"), ImageId: v1})
	wantCode(t, err, "ScanNotFoundException")
}

// TestArtifactsAreNotScanned pushes a signature (an artifact, not a
// container image) into a scan-on-push repository.
func TestArtifactsAreNotScanned(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	ctx := t.Context()
	repo := aws.String("signed")
	if _, err := e.client.CreateRepository(ctx, &awsecr.CreateRepositoryInput{RepositoryName: repo, ImageScanningConfiguration: &types.ImageScanningConfiguration{ScanOnPush: true}}); err != nil {
		t.Fatal(err)
	}
	img := randomImage(t)
	mustPush(t, e.host, "signed", "v1", img)
	desc, err := partial.Descriptor(img)
	if err != nil {
		t.Fatal(err)
	}
	sig := mutate.Subject(mutate.ConfigMediaType(randomImage(t), "application/vnd.example.signature"), *desc).(v1.Image)
	sd, _ := sig.Digest()
	if err := remote.Write(mustRef(t, e.host+"/signed@"+sd.String()), sig, remote.WithContext(ctx)); err != nil {
		t.Fatal(err)
	}
	waitScan(t, e, "signed", &types.ImageIdentifier{ImageTag: aws.String("v1")})
	sigID := &types.ImageIdentifier{ImageDigest: aws.String(sd.String())}
	_, err = e.client.DescribeImageScanFindings(ctx, &awsecr.DescribeImageScanFindingsInput{RepositoryName: repo, ImageId: sigID})
	wantCode(t, err, "ScanNotFoundException")
	_, err = e.client.StartImageScan(ctx, &awsecr.StartImageScanInput{RepositoryName: repo, ImageId: sigID})
	wantCode(t, err, "UnsupportedImageTypeException")
}
