package ecr

import (
	"context"

	"github.com/kumo-project/kumo/internal/store"
	"github.com/kumo-project/kumo/internal/wire/ecrwire"
)

// tableRegistries holds per-registry settings, keyed account/region.
const tableRegistries = "ecr/registries"

// Scan frequencies of basic scanning.
const (
	scanOnPush   = "SCAN_ON_PUSH"
	scanManual   = "MANUAL"
	scanTypeBase = "BASIC"
)

// registryRecord is a registry's policy (stored, not enforced) and its
// scanning configuration.
type registryRecord struct {
	PolicyText string
	Scanning   ecrwire.RegistryScanningConfiguration
}

func (sc scope) registryKey() string { return sc.account + "/" + sc.region }

// registrySettings reads the settings of the caller's registry.
func (s *Service) registrySettings(sc scope) (registryRecord, error) {
	var rec registryRecord
	err := s.store.View(func(tx *store.Tx) (err error) {
		rec, _, err = store.Get[registryRecord](tx, tableRegistries, sc.registryKey())
		return err
	})
	if rec.Scanning.ScanType == "" {
		rec.Scanning.ScanType = scanTypeBase
	}
	if rec.Scanning.Rules == nil {
		rec.Scanning.Rules = []ecrwire.RegistryScanningRule{} // AWS answers "rules": []
	}
	return rec, err
}

// editRegistry changes the settings of the caller's registry.
func (s *Service) editRegistry(sc scope, edit func(*registryRecord) error) (registryRecord, error) {
	var rec registryRecord
	err := s.store.Update(func(tx *store.Tx) error {
		var err error
		if rec, _, err = store.Get[registryRecord](tx, tableRegistries, sc.registryKey()); err != nil {
			return serverException(err)
		}
		if err := edit(&rec); err != nil {
			return err
		}
		return tx.Put(tableRegistries, sc.registryKey(), rec)
	})
	return rec, err
}

// PutRegistryPolicy stores the registry's policy (not enforced yet).
func (s *Service) PutRegistryPolicy(ctx context.Context, in *ecrwire.PutRegistryPolicyRequest) (*ecrwire.PutRegistryPolicyResponse, error) {
	if err := validatePolicyText(in.PolicyText); err != nil {
		return nil, err
	}
	sc := scopeOf(ctx)
	if _, err := s.editRegistry(sc, func(r *registryRecord) error { r.PolicyText = in.PolicyText; return nil }); err != nil {
		return nil, err
	}
	return &ecrwire.PutRegistryPolicyResponse{RegistryId: sc.account, PolicyText: in.PolicyText}, nil
}

// GetRegistryPolicy returns the registry's policy.
func (s *Service) GetRegistryPolicy(ctx context.Context, in *ecrwire.GetRegistryPolicyRequest) (*ecrwire.GetRegistryPolicyResponse, error) {
	sc := scopeOf(ctx)
	rec, err := s.registrySettings(sc)
	if err != nil {
		return nil, serverException(err)
	}
	if rec.PolicyText == "" {
		return nil, registryPolicyNotFound(sc.account)
	}
	return &ecrwire.GetRegistryPolicyResponse{RegistryId: sc.account, PolicyText: rec.PolicyText}, nil
}

