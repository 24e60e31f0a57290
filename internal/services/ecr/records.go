package ecr

import (
	"time"

	"github.com/kumo-project/kumo/internal/wire/ecrwire"
)

// Store tables of the ECR service. Repository names are unique per kumo
// instance (the registry has one namespace), so they key the tables alone.
const (
	tableRepos     = "ecr/repositories" // repository name
	tableImages    = "ecr/images"       // repository name "@" digest
	tablePreviews  = "ecr/previews"     // repository name
	tableRules     = "ecr/pullthrough"  // ecrRepositoryPrefix (unique per instance, like names)
	tableSettings  = "ecr/settings"     // settingsKey
	settingsKey    = "registry"
	imageKeyMarker = "@"
)

// Repository tag mutabilities.
const (
	mutable                = "MUTABLE"
	immutable              = "IMMUTABLE"
	immutableWithExclusion = "IMMUTABLE_WITH_EXCLUSION"
	mutableWithExclusion   = "MUTABLE_WITH_EXCLUSION"
)

// repoRecord is a repository with everything ECR attaches to it.
type repoRecord struct {
	Account    string
	Region     string
	Repository ecrwire.Repository
	Tags       []ecrwire.Tag
	// PolicyText is the repository policy (stored, not enforced).
	PolicyText string
	// LifecyclePolicy is the lifecycle policy text, empty when none.
	LifecyclePolicy string
	// LifecycleEvaluatedAt is when the policy was last applied.
	LifecycleEvaluatedAt time.Time
}

// imageRecord is what ECR knows about an image beyond the registry's
// manifest: its scan and when it was last pulled.
type imageRecord struct {
	Scan         *scanResult
	LastPulledAt time.Time
}

// scanResult is one image scan.
type scanResult struct {
	Status      string // IN_PROGRESS, COMPLETE, FAILED
	Description string
	CompletedAt time.Time
	// SourceUpdatedAt is the newest modification time of the advisories used.
	SourceUpdatedAt time.Time
	Findings        []ecrwire.ImageScanFinding
}

// previewRecord is the last lifecycle policy preview of a repository.
type previewRecord struct {
	PolicyText string
	Status     string
	Results    []ecrwire.LifecyclePolicyPreviewResult
}

// ruleRecord is a pull-through cache rule.
type ruleRecord struct {
	Account string
	Region  string
	Rule    ecrwire.PullThroughCacheRule
}

// settingsRecord holds the registry's token signing key.
type settingsRecord struct {
	TokenKey []byte
}

func imageKey(repo, digest string) string { return repo + imageKeyMarker + digest }
