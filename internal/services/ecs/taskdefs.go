package ecs

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/kumo-project/kumo/internal/arn"
	"github.com/kumo-project/kumo/internal/protocol"
	"github.com/kumo-project/kumo/internal/store"
	"github.com/kumo-project/kumo/internal/wire/ecswire"
)

// Task definition statuses.
const (
	tdActive           = "ACTIVE"
	tdInactive         = "INACTIVE"
	tdDeleteInProgress = "DELETE_IN_PROGRESS"
)

func revisionKey(rev int32) string { return fmt.Sprintf("%010d", rev) }

func (sc scope) taskDefARN(family string, rev int32) string {
	return arn.New("ecs", sc.region, sc.account, fmt.Sprintf("task-definition/%s:%d", family, rev))
}

// taskDefRef is what a taskDefinition parameter names: a family (its latest
// ACTIVE revision), family:revision, or a full ARN.
type taskDefRef struct {
	family   string
	revision int32 // 0: latest ACTIVE
}

func parseTaskDefRef(ref string) (taskDefRef, error) {
	s := ref
	if arn.IsARN(ref) {
		a, err := arn.Parse(ref)
		rest, ok := cutPrefix(a.Resource, "task-definition/")
		if err != nil || !ok {
			return taskDefRef{}, clientException("Invalid revision number. Number: %s", ref)
		}
		s = rest
	}
	family, rev, hasRev := strings.Cut(s, ":")
	r := taskDefRef{family: family}
	if hasRev {
		n, err := strconv.Atoi(rev)
		if err != nil || n < 1 {
			return r, clientException("Invalid revision number. Number: %s", rev)
		}
		r.revision = int32(n)
	}
	if family == "" {
		return r, clientException("Invalid family name: %q", ref)
	}
	return r, nil
}

// findTaskDef reads the revision ref names. Without a revision it is the
// latest ACTIVE one.
func findTaskDef(tx *store.Tx, sc scope, ref string) (taskDefRecord, error) {
	r, err := parseTaskDefRef(ref)
	if err != nil {
		return taskDefRecord{}, err
	}
	if r.revision > 0 {
		td, ok, err := store.Get[taskDefRecord](tx, tableTaskDefs, sc.key(r.family, revisionKey(r.revision)))
		if err != nil {
			return td, serverException(err)
		}
		if !ok || td.TaskDefinition.Status == tdDeleteInProgress {
			return td, clientException("Unable to describe task definition.")
		}
		return td, nil
	}
	all, err := store.List[taskDefRecord](tx, tableTaskDefs, sc.key(r.family)+"/")
	if err != nil {
		return taskDefRecord{}, serverException(err)
	}
	for i := len(all) - 1; i >= 0; i-- {
		if all[i].TaskDefinition.Status == tdActive {
			return all[i], nil
		}
	}
	return taskDefRecord{}, clientException("Unable to describe task definition.")
}

// RegisterTaskDefinition validates a task definition as ECS does and stores
// it as the family's next revision.
func (s *Service) RegisterTaskDefinition(ctx context.Context, in *ecswire.RegisterTaskDefinitionRequest) (*ecswire.RegisterTaskDefinitionResponse, error) {
	sc := scopeOf(ctx)
	td, err := normalizeTaskDefinition(in)
	if err != nil {
		return nil, err
	}
	if err := validateTags(in.Tags); err != nil {
		return nil, err
	}
	td.Status = tdActive
	td.RegisteredAt = protocol.NewTimestamp(s.clock.Now())
	td.RegisteredBy = arn.New("iam", "", sc.account, "root")
	err = s.store.Update(func(tx *store.Tx) error {
		fam, _, err := store.Get[familyRecord](tx, tableFamilies, sc.key(td.Family))
		if err != nil {
			return err
		}
		fam.LastRevision++
		td.Revision = fam.LastRevision
		td.TaskDefinitionArn = sc.taskDefARN(td.Family, td.Revision)
		if err := tx.Put(tableFamilies, sc.key(td.Family), fam); err != nil {
			return err
		}
		return tx.Put(tableTaskDefs, sc.key(td.Family, revisionKey(td.Revision)), taskDefRecord{TaskDefinition: *td, Tags: in.Tags})
	})
	if err != nil {
		return nil, serverException(err)
	}
	return &ecswire.RegisterTaskDefinitionResponse{TaskDefinition: td, Tags: in.Tags}, nil
}