// DeleteRegistryPolicy removes the registry's policy and returns it.
func (s *Service) DeleteRegistryPolicy(ctx context.Context, in *ecrwire.DeleteRegistryPolicyRequest) (*ecrwire.DeleteRegistryPolicyResponse, error) {
	sc := scopeOf(ctx)
	var old string
	_, err := s.editRegistry(sc, func(r *registryRecord) error {
		if r.PolicyText == "" {
			return registryPolicyNotFound(sc.account)
		}
		old, r.PolicyText = r.PolicyText, ""
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ecrwire.DeleteRegistryPolicyResponse{RegistryId: sc.account, PolicyText: old}, nil
}

// PutRegistryScanningConfiguration sets registry-wide basic scanning
// rules: SCAN_ON_PUSH rules scan pushes to repositories their wildcard
// filters match, whatever the repository's own setting.
func (s *Service) PutRegistryScanningConfiguration(ctx context.Context, in *ecrwire.PutRegistryScanningConfigurationRequest) (*ecrwire.PutRegistryScanningConfigurationResponse, error) {
	if in.ScanType == "ENHANCED" {
		return nil, invalidParameter("Invalid parameter at 'scanType': ENHANCED scanning (Amazon Inspector) is not available in kumo; use BASIC")
	}
	for _, r := range in.Rules {
		if r.ScanFrequency != scanOnPush && r.ScanFrequency != scanManual {
			return nil, invalidParameter("Invalid parameter at 'scanFrequency': BASIC scanning supports SCAN_ON_PUSH and MANUAL, not %s", r.ScanFrequency)
		}
	}
	rules := in.Rules
	if rules == nil {
		rules = []ecrwire.RegistryScanningRule{}
	}
	cfg := ecrwire.RegistryScanningConfiguration{ScanType: scanTypeBase, Rules: rules}
	if _, err := s.editRegistry(scopeOf(ctx), func(r *registryRecord) error { r.Scanning = cfg; return nil }); err != nil {
		return nil, err
	}
	return &ecrwire.PutRegistryScanningConfigurationResponse{RegistryScanningConfiguration: &cfg}, nil
}

// GetRegistryScanningConfiguration returns the registry's scanning rules.
func (s *Service) GetRegistryScanningConfiguration(ctx context.Context, in *ecrwire.GetRegistryScanningConfigurationRequest) (*ecrwire.GetRegistryScanningConfigurationResponse, error) {
	sc := scopeOf(ctx)
	rec, err := s.registrySettings(sc)
	if err != nil {
		return nil, serverException(err)
	}
	return &ecrwire.GetRegistryScanningConfigurationResponse{RegistryId: sc.account, ScanningConfiguration: &rec.Scanning}, nil
}

// scanOnPushFilters returns the registry rules' filters that make pushes
// to repo scanned.
func scanOnPushFilters(cfg ecrwire.RegistryScanningConfiguration, repo string) []ecrwire.ScanningRepositoryFilter {
	var out []ecrwire.ScanningRepositoryFilter
	for _, r := range cfg.Rules {
		if r.ScanFrequency != scanOnPush {
			continue
		}
		for _, f := range r.RepositoryFilters {
			if matchWildcard(f.Filter, repo) {
				out = append(out, f)
			}
		}
	}
	return out
}

// scansOnPush reports whether a push to the repository is scanned: by its
// own setting or by a registry rule.
func (s *Service) scansOnPush(rec repoRecord) bool {
	if c := rec.Repository.ImageScanningConfiguration; c != nil && c.ScanOnPush {
		return true
	}
	reg, err := s.registrySettings(scope{account: rec.Account, region: rec.Region})
	return err == nil && len(scanOnPushFilters(reg.Scanning, rec.Repository.RepositoryName)) > 0
}

// BatchGetRepositoryScanningConfiguration reports how each repository is scanned.
func (s *Service) BatchGetRepositoryScanningConfiguration(ctx context.Context, in *ecrwire.BatchGetRepositoryScanningConfigurationRequest) (*ecrwire.BatchGetRepositoryScanningConfigurationResponse, error) {
	sc := scopeOf(ctx)
	reg, err := s.registrySettings(sc)
	if err != nil {
		return nil, serverException(err)
	}
	out := &ecrwire.BatchGetRepositoryScanningConfigurationResponse{
		ScanningConfigurations: []ecrwire.RepositoryScanningConfiguration{}, Failures: []ecrwire.RepositoryScanningConfigurationFailure{},
	}
	for _, name := range in.RepositoryNames {
		rec, err := s.viewRepo(ctx, "", name)
		if err != nil {
			out.Failures = append(out.Failures, ecrwire.RepositoryScanningConfigurationFailure{RepositoryName: name, FailureCode: "REPOSITORY_NOT_FOUND", FailureReason: "REPOSITORY_NOT_FOUND"})
			continue
		}
		filters := scanOnPushFilters(reg.Scanning, name)
		onPush := s.scansOnPush(rec)
		freq := scanManual
		if onPush {
			freq = scanOnPush
		}
		out.ScanningConfigurations = append(out.ScanningConfigurations, ecrwire.RepositoryScanningConfiguration{
			RepositoryArn: rec.Repository.RepositoryArn, RepositoryName: name, ScanOnPush: onPush, ScanFrequency: freq, AppliedScanFilters: filters,
		})
	}
	return out, nil
}
