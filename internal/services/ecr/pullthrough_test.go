package ecr

import (
	"encoding/base64"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecr "github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/kumo-project/kumo/internal/testimages"
	"github.com/kumo-project/kumo/internal/wire/ecrwire"
)

func TestPullThroughCache(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	ctx := t.Context()
	upstream := testimages.StartRegistry(t)
	img := randomImage(t)
	testimages.Push(t, img, upstream+"/library/alpine:3")
	want, _ := img.Digest()

	rule, err := e.client.CreatePullThroughCacheRule(ctx, &awsecr.CreatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("hub"), UpstreamRegistryUrl: aws.String("http://" + upstream)})
	if err != nil || *rule.UpstreamRegistryUrl != upstream || rule.CreatedAt == nil {
		t.Fatalf("create rule = %+v, %v", rule, err)
	}

	ref, _ := name.ParseReference(e.host+"/hub/library/alpine:3", name.Insecure)
	pulled, err := remote.Image(ref, remote.WithContext(ctx))
	if err != nil {
		t.Fatalf("first pull: %v", err)
	}
	if got, _ := pulled.Digest(); got != want {
		t.Fatalf("pulled %s, want %s", got, want)
	}
	layers, _ := pulled.Layers()
	if _, err := layers[0].Compressed(); err != nil {
		t.Fatalf("cached layer: %v", err)
	}
	repos, err := e.client.DescribeRepositories(ctx, &awsecr.DescribeRepositoriesInput{RepositoryNames: []string{"hub/library/alpine"}})
	if err != nil || *repos.Repositories[0].RepositoryUri != e.host+"/hub/library/alpine" {
		t.Fatalf("cache repository = %+v, %v", repos, err)
	}
	if _, err := remote.Image(mustRef(t, e.host+"/hub/library/missing:1"), remote.WithContext(ctx)); err == nil {
		t.Fatal("pull of an image the upstream lacks succeeded")
	}
	if _, err := remote.Image(mustRef(t, e.host+"/other/alpine:3"), remote.WithContext(ctx)); err == nil {
		t.Fatal("pull outside every rule's prefix succeeded")
	}

	errorCases := []struct {
		name string
		call func() error
		code string
	}{
		{"duplicate", func() error {
			_, err := e.client.CreatePullThroughCacheRule(ctx, &awsecr.CreatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("hub"), UpstreamRegistryUrl: aws.String(upstream)})
			return err
		}, "PullThroughCacheRuleAlreadyExistsException"},
		{"bad prefix", func() error {
			_, err := e.client.CreatePullThroughCacheRule(ctx, &awsecr.CreatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("Bad!"), UpstreamRegistryUrl: aws.String(upstream)})
			return err
		}, "InvalidParameterException"},
		{"describe unknown", func() error {
			_, err := e.client.DescribePullThroughCacheRules(ctx, &awsecr.DescribePullThroughCacheRulesInput{EcrRepositoryPrefixes: []string{"nope"}})
			return err
		}, "PullThroughCacheRuleNotFoundException"},
		{"validate in another region", func() error {
			_, err := e.clientIn("eu-west-1").ValidatePullThroughCacheRule(ctx, &awsecr.ValidatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("hub")})
			return err
		}, "PullThroughCacheRuleNotFoundException"},
		{"delete in another region", func() error {
			_, err := e.clientIn("eu-west-1").DeletePullThroughCacheRule(ctx, &awsecr.DeletePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("hub")})
			return err
		}, "PullThroughCacheRuleNotFoundException"},
		{"update unknown", func() error {
			_, err := e.client.UpdatePullThroughCacheRule(ctx, &awsecr.UpdatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("nope"), CredentialArn: aws.String("arn:aws:secretsmanager:us-east-1:000000000000:secret:ecr-pullthroughcache/x")})
			return err
		}, "PullThroughCacheRuleNotFoundException"},
		{"delete unknown", func() error {
			_, err := e.client.DeletePullThroughCacheRule(ctx, &awsecr.DeletePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("nope")})
			return err
		}, "PullThroughCacheRuleNotFoundException"},
	}
	for _, tc := range errorCases {
		t.Run(tc.name, func(t *testing.T) { wantCode(t, tc.call(), tc.code) })
	}

	valid, err := e.client.ValidatePullThroughCacheRule(ctx, &awsecr.ValidatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("hub")})
	if err != nil || !valid.IsValid {
		t.Fatalf("validate = %+v, %v", valid, err)
	}
	updated, err := e.client.UpdatePullThroughCacheRule(ctx, &awsecr.UpdatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("hub"), CredentialArn: aws.String("arn:aws:secretsmanager:us-east-1:000000000000:secret:ecr-pullthroughcache/hub")})
	if err != nil || updated.UpdatedAt == nil || aws.ToString(updated.CredentialArn) == "" {
		t.Fatalf("update = %+v, %v", updated, err)
	}
	closed := closedAddr(t)
	if _, err := e.client.CreatePullThroughCacheRule(ctx, &awsecr.CreatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("gone"), UpstreamRegistryUrl: aws.String(closed)}); err != nil {
		t.Fatal(err)
	}
	invalid, err := e.client.ValidatePullThroughCacheRule(ctx, &awsecr.ValidatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("gone")})
	if err != nil || invalid.IsValid || aws.ToString(invalid.Failure) == "" {
		t.Fatalf("validate of an unreachable upstream = %+v, %v", invalid, err)
	}
	if _, err := e.client.DeletePullThroughCacheRule(ctx, &awsecr.DeletePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("gone")}); err != nil {
		t.Fatal(err)
	}

	rules, err := e.client.DescribePullThroughCacheRules(ctx, &awsecr.DescribePullThroughCacheRulesInput{})
	if err != nil || len(rules.PullThroughCacheRules) != 1 || *rules.PullThroughCacheRules[0].EcrRepositoryPrefix != "hub" {
		t.Fatalf("rules = %+v, %v", rules, err)
	}
	if _, err := e.client.DeletePullThroughCacheRule(ctx, &awsecr.DeletePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("hub")}); err != nil {
		t.Fatal(err)
	}
	// The cached image stays after the rule is gone.
	if _, err := remote.Image(ref, remote.WithContext(ctx)); err != nil {
		t.Fatalf("pull of the cached image after the rule was deleted: %v", err)
	}
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	ref, err := name.ParseReference(s, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestPullThroughLongestPrefix checks that the most specific rule serves a
// repository that two rules' prefixes cover.
func TestPullThroughLongestPrefix(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	for _, prefix := range []string{"hub/library", "hub", "hub/lib"} {
		if _, err := e.client.CreatePullThroughCacheRule(t.Context(), &awsecr.CreatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String(prefix), UpstreamRegistryUrl: aws.String("127.0.0.1:5000")}); err != nil {
			t.Fatal(err)
		}
	}
	for repo, want := range map[string]string{"hub/library/alpine": "hub/library", "hub/other/alpine": "hub", "hub/libx/a": "hub"} {
		rule, ok, err := e.svc.ruleFor(repo)
		if err != nil || !ok || rule.Rule.EcrRepositoryPrefix != want {
			t.Errorf("rule for %s = %q (found %v, %v), want %q", repo, rule.Rule.EcrRepositoryPrefix, ok, err, want)
		}
	}
}

