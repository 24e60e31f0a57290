package ecr

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/kumo-project/kumo/internal/protocol"
	"github.com/kumo-project/kumo/internal/registry"
	"github.com/kumo-project/kumo/internal/store"
	"github.com/kumo-project/kumo/internal/wire/ecrwire"
	"github.com/opencontainers/go-digest"
)

var prefixRE = regexp.MustCompile(`^` + namePattern + `$`)

// upstreamHost strips a scheme and trailing slashes from an upstream URL.
func upstreamHost(url string) string {
	url = strings.TrimPrefix(strings.TrimPrefix(url, "https://"), "http://")
	return strings.TrimRight(url, "/")
}

// CreatePullThroughCacheRule makes pulls of <prefix>/<repo>:<tag> fetch
// <upstream>/<repo>:<tag> the first time and serve the cached copy after.
func (s *Service) CreatePullThroughCacheRule(ctx context.Context, in *ecrwire.CreatePullThroughCacheRuleRequest) (*ecrwire.CreatePullThroughCacheRuleResponse, error) {
	sc := scopeOf(ctx)
	if err := sc.checkRegistryID(in.RegistryId); err != nil {
		return nil, err
	}
	if len(in.EcrRepositoryPrefix) < 2 || len(in.EcrRepositoryPrefix) > 30 || !prefixRE.MatchString(in.EcrRepositoryPrefix) {
		return nil, invalidParameter("Invalid parameter at 'ecrRepositoryPrefix' failed to satisfy constraint: 'must satisfy regular expression '%s'' and be 2 to 30 characters", namePattern)
	}
	host := upstreamHost(in.UpstreamRegistryUrl)
	if host == "" || strings.ContainsAny(host, " /") {
		return nil, invalidParameter("Invalid parameter at 'upstreamRegistryUrl': %q is not a registry host", in.UpstreamRegistryUrl)
	}
	rule := ecrwire.PullThroughCacheRule{
		EcrRepositoryPrefix: in.EcrRepositoryPrefix, UpstreamRegistryUrl: host, CreatedAt: protocol.NewTimestamp(s.clock.Now()),
		RegistryId: sc.account, UpstreamRegistry: in.UpstreamRegistry, CredentialArn: in.CredentialArn,
		CustomRoleArn: in.CustomRoleArn, UpstreamRepositoryPrefix: in.UpstreamRepositoryPrefix,
	}
	err := s.store.Update(func(tx *store.Tx) error {
		if _, ok, err := store.Get[ruleRecord](tx, tableRules, in.EcrRepositoryPrefix); err != nil || ok {
			if err != nil {
				return serverException(err)
			}
			return protocol.ClientError("PullThroughCacheRuleAlreadyExistsException",
				"A pull through cache rule with prefix '%s' already exists in the registry with id '%s'", in.EcrRepositoryPrefix, sc.account)
		}
		return tx.Put(tableRules, in.EcrRepositoryPrefix, ruleRecord{Account: sc.account, Region: sc.region, Rule: rule})
	})
	if err != nil {
		return nil, err
	}
	return &ecrwire.CreatePullThroughCacheRuleResponse{
		EcrRepositoryPrefix: rule.EcrRepositoryPrefix, UpstreamRegistryUrl: rule.UpstreamRegistryUrl, CreatedAt: rule.CreatedAt,
		RegistryId: rule.RegistryId, UpstreamRegistry: rule.UpstreamRegistry, CredentialArn: rule.CredentialArn,
		CustomRoleArn: rule.CustomRoleArn, UpstreamRepositoryPrefix: rule.UpstreamRepositoryPrefix,
	}, nil
}

// scopeRules lists the caller's pull-through cache rules by prefix.
func (s *Service) scopeRules(sc scope) ([]ecrwire.PullThroughCacheRule, error) {
	out := []ecrwire.PullThroughCacheRule{} // AWS answers [] when there are none
	err := s.store.View(func(tx *store.Tx) error {
		all, err := store.List[ruleRecord](tx, tableRules, "")
		for _, r := range all {
			if r.Account == sc.account && r.Region == sc.region {
				out = append(out, r.Rule)
			}
		}
		return err
	})
	return out, err
}

// rule reads the pull-through cache rule of prefix in the caller's scope.
func (sc scope) rule(tx *store.Tx, prefix string) (ruleRecord, error) {
	rec, ok, err := store.Get[ruleRecord](tx, tableRules, prefix)
	if err != nil {
		return rec, serverException(err)
	}
	if !ok || rec.Account != sc.account || rec.Region != sc.region {
		return rec, ruleNotFound(prefix, sc.account)
	}
	return rec, nil
}

