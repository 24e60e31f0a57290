package ecr

import (
	"bytes"
	"testing"
	"time"
)

// FuzzParseLifecyclePolicy feeds arbitrary text to the policy parser: it
// must refuse or accept without panicking, and an accepted policy must
// evaluate.
func FuzzParseLifecyclePolicy(f *testing.F) {
	f.Add(`{"rules":[{"rulePriority":1,"selection":{"tagStatus":"tagged","tagPatternList":["a*b"],"countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}`)
	f.Add(`{"rules":[{"rulePriority":2,"selection":{"tagStatus":"any","countType":"sinceImagePushed","countUnit":"days","countNumber":3},"action":{"type":"expire"}}]}`)
	f.Add(`{"rules":null}`)
	f.Fuzz(func(t *testing.T, text string) {
		p, err := parseLifecyclePolicy(text)
		if err != nil {
			return
		}
		now := time.Unix(1e9, 0)
		images := []lifecycleImage{{Digest: "a", Tags: []string{"ab", "x"}, PushedAt: now.Add(-100 * day)}, {Digest: "b", PushedAt: now}}
		seen := map[string]bool{}
		for _, e := range evaluateLifecycle(p, images, now) {
			if seen[e.Image.Digest] {
				t.Fatalf("image %s expired twice", e.Image.Digest)
			}
			seen[e.Image.Digest] = true
		}
	})
}

// FuzzPackageDatabases parses arbitrary dpkg and apk databases.
func FuzzPackageDatabases(f *testing.F) {
	f.Add([]byte(dpkgStatus))
	f.Add([]byte(apkInstalled))
	f.Add([]byte("Package: x\nSource: y (\nVersion: 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := parseDpkgStatus(bytes.NewReader(data)); err != nil {
			return
		}
		parseApkInstalled(bytes.NewReader(data))
	})
}

// FuzzCompareVersions checks that version order is antisymmetric.
func FuzzCompareVersions(f *testing.F) {
	f.Add("1:2.0~rc1-1", "2.0-1")
	f.Add("1.36.1-r5", "1.36.1-r10")
	f.Add("v1.2.3-pre", "1.2.3")
	f.Fuzz(func(t *testing.T, a, b string) {
		for _, eco := range []string{ecoDebian, ecoGo} {
			if x, y := compareVersions(eco, a, b), compareVersions(eco, b, a); x != -y {
				t.Fatalf("%s: compare(%q,%q)=%d but compare(%q,%q)=%d", eco, a, b, x, b, a, y)
			}
		}
	})
}
