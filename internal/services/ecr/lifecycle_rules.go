package ecr

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// lifecyclePolicy is a lifecycle policy document.
type lifecyclePolicy struct {
	Rules []lifecycleRule `json:"rules"`
}

type lifecycleRule struct {
	RulePriority int             `json:"rulePriority"`
	Description  string          `json:"description,omitempty"`
	Selection    lifecycleSelect `json:"selection"`
	Action       lifecycleAction `json:"action"`
}

type lifecycleSelect struct {
	TagStatus      string   `json:"tagStatus"`
	TagPrefixList  []string `json:"tagPrefixList,omitempty"`
	TagPatternList []string `json:"tagPatternList,omitempty"`
	CountType      string   `json:"countType"`
	CountUnit      string   `json:"countUnit,omitempty"`
	CountNumber    int      `json:"countNumber"`
}

type lifecycleAction struct {
	Type string `json:"type"`
}

// Selection values of lifecycle rules.
const (
	ruleTagged         = "tagged"
	ruleUntagged       = "untagged"
	ruleAny            = "any"
	countMoreThan      = "imageCountMoreThan"
	countSincePushed   = "sinceImagePushed"
	maxPatternWildcard = 4
)

// parseLifecyclePolicy decodes and validates a policy by ECR's documented
// rules, returning the rules in priority order.
func parseLifecyclePolicy(text string) (lifecyclePolicy, error) {
	var p lifecyclePolicy
	dec := json.NewDecoder(bytes.NewReader([]byte(text)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return p, lifecycleInvalid("invalid JSON: %v", err)
	}
	if len(p.Rules) == 0 {
		return p, lifecycleInvalid("'rules' must contain at least one rule")
	}
	sort.SliceStable(p.Rules, func(i, j int) bool { return p.Rules[i].RulePriority < p.Rules[j].RulePriority })
	untagged := 0
	for i, r := range p.Rules {
		if err := validateRule(r); err != nil {
			return p, err
		}
		if i > 0 && p.Rules[i-1].RulePriority == r.RulePriority {
			return p, lifecycleInvalid("'rulePriority' %d is used by more than one rule", r.RulePriority)
		}
		if r.Selection.TagStatus == ruleAny && i != len(p.Rules)-1 {
			return p, lifecycleInvalid("the rule with tagStatus 'any' must have the highest 'rulePriority'")
		}
		if r.Selection.TagStatus == ruleUntagged {
			untagged++
		}
	}
	if untagged > 1 {
		return p, lifecycleInvalid("only one rule may select untagged images")
	}
	return p, nil
}

func lifecycleInvalid(format string, args ...any) error {
	return invalidParameter("Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure: %s'", fmt.Sprintf(format, args...))
}

// validateRule checks one rule's members.
func validateRule(r lifecycleRule) error {
	sel := r.Selection
	if r.RulePriority < 1 {
		return lifecycleInvalid("'rulePriority' must be a positive integer")
	}
	if !strings.EqualFold(r.Action.Type, "expire") {
		return lifecycleInvalid("'action.type' must be 'expire'")
	}
	lists := len(sel.TagPrefixList) + len(sel.TagPatternList)
	switch sel.TagStatus {
	case ruleTagged:
		if (len(sel.TagPrefixList) == 0) == (len(sel.TagPatternList) == 0) {
			return lifecycleInvalid("a rule with tagStatus 'tagged' needs either 'tagPrefixList' or 'tagPatternList'")
		}
	case ruleUntagged, ruleAny:
		if lists > 0 {
			return lifecycleInvalid("'tagPrefixList' and 'tagPatternList' are only allowed with tagStatus 'tagged'")
		}
	default:
		return lifecycleInvalid("'tagStatus' must be one of tagged, untagged, any")
	}
	for _, pat := range sel.TagPatternList {
		if strings.Count(pat, "*") > maxPatternWildcard || pat == "" {
			return lifecycleInvalid("tag pattern %q must not be empty or have more than %d wildcards", pat, maxPatternWildcard)
		}
	}
	if sel.CountNumber < 1 {
		return lifecycleInvalid("'countNumber' must be a positive integer")
	}
	switch sel.CountType {
	case countMoreThan:
		if sel.CountUnit != "" {
			return lifecycleInvalid("'countUnit' is not allowed with countType 'imageCountMoreThan'")
		}
	case countSincePushed:
		if sel.CountUnit != "days" {
			return lifecycleInvalid("'countUnit' must be 'days' with countType 'sinceImagePushed'")
		}
	default:
		return lifecycleInvalid("'countType' must be imageCountMoreThan or sinceImagePushed")
	}
	return nil
}

// lifecycleImage is what the lifecycle evaluator knows of an image.
type lifecycleImage struct {
	Digest   string
	Tags     []string
	PushedAt time.Time
}

// expiry is an image a rule expires.
type expiry struct {
	Image    lifecycleImage
	Priority int
}

// evaluateLifecycle decides which images the policy expires at now, by
// ECR's documented rules: rules in priority order; a rule identifies the
// images its tag selection matches (including ones an earlier rule already
// expires, which still count) and expires, oldest first, those beyond
// countNumber or pushed more than countNumber days ago; but an image that
// matches the selection of an earlier rule is never expired by a later one,
// so each image is expired by at most one rule. Results are oldest first.
func evaluateLifecycle(p lifecyclePolicy, images []lifecycleImage, now time.Time) []expiry {
	claimed := map[string]bool{} // selected by an earlier rule
	var out []expiry
	for _, r := range p.Rules {
		selected := selectImages(r.Selection, images)
		for _, im := range expiredBy(r.Selection, selected, now) {
			if !claimed[im.Digest] {
				out = append(out, expiry{Image: im, Priority: r.RulePriority})
			}
		}
		for _, im := range selected {
			claimed[im.Digest] = true
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return olderFirst(out[i].Image, out[j].Image) })
	return out
}

func olderFirst(a, b lifecycleImage) bool {
	if !a.PushedAt.Equal(b.PushedAt) {
		return a.PushedAt.Before(b.PushedAt)
	}
	return a.Digest < b.Digest
}

// selectImages returns the images sel's tag requirements match.
func selectImages(sel lifecycleSelect, images []lifecycleImage) []lifecycleImage {
	var out []lifecycleImage
	for _, im := range images {
		if tagsMatch(sel, im.Tags) {
			out = append(out, im)
		}
	}
	return out
}

// tagsMatch applies tagStatus and the prefix or pattern list: every entry
// of the list must match at least one of the image's tags.
func tagsMatch(sel lifecycleSelect, tags []string) bool {
	switch sel.TagStatus {
	case ruleUntagged:
		return len(tags) == 0
	case ruleAny:
		return true
	}
	if len(tags) == 0 {
		return false
	}
	for _, p := range sel.TagPrefixList {
		if !anyTag(tags, func(t string) bool { return strings.HasPrefix(t, p) }) {
			return false
		}
	}
	for _, p := range sel.TagPatternList {
		if !anyTag(tags, func(t string) bool { return matchWildcard(p, t) }) {
			return false
		}
	}
	return true
}

func anyTag(tags []string, match func(string) bool) bool {
	for _, t := range tags {
		if match(t) {
			return true
		}
	}
	return false
}

// expiredBy returns the selected images the rule's count expires, oldest first.
func expiredBy(sel lifecycleSelect, selected []lifecycleImage, now time.Time) []lifecycleImage {
	sorted := append([]lifecycleImage(nil), selected...)
	sort.SliceStable(sorted, func(i, j int) bool { return olderFirst(sorted[j], sorted[i]) }) // newest first
	var out []lifecycleImage
	for i, im := range sorted {
		switch sel.CountType {
		case countMoreThan:
			if i >= sel.CountNumber {
				out = append(out, im)
			}
		case countSincePushed:
			if now.Sub(im.PushedAt) > time.Duration(sel.CountNumber)*24*time.Hour {
				out = append(out, im)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return olderFirst(out[i], out[j]) })
	return out
}