// viewRule reads one rule of the caller's registry.
func (s *Service) viewRule(ctx context.Context, registryID, prefix string) (ecrwire.PullThroughCacheRule, error) {
	sc := scopeOf(ctx)
	if err := sc.checkRegistryID(registryID); err != nil {
		return ecrwire.PullThroughCacheRule{}, err
	}
	var rec ruleRecord
	err := s.store.View(func(tx *store.Tx) (err error) {
		rec, err = sc.rule(tx, prefix)
		return err
	})
	return rec.Rule, err
}

// DescribePullThroughCacheRules lists rules, or the named ones.
func (s *Service) DescribePullThroughCacheRules(ctx context.Context, in *ecrwire.DescribePullThroughCacheRulesRequest) (*ecrwire.DescribePullThroughCacheRulesResponse, error) {
	sc := scopeOf(ctx)
	if err := sc.checkRegistryID(in.RegistryId); err != nil {
		return nil, err
	}
	rules, err := s.describedRules(ctx, sc, in.EcrRepositoryPrefixes)
	if err != nil {
		return nil, err
	}
	page, next, err := protocol.Page(rules, in.NextToken, maxResults(in.MaxResults, 100), func(r ecrwire.PullThroughCacheRule) string { return r.EcrRepositoryPrefix }, "InvalidParameterException")
	if err != nil {
		return nil, err
	}
	return &ecrwire.DescribePullThroughCacheRulesResponse{PullThroughCacheRules: page, NextToken: next}, nil
}

// describedRules returns the named rules, or all of the caller's.
func (s *Service) describedRules(ctx context.Context, sc scope, prefixes []string) ([]ecrwire.PullThroughCacheRule, error) {
	if len(prefixes) == 0 {
		rules, err := s.scopeRules(sc)
		if err != nil {
			return nil, serverException(err)
		}
		return rules, nil
	}
	rules := make([]ecrwire.PullThroughCacheRule, 0, len(prefixes))
	for _, p := range prefixes {
		r, err := s.viewRule(ctx, "", p)
		if err != nil {
			return nil, err
		}
		rules = append(rules, r)
	}
	return rules, nil
}

// DeletePullThroughCacheRule deletes a rule; repositories it created stay.
func (s *Service) DeletePullThroughCacheRule(ctx context.Context, in *ecrwire.DeletePullThroughCacheRuleRequest) (*ecrwire.DeletePullThroughCacheRuleResponse, error) {
	sc := scopeOf(ctx)
	if err := sc.checkRegistryID(in.RegistryId); err != nil {
		return nil, err
	}
	var rec ruleRecord
	err := s.store.Update(func(tx *store.Tx) (err error) {
		if rec, err = sc.rule(tx, in.EcrRepositoryPrefix); err != nil {
			return err
		}
		return tx.Delete(tableRules, in.EcrRepositoryPrefix)
	})
	if err != nil {
		return nil, err
	}
	r := rec.Rule
	return &ecrwire.DeletePullThroughCacheRuleResponse{
		EcrRepositoryPrefix: r.EcrRepositoryPrefix, UpstreamRegistryUrl: r.UpstreamRegistryUrl, CreatedAt: r.CreatedAt,
		RegistryId: r.RegistryId, CredentialArn: r.CredentialArn, CustomRoleArn: r.CustomRoleArn,
		UpstreamRepositoryPrefix: r.UpstreamRepositoryPrefix,
	}, nil
}

// manifestPath splits /v2/<name>/manifests/<ref>.
func manifestPath(p string) (repo, ref string, ok bool) {
	rest, ok := strings.CutPrefix(p, "/v2/")
	if !ok {
		return "", "", false
	}
	i := strings.LastIndex(rest, "/manifests/")
	if i <= 0 {
		return "", "", false
	}
	return rest[:i], rest[i+len("/manifests/"):], true
}

