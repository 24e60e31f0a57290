package ecr

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecr "github.com/aws/aws-sdk-go-v2/service/ecr"
)

var day = 24 * time.Hour

// policyText builds a policy from rules written as JSON objects.
func policyText(rules ...string) string {
	return `{"rules":[` + strings.Join(rules, ",") + `]}`
}

func TestEvaluateLifecycle(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	img := func(d string, age int, tags ...string) lifecycleImage {
		return lifecycleImage{Digest: d, Tags: tags, PushedAt: now.Add(-time.Duration(age) * day)}
	}
	prod := `{"rulePriority":1,"selection":{"tagStatus":"tagged","tagPrefixList":["prod"],"countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}`
	beta := `{"rulePriority":2,"selection":{"tagStatus":"tagged","tagPrefixList":["beta"],"countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}`
	cases := []struct {
		name   string
		policy string
		images []lifecycleImage
		want   string // expired digests with the rule, oldest first
	}{
		{
			// AWS documentation, "Filtering on multiple rules", example A.
			name:   "docs multiple rules A",
			policy: policyText(prod, beta),
			images: []lifecycleImage{img("A", 10, "beta-1", "prod-1"), img("B", 9, "beta-2", "prod-2"), img("C", 8, "beta-3")},
			want:   "A@1",
		},
		{
			// AWS documentation, "Filtering on multiple rules", example B.
			name:   "docs multiple rules B",
			policy: policyText(prod, beta),
			images: []lifecycleImage{img("A", 10, "beta-1", "prod-1"), img("B", 9, "beta-2", "prod-2"), img("C", 8, "beta-3", "prod-3"), img("D", 7, "beta-4")},
			want:   "A@1,B@1",
		},
		{
			// AWS documentation, "Filtering on multiple tags in a single rule".
			name:   "every prefix must match a tag",
			policy: policyText(`{"rulePriority":1,"selection":{"tagStatus":"tagged","tagPrefixList":["alpha","beta"],"countType":"sinceImagePushed","countUnit":"days","countNumber":5},"action":{"type":"expire"}}`),
			images: []lifecycleImage{img("A", 10, "alpha-1"), img("B", 10, "beta-1"), img("C", 10, "alpha-2", "beta-2"), img("D", 1, "alpha-3", "beta-3")},
			want:   "C@1",
		},
		{
			name:   "untagged older than 14 days",
			policy: policyText(`{"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":14},"action":{"type":"expire"}}`),
			images: []lifecycleImage{img("A", 20), img("B", 13), img("C", 30, "v1")},
			want:   "A@1",
		},
		{
			name:   "patterns with wildcards",
			policy: policyText(`{"rulePriority":1,"selection":{"tagStatus":"tagged","tagPatternList":["*-rc*"],"countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}`),
			images: []lifecycleImage{img("A", 3, "1.0-rc1"), img("B", 2, "1.0"), img("C", 1, "1.1-rc2")},
			want:   "A@1",
		},
		{
			name: "any rule counts but cannot expire images an earlier rule selected",
			policy: policyText(`{"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":100},"action":{"type":"expire"}}`,
				`{"rulePriority":5,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":2},"action":{"type":"expire"}}`),
			images: []lifecycleImage{img("A", 5), img("B", 4, "v1"), img("C", 3, "v2"), img("D", 2, "v3"), img("E", 1, "v4")},
			want:   "B@5,C@5",
		},
		{
			name:   "nothing beyond the count",
			policy: policyText(prod),
			images: []lifecycleImage{img("A", 1, "prod-1")},
			want:   "",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := parseLifecyclePolicy(tc.policy)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range evaluateLifecycle(p, tc.images, now) {
				got = append(got, e.Image.Digest+"@"+strconv.Itoa(e.Priority))
			}
			if strings.Join(got, ",") != tc.want {
				t.Fatalf("expired %v, want %s", got, tc.want)
			}
		})
	}
}

func TestParseLifecyclePolicyRejects(t *testing.T) {
	t.Parallel()
	rule := func(prio int, sel string) string {
		return `{"rulePriority":` + strconv.Itoa(prio) + `,"selection":` + sel + `,"action":{"type":"expire"}}`
	}
	cases := map[string][2]string{ // text, a word of the reason
		"not json":               {`{`, "invalid JSON"},
		"no rules":               {`{"rules":[]}`, "at least one rule"},
		"unknown member":         {`{"rules":[],"extra":1}`, "invalid JSON"},
		"tagged without list":    {policyText(rule(1, `{"tagStatus":"tagged","countType":"imageCountMoreThan","countNumber":1}`)), "needs either"},
		"tagged with both lists": {policyText(rule(1, `{"tagStatus":"tagged","tagPrefixList":["a"],"tagPatternList":["a*"],"countType":"imageCountMoreThan","countNumber":1}`)), "needs either"},
		"untagged with list":     {policyText(rule(1, `{"tagStatus":"untagged","tagPrefixList":["a"],"countType":"imageCountMoreThan","countNumber":1}`)), "only allowed"},
		"bad tag status":         {policyText(rule(1, `{"tagStatus":"some","countType":"imageCountMoreThan","countNumber":1}`)), "'tagStatus'"},
		"days without unit":      {policyText(rule(1, `{"tagStatus":"any","countType":"sinceImagePushed","countNumber":1}`)), "'countUnit' must be"},
		"count with unit":        {policyText(rule(1, `{"tagStatus":"any","countType":"imageCountMoreThan","countUnit":"days","countNumber":1}`)), "'countUnit' is not allowed"},
		"zero count":             {policyText(rule(1, `{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":0}`)), "'countNumber'"},
		"zero priority":          {policyText(rule(0, `{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1}`)), "'rulePriority' must"},
		"duplicate priority":     {policyText(rule(1, `{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1}`), rule(1, `{"tagStatus":"tagged","tagPrefixList":["a"],"countType":"imageCountMoreThan","countNumber":1}`)), "more than one rule"},
		"any not last":           {policyText(rule(1, `{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1}`), rule(2, `{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1}`)), "highest"},
		"two untagged rules":     {policyText(rule(1, `{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1}`), rule(2, `{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":2}`)), "only one rule"},
		"five wildcards":         {policyText(rule(1, `{"tagStatus":"tagged","tagPatternList":["*a*b*c*d*"],"countType":"imageCountMoreThan","countNumber":1}`)), "wildcards"},
		"bad action":             {`{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"archive"}}]}`, "'action.type'"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := parseLifecyclePolicy(tc[0])
			wantCode(t, err, "InvalidParameterException")
			if !strings.Contains(err.Error(), tc[1]) {
				t.Fatalf("error %q does not say %q", err, tc[1])
			}
		})
	}
}