// DescribeTaskDefinition describes one revision; include TAGS adds its tags.
func (s *Service) DescribeTaskDefinition(ctx context.Context, in *ecswire.DescribeTaskDefinitionRequest) (*ecswire.DescribeTaskDefinitionResponse, error) {
	sc := scopeOf(ctx)
	var td taskDefRecord
	err := s.store.View(func(tx *store.Tx) error {
		var err error
		td, err = findTaskDef(tx, sc, in.TaskDefinition)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := &ecswire.DescribeTaskDefinitionResponse{TaskDefinition: &td.TaskDefinition}
	if contains(in.Include, "TAGS") {
		out.Tags = td.Tags
		if out.Tags == nil {
			out.Tags = []ecswire.Tag{}
		}
	}
	return out, nil
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// allTaskDefs lists every revision in the scope, by family then revision.
func (s *Service) allTaskDefs(sc scope) ([]taskDefRecord, error) {
	var all []taskDefRecord
	err := s.store.View(func(tx *store.Tx) error {
		var err error
		all, err = store.List[taskDefRecord](tx, tableTaskDefs, sc.key())
		return err
	})
	if err != nil {
		return nil, serverException(err)
	}
	return all, nil
}

// ListTaskDefinitions lists revision ARNs, filtered by family and status,
// sorted by family and revision.
func (s *Service) ListTaskDefinitions(ctx context.Context, in *ecswire.ListTaskDefinitionsRequest) (*ecswire.ListTaskDefinitionsResponse, error) {
	sc := scopeOf(ctx)
	max, err := maxResults(in.MaxResults, 100)
	if err != nil {
		return nil, err
	}
	status := in.Status
	if status == "" {
		status = tdActive
	}
	all, err := s.allTaskDefs(sc)
	if err != nil {
		return nil, err
	}
	type entry struct{ key, arn string }
	var entries []entry
	for _, r := range all {
		td := r.TaskDefinition
		if in.FamilyPrefix != "" && td.Family != in.FamilyPrefix || td.Status != status {
			continue
		}
		entries = append(entries, entry{key: td.Family + ":" + revisionKey(td.Revision), arn: td.TaskDefinitionArn})
	}
	keyOf := func(e entry) string { return e.key }
	if in.Sort == "DESC" {
		// Reverse order with keys that still sort ascending for the token.
		sort.Slice(entries, func(i, j int) bool { return entries[i].key > entries[j].key })
		keyOf = func(e entry) string { return invertKey(e.key) }
	}
	page, next, err := protocol.Page(entries, in.NextToken, max, keyOf, "InvalidParameterException")
	if err != nil {
		return nil, err
	}
	out := &ecswire.ListTaskDefinitionsResponse{NextToken: next, TaskDefinitionArns: []string{}}
	for _, e := range page {
		out.TaskDefinitionArns = append(out.TaskDefinitionArns, e.arn)
	}
	return out, nil
}

// invertKey maps a string to one that sorts in the opposite order, for
// paging through a descending list with ascending tokens.
func invertKey(s string) string {
	b := []byte(s)
	for i := range b {
		b[i] = 0xff - b[i]
	}
	return string(b) + "\xff"
}

// ListTaskDefinitionFamilies lists family names. A family is ACTIVE when one
// of its revisions is, INACTIVE when all are inactive.
func (s *Service) ListTaskDefinitionFamilies(ctx context.Context, in *ecswire.ListTaskDefinitionFamiliesRequest) (*ecswire.ListTaskDefinitionFamiliesResponse, error) {
	sc := scopeOf(ctx)
	max, err := maxResults(in.MaxResults, 100)
	if err != nil {
		return nil, err
	}
	status := in.Status
	if status == "" {
		status = tdActive
	}
	all, err := s.allTaskDefs(sc)
	if err != nil {
		return nil, err
	}
	active := map[string]bool{}
	var families []string
	for _, r := range all {
		td := r.TaskDefinition
		if !strings.HasPrefix(td.Family, in.FamilyPrefix) || td.Status == tdDeleteInProgress {
			continue
		}
		if _, seen := active[td.Family]; !seen {
			families = append(families, td.Family)
			active[td.Family] = false
		}
		active[td.Family] = active[td.Family] || td.Status == tdActive
	}
	var matched []string
	for _, f := range families {
		if status == "ALL" || (status == tdActive) == active[f] {
			matched = append(matched, f)
		}
	}
	page, next, err := pageOfNames(matched, in.NextToken, max)
	if err != nil {
		return nil, err
	}
	return &ecswire.ListTaskDefinitionFamiliesResponse{Families: page, NextToken: next}, nil
}

// DeregisterTaskDefinition marks one revision INACTIVE: it can no longer run
// new tasks, but existing tasks keep it.
func (s *Service) DeregisterTaskDefinition(ctx context.Context, in *ecswire.DeregisterTaskDefinitionRequest) (*ecswire.DeregisterTaskDefinitionResponse, error) {
	sc := scopeOf(ctx)
	r, err := parseTaskDefRef(in.TaskDefinition)
	if err != nil {
		return nil, err
	}
	if r.revision == 0 {
		return nil, clientException("Invalid revision number. Number: %s", in.TaskDefinition)
	}
	var out ecswire.TaskDefinition
	err = s.store.Update(func(tx *store.Tx) error {
		td, err := findTaskDef(tx, sc, in.TaskDefinition)
		if err != nil {
			return err
		}
		if td.TaskDefinition.Status == tdActive {
			td.TaskDefinition.Status = tdInactive
			td.TaskDefinition.DeregisteredAt = protocol.NewTimestamp(s.clock.Now())
		}
		out = td.TaskDefinition
		return tx.Put(tableTaskDefs, sc.key(r.family, revisionKey(r.revision)), td)
	})
	if err != nil {
		return nil, err
	}
	return &ecswire.DeregisterTaskDefinitionResponse{TaskDefinition: &out}, nil
}

// DeleteTaskDefinitions deletes INACTIVE revisions (at most 10 per call);
// ACTIVE or unknown ones are reported as failures.
func (s *Service) DeleteTaskDefinitions(ctx context.Context, in *ecswire.DeleteTaskDefinitionsRequest) (*ecswire.DeleteTaskDefinitionsResponse, error) {
	sc := scopeOf(ctx)
	if len(in.TaskDefinitions) > 10 {
		return nil, invalidParameter("taskDefinitions can have at most 10 items.")
	}
	out := &ecswire.DeleteTaskDefinitionsResponse{TaskDefinitions: []ecswire.TaskDefinition{}, Failures: []ecswire.Failure{}}
	err := s.store.Update(func(tx *store.Tx) error {
		for _, ref := range in.TaskDefinitions {
			r, err := parseTaskDefRef(ref)
			if err != nil || r.revision == 0 {
				out.Failures = append(out.Failures, ecswire.Failure{Arn: ref, Reason: "The specified task definition identifier is invalid. Specify a valid name or ARN and try again."})
				continue
			}
			td, err := findTaskDef(tx, sc, ref)
			if err != nil {
				out.Failures = append(out.Failures, ecswire.Failure{Arn: sc.taskDefARN(r.family, r.revision), Reason: "TASK_DEFINITION_NOT_FOUND"})
				continue
			}
			if td.TaskDefinition.Status == tdActive {
				out.Failures = append(out.Failures, ecswire.Failure{Arn: td.TaskDefinition.TaskDefinitionArn,
					Reason: "The specified task definition is still in ACTIVE status. Please deregister the target and try again."})
				continue
			}
			td.TaskDefinition.Status = tdDeleteInProgress
			td.TaskDefinition.DeleteRequestedAt = protocol.NewTimestamp(s.clock.Now())
			out.TaskDefinitions = append(out.TaskDefinitions, td.TaskDefinition)
			// Running tasks keep a copy of what they need, so the revision can go at once.
			if err := tx.Delete(tableTaskDefs, sc.key(r.family, revisionKey(r.revision))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, serverException(err)
	}
	return out, nil
}
