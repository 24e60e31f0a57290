package ecr

import (
	"context"
	"encoding/json"
	"regexp"
	"sort"

	"github.com/kumo-project/kumo/internal/arn"
	"github.com/kumo-project/kumo/internal/protocol"
	"github.com/kumo-project/kumo/internal/registry"
	"github.com/kumo-project/kumo/internal/store"
	"github.com/kumo-project/kumo/internal/wire/ecrwire"
)

// namePattern is ECR's repository name grammar.
const namePattern = `(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*`

var nameRE = regexp.MustCompile(`^` + namePattern + `$`)

func validateName(name string) error {
	if !nameRE.MatchString(name) || registry.ValidateName(name) != nil {
		return invalidParameter("Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must satisfy regular expression '%s''", namePattern)
	}
	return nil
}

// checkRegistryID refuses a registryId other than the caller's account:
// kumo serves one registry per account.
func (sc scope) checkRegistryID(id string) error {
	if id != "" && id != sc.account {
		return invalidParameter("Invalid parameter at 'registryId' failed to satisfy constraint: 'registry %s is not the caller's registry %s'", id, sc.account)
	}
	return nil
}

// repo reads the repository name in the caller's scope.
func (sc scope) repo(tx *store.Tx, registryID, name string) (repoRecord, error) {
	if err := sc.checkRegistryID(registryID); err != nil {
		return repoRecord{}, err
	}
	rec, ok, err := store.Get[repoRecord](tx, tableRepos, name)
	if err != nil {
		return rec, serverException(err)
	}
	if !ok || rec.Account != sc.account || rec.Region != sc.region {
		return rec, repositoryNotFound(name, sc.account)
	}
	return rec, nil
}

// updateRepo applies edit to a repository of the caller's scope and stores it.
func (s *Service) updateRepo(ctx context.Context, registryID, name string, edit func(*repoRecord) error) (repoRecord, error) {
	sc := scopeOf(ctx)
	var rec repoRecord
	err := s.store.Update(func(tx *store.Tx) error {
		var err error
		if rec, err = sc.repo(tx, registryID, name); err != nil {
			return err
		}
		if err := edit(&rec); err != nil {
			return err
		}
		return tx.Put(tableRepos, name, rec)
	})
	return rec, err
}

// viewRepo reads a repository of the caller's scope.
func (s *Service) viewRepo(ctx context.Context, registryID, name string) (repoRecord, error) {
	sc := scopeOf(ctx)
	var rec repoRecord
	err := s.store.View(func(tx *store.Tx) error {
		var err error
		rec, err = sc.repo(tx, registryID, name)
		return err
	})
	return rec, err
}

func (s *Service) repositoryURI(name string) string { return s.cfg.RegistryHost + "/" + name }

// newRepository builds a repository record from a create request.
func (s *Service) newRepository(sc scope, in *ecrwire.CreateRepositoryRequest) repoRecord {
	mut := in.ImageTagMutability
	if mut == "" {
		mut = mutable
	}
	scanning := in.ImageScanningConfiguration
	if scanning == nil {
		scanning = &ecrwire.ImageScanningConfiguration{}
	}
	enc := in.EncryptionConfiguration
	if enc == nil {
		enc = &ecrwire.EncryptionConfiguration{EncryptionType: "AES256"}
	}
	return repoRecord{
		Account: sc.account, Region: sc.region, Tags: in.Tags,
		Repository: ecrwire.Repository{
			RepositoryArn:                      arn.New("ecr", sc.region, sc.account, "repository/"+in.RepositoryName),
			RegistryId:                         sc.account,
			RepositoryName:                     in.RepositoryName,
			RepositoryUri:                      s.repositoryURI(in.RepositoryName),
			CreatedAt:                          protocol.NewTimestamp(s.clock.Now()),
			ImageTagMutability:                 mut,
			ImageTagMutabilityExclusionFilters: in.ImageTagMutabilityExclusionFilters,
			ImageScanningConfiguration:         scanning,
			EncryptionConfiguration:            enc,
		},
	}
}