func TestUpstreamReference(t *testing.T) {
	t.Parallel()
	digest := "sha256:" + strings.Repeat("a", 64)
	cases := []struct {
		name, upstreamPrefix, repo, ref, want string
	}{
		{"tag", "", "hub/library/alpine", "3", "127.0.0.1:5000/library/alpine:3"},
		{"digest", "", "hub/library/alpine", digest, "127.0.0.1:5000/library/alpine@" + digest},
		{"upstream prefix", "mirror", "hub/alpine", "3", "127.0.0.1:5000/mirror/alpine:3"},
		{"root upstream prefix", "ROOT", "hub/alpine", "3", "127.0.0.1:5000/alpine:3"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rule := ecrwire.PullThroughCacheRule{EcrRepositoryPrefix: "hub", UpstreamRegistryUrl: "127.0.0.1:5000", UpstreamRepositoryPrefix: tc.upstreamPrefix}
			ref, err := upstreamReference(rule, tc.repo, tc.ref)
			if err != nil {
				t.Fatal(err)
			}
			if ref.String() != tc.want || ref.Context().Scheme() != "http" {
				t.Fatalf("reference = %v over %s, want %s over http", ref, ref.Context().Scheme(), tc.want)
			}
		})
	}
}

// TestPullThroughNeedsValidCredentials checks that, with registry auth
// required, only an authenticated pull fetches from the upstream.
func TestPullThroughNeedsValidCredentials(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t, func(c *Config) { c.AuthRequired = true })
	ctx := t.Context()
	upstream := testimages.StartRegistry(t)
	testimages.Push(t, randomImage(t), upstream+"/library/alpine:3")
	if _, err := e.client.CreatePullThroughCacheRule(ctx, &awsecr.CreatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("hub"), UpstreamRegistryUrl: aws.String(upstream)}); err != nil {
		t.Fatal(err)
	}
	token, err := e.client.GetAuthorizationToken(ctx, &awsecr.GetAuthorizationTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(*token.AuthorizationData[0].AuthorizationToken)
	_, password, _ := strings.Cut(string(raw), ":")
	// Plain requests, so the manifest GET itself carries the credentials
	// (a registry client would stop at the token endpoint).
	for _, tc := range []struct {
		name, password string
		cached         bool
	}{
		{"anonymous", "", false},
		{"forged token", password + "x", false},
		{"token", password, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+e.host+"/v2/hub/library/alpine/manifests/3", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Accept", "application/vnd.docker.distribution.manifest.v2+json")
			if tc.password != "" {
				req.SetBasicAuth("AWS", tc.password)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if (resp.StatusCode == http.StatusOK) != tc.cached {
				t.Fatalf("pull answered %s, want success %v", resp.Status, tc.cached)
			}
			_, err = e.client.DescribeRepositories(ctx, &awsecr.DescribeRepositoriesInput{RepositoryNames: []string{"hub/library/alpine"}})
			if (err == nil) != tc.cached {
				t.Fatalf("cache repository: %v, want it to exist: %v", err, tc.cached)
			}
		})
	}
}