// pullThrough fetches a manifest from the upstream of a pull-through cache
// rule before the registry answers a pull of it, if the registry lacks it.
func (s *Service) pullThrough(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			if repo, ref, ok := manifestPath(r.URL.Path); ok {
				if err := s.fetchForPull(r, repo, ref); err != nil {
					s.log.Warn("ecr: pull through cache", "repository", repo, "reference", ref, "err", err)
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// authenticated reports whether a registry request may trigger an
// upstream fetch: it carries valid credentials, or none are required, as
// the registry checks before it serves the request; a request with a
// forged token must not make kumo fetch and store upstream images.
func (s *Service) authenticated(r *http.Request) bool {
	_, ok := registry.Authenticate(s.auth, r)
	return ok
}

// ruleFor finds the pull-through cache rule whose prefix repo starts
// with; the longest prefix when several do ("hub" and "hub/library").
func (s *Service) ruleFor(repo string) (ruleRecord, bool, error) {
	var found ruleRecord
	var ok bool
	err := s.store.View(func(tx *store.Tx) error {
		all, err := store.List[ruleRecord](tx, tableRules, "")
		for _, r := range all {
			prefix := r.Rule.EcrRepositoryPrefix
			if strings.HasPrefix(repo, prefix+"/") && len(prefix) > len(found.Rule.EcrRepositoryPrefix) {
				found, ok = r, true
			}
		}
		return err
	})
	return found, ok, err
}

// fetchForPull caches repo:ref from its rule's upstream before the
// registry answers the pull r, when a rule covers repo, the image is not
// cached yet and r carries valid credentials (or none are required).
// Checked in that order, so pulls of other images pay nothing more.
func (s *Service) fetchForPull(r *http.Request, repo, ref string) error {
	rule, ok, err := s.ruleFor(repo)
	if err != nil || !ok {
		return err
	}
	if _, err := s.registry.Image(r.Context(), repo, ref); err == nil || !s.authenticated(r) {
		return nil
	}
	return s.cacheFromUpstream(r.Context(), rule, repo, ref)
}

// cacheFromUpstream copies repo:ref from the rule's upstream registry into
// the registry, creating the repository, unless another pull has meanwhile.
func (s *Service) cacheFromUpstream(ctx context.Context, rule ruleRecord, repo, ref string) error {
	s.fetchMu.Lock()
	defer s.fetchMu.Unlock()
	if _, err := s.registry.Image(ctx, repo, ref); err == nil {
		return nil // fetched meanwhile
	}
	if err := s.ensureCacheRepo(rule, repo); err != nil {
		return err
	}
	upRef, err := upstreamReference(rule.Rule, repo, ref)
	if err != nil {
		return err
	}
	ropts := []remote.Option{remote.WithContext(ctx)}
	if s.cfg.UpstreamTransport != nil {
		ropts = append(ropts, remote.WithTransport(s.cfg.UpstreamTransport))
	}
	desc, err := remote.Get(upRef, ropts...)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", upRef, err)
	}
	return s.copyDescriptor(ctx, repo, ref, desc)
}

// upstreamReference names what a pull of repo:ref (or repo@digest) fetches
// under rule: the repository without the rule's prefix, under the
// upstream's repository prefix when one is set, over plain HTTP for a
// loopback upstream.
func upstreamReference(rule ecrwire.PullThroughCacheRule, repo, ref string) (name.Reference, error) {
	path := strings.TrimPrefix(repo, rule.EcrRepositoryPrefix+"/")
	if p := rule.UpstreamRepositoryPrefix; p != "" && p != "ROOT" {
		path = p + "/" + path
	}
	sep := ":"
	if strings.Contains(ref, ":") {
		sep = "@"
	}
	var opts []name.Option
	if isLoopback(rule.UpstreamRegistryUrl) {
		opts = append(opts, name.Insecure)
	}
	upRef, err := name.ParseReference(rule.UpstreamRegistryUrl+"/"+path+sep+ref, opts...)
	if err != nil {
		return nil, fmt.Errorf("upstream reference for %s:%s: %w", repo, ref, err)
	}
	return upRef, nil
}

// ensureCacheRepo creates the repository a pull-through rule caches into.
func (s *Service) ensureCacheRepo(rule ruleRecord, repo string) error {
	if err := validateName(repo); err != nil {
		return err
	}
	sc := scope{account: rule.Account, region: rule.Region}
	rec := s.newRepository(sc, &ecrwire.CreateRepositoryRequest{RepositoryName: repo})
	// Ordered with CreateRepository, which clears the registry's data of a
	// name before recording it.
	s.reposMu.Lock()
	defer s.reposMu.Unlock()
	return s.store.Update(func(tx *store.Tx) error {
		if _, ok, err := store.Get[repoRecord](tx, tableRepos, repo); err != nil || ok {
			return err
		}
		return tx.Put(tableRepos, repo, rec)
	})
}

// copyDescriptor stores an upstream image or index (with its children) under ref.
func (s *Service) copyDescriptor(ctx context.Context, repo, ref string, desc *remote.Descriptor) error {
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return err
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return err
		}
		for _, child := range im.Manifests {
			img, err := idx.Image(child.Digest)
			if err != nil {
				return err
			}
			if err := s.copyImage(ctx, repo, child.Digest.String(), img); err != nil {
				return err
			}
		}
		_, err = s.registry.PutManifest(ctx, repo, ref, string(desc.MediaType), desc.Manifest)
		return err
	}
	img, err := desc.Image()
	if err != nil {
		return err
	}
	return s.copyImage(ctx, repo, ref, img)
}