// validateCreate checks a CreateRepository request in the caller's scope.
func (sc scope) validateCreate(in *ecrwire.CreateRepositoryRequest) error {
	if err := sc.checkRegistryID(in.RegistryId); err != nil {
		return err
	}
	if err := validateName(in.RepositoryName); err != nil {
		return err
	}
	if err := validateTags(in.Tags); err != nil {
		return err
	}
	if err := validateMutability(in.ImageTagMutability, in.ImageTagMutabilityExclusionFilters); err != nil {
		return err
	}
	if e := in.EncryptionConfiguration; e != nil && e.EncryptionType == "AES256" && e.KmsKey != "" {
		return invalidParameter("Invalid parameter: kmsKey may only be set with encryptionType KMS")
	}
	return nil
}

// CreateRepository creates a repository; pushes to it are accepted from then on.
func (s *Service) CreateRepository(ctx context.Context, in *ecrwire.CreateRepositoryRequest) (*ecrwire.CreateRepositoryResponse, error) {
	sc := scopeOf(ctx)
	if err := sc.validateCreate(in); err != nil {
		return nil, err
	}
	rec := s.newRepository(sc, in)
	s.reposMu.Lock()
	defer s.reposMu.Unlock()
	if _, exists, err := s.repoByName(in.RepositoryName); err != nil || exists {
		if err != nil {
			return nil, serverException(err)
		}
		return nil, repositoryExists(in.RepositoryName, sc.account)
	}
	// A delete interrupted after its record went may have left registry
	// data behind; a new repository starts empty. Nothing can be pushed
	// into it meanwhile, as it does not exist yet.
	if err := s.registry.DeleteRepository(ctx, in.RepositoryName); err != nil {
		return nil, apiError(err)
	}
	err := s.store.Update(func(tx *store.Tx) error {
		_, ok, err := store.Get[repoRecord](tx, tableRepos, in.RepositoryName)
		if err != nil {
			return serverException(err)
		}
		if ok {
			return repositoryExists(in.RepositoryName, sc.account)
		}
		return tx.Put(tableRepos, in.RepositoryName, rec)
	})
	if err != nil {
		return nil, err
	}
	return &ecrwire.CreateRepositoryResponse{Repository: &rec.Repository}, nil
}

// DescribeRepositories lists the caller's repositories, or the named ones.
func (s *Service) DescribeRepositories(ctx context.Context, in *ecrwire.DescribeRepositoriesRequest) (*ecrwire.DescribeRepositoriesResponse, error) {
	sc := scopeOf(ctx)
	if err := sc.checkRegistryID(in.RegistryId); err != nil {
		return nil, err
	}
	if len(in.RepositoryNames) > 0 && (in.NextToken != "" || in.MaxResults != nil) {
		return nil, invalidParameter("Invalid parameter: maxResults and nextToken cannot be used with repositoryNames")
	}
	repos := []ecrwire.Repository{} // AWS answers "repositories": [] when there are none
	err := s.store.View(func(tx *store.Tx) error {
		if len(in.RepositoryNames) > 0 {
			for _, name := range in.RepositoryNames {
				rec, err := sc.repo(tx, "", name)
				if err != nil {
					return err
				}
				repos = append(repos, rec.Repository)
			}
			return nil
		}
		all, err := store.List[repoRecord](tx, tableRepos, "")
		for _, rec := range all {
			if rec.Account == sc.account && rec.Region == sc.region {
				repos = append(repos, rec.Repository)
			}
		}
		return err
	})
	if err != nil {
		return nil, apiError(err)
	}
	page, next, err := protocol.Page(repos, in.NextToken, maxResults(in.MaxResults, 100), func(r ecrwire.Repository) string { return r.RepositoryName }, "InvalidParameterException")
	if err != nil {
		return nil, err
	}
	return &ecrwire.DescribeRepositoriesResponse{Repositories: page, NextToken: next}, nil
}