func TestLifecycleAPI(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	ctx := t.Context()
	repo := aws.String("cycle")
	if _, err := e.client.CreateRepository(ctx, &awsecr.CreateRepositoryInput{RepositoryName: repo}); err != nil {
		t.Fatal(err)
	}
	var digests []string
	for _, tag := range []string{"v1", "v2", "v3"} {
		digests = append(digests, mustPush(t, e.host, "cycle", tag, randomImage(t)))
		e.clock.Advance(day)
	}
	policy := policyText(`{"rulePriority":1,"description":"keep one","selection":{"tagStatus":"tagged","tagPrefixList":["v"],"countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}`)

	_, err := e.client.GetLifecyclePolicy(ctx, &awsecr.GetLifecyclePolicyInput{RepositoryName: repo})
	wantCode(t, err, "LifecyclePolicyNotFoundException")
	_, err = e.client.StartLifecyclePolicyPreview(ctx, &awsecr.StartLifecyclePolicyPreviewInput{RepositoryName: repo})
	wantCode(t, err, "LifecyclePolicyNotFoundException")
	_, err = e.client.GetLifecyclePolicyPreview(ctx, &awsecr.GetLifecyclePolicyPreviewInput{RepositoryName: repo})
	wantCode(t, err, "LifecyclePolicyPreviewNotFoundException")
	_, err = e.client.PutLifecyclePolicy(ctx, &awsecr.PutLifecyclePolicyInput{RepositoryName: repo, LifecyclePolicyText: aws.String(`{"rules":[]}`)})
	wantCode(t, err, "InvalidParameterException")

	if _, err := e.client.PutLifecyclePolicy(ctx, &awsecr.PutLifecyclePolicyInput{RepositoryName: repo, LifecyclePolicyText: aws.String(policy)}); err != nil {
		t.Fatal(err)
	}
	start, err := e.client.StartLifecyclePolicyPreview(ctx, &awsecr.StartLifecyclePolicyPreviewInput{RepositoryName: repo})
	if err != nil || *start.LifecyclePolicyText != policy {
		t.Fatalf("start preview = %+v, %v", start, err)
	}
	preview, err := e.client.GetLifecyclePolicyPreview(ctx, &awsecr.GetLifecyclePolicyPreviewInput{RepositoryName: repo})
	if err != nil {
		t.Fatal(err)
	}
	if preview.Status != "COMPLETE" || *preview.Summary.ExpiringImageTotalCount != 2 || len(preview.PreviewResults) != 2 {
		t.Fatalf("preview = %+v", preview)
	}
	for _, r := range preview.PreviewResults {
		if *r.AppliedRulePriority != 1 || r.Action.Type != "EXPIRE" || (*r.ImageDigest != digests[0] && *r.ImageDigest != digests[1]) {
			t.Fatalf("preview result = %+v", r)
		}
	}
	if list, _ := e.client.ListImages(ctx, &awsecr.ListImagesInput{RepositoryName: repo}); len(list.ImageIds) != 3 {
		t.Fatalf("a preview deleted images: %+v", list.ImageIds)
	}

	if err := e.svc.ApplyLifecyclePolicies(ctx); err != nil {
		t.Fatal(err)
	}
	list, err := e.client.ListImages(ctx, &awsecr.ListImagesInput{RepositoryName: repo})
	if err != nil || len(list.ImageIds) != 1 || *list.ImageIds[0].ImageDigest != digests[2] {
		t.Fatalf("after lifecycle: %+v, %v", list, err)
	}
	got, err := e.client.GetLifecyclePolicy(ctx, &awsecr.GetLifecyclePolicyInput{RepositoryName: repo})
	if err != nil || got.LastEvaluatedAt == nil || *got.LifecyclePolicyText != policy {
		t.Fatalf("policy = %+v, %v", got, err)
	}
	if _, err := e.client.DeleteLifecyclePolicy(ctx, &awsecr.DeleteLifecyclePolicyInput{RepositoryName: repo}); err != nil {
		t.Fatal(err)
	}
	_, err = e.client.DeleteLifecyclePolicy(ctx, &awsecr.DeleteLifecyclePolicyInput{RepositoryName: repo})
	wantCode(t, err, "LifecyclePolicyNotFoundException")
}