// copyImage stores an upstream image's config, layers and manifest.
func (s *Service) copyImage(ctx context.Context, repo, ref string, img v1.Image) error {
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	for _, l := range layers {
		if err := s.copyLayer(ctx, repo, l); err != nil {
			return err
		}
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return err
	}
	cfgDigest, err := img.ConfigName()
	if err != nil {
		return err
	}
	if _, err := s.registry.PutBlob(ctx, repo, digest.Digest(cfgDigest.String()), strings.NewReader(string(cfg))); err != nil {
		return err
	}
	raw, err := img.RawManifest()
	if err != nil {
		return err
	}
	mt, err := img.MediaType()
	if err != nil {
		return err
	}
	_, err = s.registry.PutManifest(ctx, repo, ref, string(mt), raw)
	return err
}

// copyLayer stores one compressed layer blob, unless the repository has it.
func (s *Service) copyLayer(ctx context.Context, repo string, l v1.Layer) error {
	h, err := l.Digest()
	if err != nil {
		return err
	}
	d := digest.Digest(h.String())
	if _, err := s.registry.BlobSize(ctx, repo, d); err == nil {
		return nil
	}
	rc, err := l.Compressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = s.registry.PutBlob(ctx, repo, d, rc)
	return err
}

// UpdatePullThroughCacheRule changes a rule's credential and role ARNs
// (recorded; kumo does not use them yet).
func (s *Service) UpdatePullThroughCacheRule(ctx context.Context, in *ecrwire.UpdatePullThroughCacheRuleRequest) (*ecrwire.UpdatePullThroughCacheRuleResponse, error) {
	sc := scopeOf(ctx)
	if err := sc.checkRegistryID(in.RegistryId); err != nil {
		return nil, err
	}
	var rule ecrwire.PullThroughCacheRule
	err := s.store.Update(func(tx *store.Tx) error {
		rec, err := sc.rule(tx, in.EcrRepositoryPrefix)
		if err != nil {
			return err
		}
		if in.CredentialArn != "" {
			rec.Rule.CredentialArn = in.CredentialArn
		}
		if in.CustomRoleArn != "" {
			rec.Rule.CustomRoleArn = in.CustomRoleArn
		}
		rec.Rule.UpdatedAt = protocol.NewTimestamp(s.clock.Now())
		rule = rec.Rule
		return tx.Put(tableRules, in.EcrRepositoryPrefix, rec)
	})
	if err != nil {
		return nil, err
	}
	return &ecrwire.UpdatePullThroughCacheRuleResponse{
		EcrRepositoryPrefix: rule.EcrRepositoryPrefix, RegistryId: rule.RegistryId, UpdatedAt: rule.UpdatedAt,
		CredentialArn: rule.CredentialArn, CustomRoleArn: rule.CustomRoleArn, UpstreamRepositoryPrefix: rule.UpstreamRepositoryPrefix,
	}, nil
}

// ValidatePullThroughCacheRule checks that the rule's upstream answers the
// registry API's base endpoint (/v2/ with 200, or 401 asking for credentials).
func (s *Service) ValidatePullThroughCacheRule(ctx context.Context, in *ecrwire.ValidatePullThroughCacheRuleRequest) (*ecrwire.ValidatePullThroughCacheRuleResponse, error) {
	rule, err := s.viewRule(ctx, in.RegistryId, in.EcrRepositoryPrefix)
	if err != nil {
		return nil, err
	}
	out := &ecrwire.ValidatePullThroughCacheRuleResponse{
		EcrRepositoryPrefix: rule.EcrRepositoryPrefix, RegistryId: rule.RegistryId, UpstreamRegistryUrl: rule.UpstreamRegistryUrl,
		CredentialArn: rule.CredentialArn, CustomRoleArn: rule.CustomRoleArn, UpstreamRepositoryPrefix: rule.UpstreamRepositoryPrefix,
	}
	if err := s.pingUpstream(ctx, rule.UpstreamRegistryUrl); err != nil {
		out.Failure = err.Error()
	} else {
		out.IsValid = true
	}
	return out, nil
}

// pingUpstream asks an upstream registry's /v2/ whether it speaks the registry API.
func (s *Service) pingUpstream(ctx context.Context, host string) error {
	scheme := "https"
	if isLoopback(host) {
		scheme = "http"
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+host+"/v2/", nil)
	if err != nil {
		return err
	}
	client := &http.Client{Transport: s.cfg.UpstreamTransport}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("upstream registry %s is not reachable: %w", host, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusUnauthorized {
		return fmt.Errorf("upstream registry %s answered /v2/ with %s", host, resp.Status)
	}
	return nil
}