// maxResults is the page size a request asks for, or def; the wire layer
// has checked the model's bounds.
func maxResults(n *int32, def int) int {
	if n == nil {
		return def
	}
	return int(*n)
}

// DeleteRepository deletes a repository; with images in it only when force is set.
func (s *Service) DeleteRepository(ctx context.Context, in *ecrwire.DeleteRepositoryRequest) (*ecrwire.DeleteRepositoryResponse, error) {
	sc := scopeOf(ctx)
	s.reposMu.Lock()
	defer s.reposMu.Unlock()
	rec, err := s.viewRepo(ctx, in.RegistryId, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	images, err := s.images(ctx, in.RepositoryName)
	if err != nil {
		return nil, apiError(err)
	}
	if len(images) > 0 && !in.Force {
		return nil, protocol.ClientError("RepositoryNotEmptyException",
			"The repository with name '%s' in registry with id '%s' cannot be deleted because it still contains images", in.RepositoryName, sc.account)
	}
	// The record goes first: from then on pushes are refused, so nothing
	// lands in the registry after its repository is cleared.
	err = s.store.Update(func(tx *store.Tx) error {
		if _, err := sc.repo(tx, "", in.RepositoryName); err != nil {
			return err
		}
		if err := tx.Delete(tableRepos, in.RepositoryName); err != nil {
			return err
		}
		if err := tx.Delete(tablePreviews, in.RepositoryName); err != nil {
			return err
		}
		return deleteImageRecords(tx, in.RepositoryName)
	})
	if err != nil {
		return nil, apiError(err)
	}
	if err := s.registry.DeleteRepository(ctx, in.RepositoryName); err != nil {
		return nil, apiError(err)
	}
	return &ecrwire.DeleteRepositoryResponse{Repository: &rec.Repository}, nil
}

// deleteImageRecords removes the scan and pull records of every image of repo.
func deleteImageRecords(tx *store.Tx, repo string) error {
	var keys []string
	err := tx.Scan(tableImages, repo+imageKeyMarker, "", func(key string, _ []byte) (bool, error) {
		keys = append(keys, key)
		return true, nil
	})
	for _, k := range keys {
		if err == nil {
			err = tx.Delete(tableImages, k)
		}
	}
	return err
}

// validateMutability checks a mutability setting and its exclusion filters.
func validateMutability(mut string, filters []ecrwire.ImageTagMutabilityExclusionFilter) error {
	withFilters := mut == immutableWithExclusion || mut == mutableWithExclusion
	if withFilters && len(filters) == 0 {
		return invalidParameter("Invalid parameter: imageTagMutabilityExclusionFilters must be set with %s", mut)
	}
	if !withFilters && len(filters) > 0 {
		return invalidParameter("Invalid parameter: imageTagMutabilityExclusionFilters may only be set with IMMUTABLE_WITH_EXCLUSION or MUTABLE_WITH_EXCLUSION")
	}
	return nil
}

// PutImageTagMutability changes whether tags of a repository may be overwritten.
func (s *Service) PutImageTagMutability(ctx context.Context, in *ecrwire.PutImageTagMutabilityRequest) (*ecrwire.PutImageTagMutabilityResponse, error) {
	if err := validateMutability(in.ImageTagMutability, in.ImageTagMutabilityExclusionFilters); err != nil {
		return nil, err
	}
	rec, err := s.updateRepo(ctx, in.RegistryId, in.RepositoryName, func(r *repoRecord) error {
		r.Repository.ImageTagMutability = in.ImageTagMutability
		r.Repository.ImageTagMutabilityExclusionFilters = in.ImageTagMutabilityExclusionFilters
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ecrwire.PutImageTagMutabilityResponse{
		RegistryId: rec.Account, RepositoryName: in.RepositoryName,
		ImageTagMutability: in.ImageTagMutability, ImageTagMutabilityExclusionFilters: in.ImageTagMutabilityExclusionFilters,
	}, nil
}

// PutImageScanningConfiguration turns scan on push on or off.
func (s *Service) PutImageScanningConfiguration(ctx context.Context, in *ecrwire.PutImageScanningConfigurationRequest) (*ecrwire.PutImageScanningConfigurationResponse, error) {
	cfg := *in.ImageScanningConfiguration
	rec, err := s.updateRepo(ctx, in.RegistryId, in.RepositoryName, func(r *repoRecord) error {
		r.Repository.ImageScanningConfiguration = &cfg
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ecrwire.PutImageScanningConfigurationResponse{RegistryId: rec.Account, RepositoryName: in.RepositoryName, ImageScanningConfiguration: &cfg}, nil
}

// validatePolicyText checks that a repository policy is an IAM policy
// document: a JSON object with a Statement. kumo stores it; it does not
// enforce it yet.
func validatePolicyText(text string) error {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal([]byte(text), &doc); err != nil || doc["Statement"] == nil {
		return invalidParameter("Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid repository policy provided'")
	}
	return nil
}

// SetRepositoryPolicy stores a repository policy.
func (s *Service) SetRepositoryPolicy(ctx context.Context, in *ecrwire.SetRepositoryPolicyRequest) (*ecrwire.SetRepositoryPolicyResponse, error) {
	if err := validatePolicyText(in.PolicyText); err != nil {
		return nil, err
	}
	rec, err := s.updateRepo(ctx, in.RegistryId, in.RepositoryName, func(r *repoRecord) error {
		r.PolicyText = in.PolicyText
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ecrwire.SetRepositoryPolicyResponse{RegistryId: rec.Account, RepositoryName: in.RepositoryName, PolicyText: in.PolicyText}, nil
}

// GetRepositoryPolicy returns a repository's policy.
func (s *Service) GetRepositoryPolicy(ctx context.Context, in *ecrwire.GetRepositoryPolicyRequest) (*ecrwire.GetRepositoryPolicyResponse, error) {
	rec, err := s.viewRepo(ctx, in.RegistryId, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	if rec.PolicyText == "" {
		return nil, repositoryPolicyNotFound(in.RepositoryName, rec.Account)
	}
	return &ecrwire.GetRepositoryPolicyResponse{RegistryId: rec.Account, RepositoryName: in.RepositoryName, PolicyText: rec.PolicyText}, nil
}

// DeleteRepositoryPolicy removes a repository's policy and returns it.
func (s *Service) DeleteRepositoryPolicy(ctx context.Context, in *ecrwire.DeleteRepositoryPolicyRequest) (*ecrwire.DeleteRepositoryPolicyResponse, error) {
	var old string
	rec, err := s.updateRepo(ctx, in.RegistryId, in.RepositoryName, func(r *repoRecord) error {
		if r.PolicyText == "" {
			return repositoryPolicyNotFound(in.RepositoryName, r.Account)
		}
		old, r.PolicyText = r.PolicyText, ""
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ecrwire.DeleteRepositoryPolicyResponse{RegistryId: rec.Account, RepositoryName: in.RepositoryName, PolicyText: old}, nil
}

// DescribeRegistry describes the caller's registry: kumo replicates nothing.
func (s *Service) DescribeRegistry(ctx context.Context, in *ecrwire.DescribeRegistryRequest) (*ecrwire.DescribeRegistryResponse, error) {
	return &ecrwire.DescribeRegistryResponse{
		RegistryId:               scopeOf(ctx).account,
		ReplicationConfiguration: &ecrwire.ReplicationConfiguration{Rules: []ecrwire.ReplicationRule{}},
	}, nil
}

// sortedTags returns tags in a stable order.
func sortedTags(tags []string) []string {
	out := append([]string(nil), tags...)
	sort.Strings(out)
	return out
}
