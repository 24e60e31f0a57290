package elbv2

import (
	"context"
	"fmt"
	"sort"
	"strconv"

	"github.com/kumo-project/kumo/internal/protocol"
	"github.com/kumo-project/kumo/internal/store"
	"github.com/kumo-project/kumo/internal/wire/elbv2wire"
)

func isDefaultRule(r elbv2wire.Rule) bool { return r.IsDefault != nil && *r.IsDefault }

// CreateRule adds a rule with a priority not in use on the listener.
func (s *Service) CreateRule(ctx context.Context, in *elbv2wire.CreateRuleInput) (*elbv2wire.CreateRuleOutput, error) {
	sc := scopeOf(ctx)
	if in.Priority == nil || *in.Priority < 1 || *in.Priority > 50000 {
		return nil, validationError("A priority between 1 and 50000 must be specified")
	}
	conds, err := checkConditions(in.Conditions)
	if err != nil {
		return nil, err
	}
	if err := validateNewTags(in.Tags); err != nil {
		return nil, err
	}
	var out elbv2wire.Rule
	err = s.store.Update(func(tx *store.Tx) error {
		l, err := getListener(tx, sc, in.ListenerArn)
		if err != nil {
			return err
		}
		rules, err := store.List[ruleRecord](tx, tableRules, ruleARN(in.ListenerArn, ""))
		if err != nil {
			return internalError(err)
		}
		if len(rules) > 100 {
			return protocol.ClientError("TooManyRules", "You've reached the limit on the number of rules per listener")
		}
		if err := checkPriorityFree(rules, "", *in.Priority); err != nil {
			return err
		}
		actions, err := checkActions(tx, sc, l.Listener.LoadBalancerArn, in.Actions)
		if err != nil {
			return err
		}
		isDefault := false
		out = elbv2wire.Rule{RuleArn: ruleARN(in.ListenerArn, newResourceID()), Priority: strconv.Itoa(int(*in.Priority)),
			Conditions: conds, Actions: actions, IsDefault: &isDefault}
		return tx.Put(tableRules, out.RuleArn, ruleRecord{Rule: out, ListenerArn: in.ListenerArn, Tags: in.Tags})
	})
	if err != nil {
		return nil, err
	}
	s.nudge()
	return &elbv2wire.CreateRuleOutput{Rules: []elbv2wire.Rule{out}}, nil
}

func checkPriorityFree(rules []ruleRecord, self string, priority int32) error {
	p := strconv.Itoa(int(priority))
	for _, r := range rules {
		if r.Rule.RuleArn != self && r.Rule.Priority == p {
			return protocol.ClientError("PriorityInUse", "Priority '%d' is currently in use", priority)
		}
	}
	return nil
}

// DescribeRules lists a listener's rules in evaluation order (the default
// rule last), or rules by ARN.
func (s *Service) DescribeRules(ctx context.Context, in *elbv2wire.DescribeRulesInput) (*elbv2wire.DescribeRulesOutput, error) {
	sc := scopeOf(ctx)
	if (in.ListenerArn == "") == (len(in.RuleArns) == 0) {
		return nil, validationError("You must specify either listener ARN or rule ARNs")
	}
	var rules []elbv2wire.Rule
	err := s.store.View(func(tx *store.Tx) error {
		if in.ListenerArn != "" {
			if _, err := getListener(tx, sc, in.ListenerArn); err != nil {
				return err
			}
			all, err := listenerRules(tx, in.ListenerArn)
			for _, r := range all {
				rules = append(rules, r.Rule)
			}
			return err
		}
		for _, a := range in.RuleArns {
			r, err := getRule(tx, sc, a)
			if err != nil {
				return err
			}
			rules = append(rules, r.Rule)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	page, next, err := pageInOrder(rules, in.Marker, in.PageSize)
	if err != nil {
		return nil, err
	}
	return &elbv2wire.DescribeRulesOutput{Rules: page, NextMarker: next}, nil
}

// listenerRules returns a listener's rules by ascending priority, the
// default rule last.
func listenerRules(tx *store.Tx, listenerArn string) ([]ruleRecord, error) {
	rules, err := store.List[ruleRecord](tx, tableRules, ruleARN(listenerArn, ""))
	if err != nil {
		return nil, internalError(err)
	}
	sort.SliceStable(rules, func(i, j int) bool { return rulePriority(rules[i].Rule) < rulePriority(rules[j].Rule) })
	return rules, nil
}

func rulePriority(r elbv2wire.Rule) int {
	if isDefaultRule(r) {
		return 1 << 30
	}
	p, _ := strconv.Atoi(r.Priority)
	return p
}

// ModifyRule replaces a rule's conditions and/or actions. The default
// rule's actions are the listener's default actions.
func (s *Service) ModifyRule(ctx context.Context, in *elbv2wire.ModifyRuleInput) (*elbv2wire.ModifyRuleOutput, error) {
	sc := scopeOf(ctx)
	var out elbv2wire.Rule
	err := s.store.Update(func(tx *store.Tx) error {
		r, err := getRule(tx, sc, in.RuleArn)
		if err != nil {
			return err
		}
		if len(in.Conditions) > 0 {
			if isDefaultRule(r.Rule) {
				return operationNotPermitted("Conditions cannot be set on the default rule '%s'", in.RuleArn)
			}
			if r.Rule.Conditions, err = checkConditions(in.Conditions); err != nil {
				return err
			}
		}
		if len(in.Actions) > 0 {
			if r.Rule.Actions, err = checkActions(tx, sc, lbARNOfListener(r.ListenerArn), in.Actions); err != nil {
				return err
			}
			if isDefaultRule(r.Rule) {
				if err := setListenerDefaultActions(tx, r.ListenerArn, r.Rule.Actions); err != nil {
					return err
				}
			}
		}
		out = r.Rule
		return tx.Put(tableRules, in.RuleArn, r)
	})
	if err != nil {
		return nil, err
	}
	s.nudge()
	return &elbv2wire.ModifyRuleOutput{Rules: []elbv2wire.Rule{out}}, nil
}

func setListenerDefaultActions(tx *store.Tx, listenerArn string, actions []elbv2wire.Action) error {
	l, ok, err := store.Get[listenerRecord](tx, tableListeners, listenerArn)
	if err != nil || !ok {
		return internalError(fmt.Errorf("listener %s of a rule is missing: %v", listenerArn, err))
	}
	l.Listener.DefaultActions = actions
	return tx.Put(tableListeners, listenerArn, l)
}

// DeleteRule deletes a rule other than the default rule.
func (s *Service) DeleteRule(ctx context.Context, in *elbv2wire.DeleteRuleInput) (*elbv2wire.DeleteRuleOutput, error) {
	sc := scopeOf(ctx)
	err := s.store.Update(func(tx *store.Tx) error {
		r, err := getRule(tx, sc, in.RuleArn)
		if err != nil {
			return err
		}
		if isDefaultRule(r.Rule) {
			return operationNotPermitted("Default rule '%s' cannot be deleted", in.RuleArn)
		}
		return tx.Delete(tableRules, in.RuleArn)
	})
	if err != nil {
		return nil, err
	}
	s.nudge()
	return &elbv2wire.DeleteRuleOutput{}, nil
}

// SetRulePriorities changes the priorities of rules all at once; the
// result must leave no two rules of a listener with one priority.
func (s *Service) SetRulePriorities(ctx context.Context, in *elbv2wire.SetRulePrioritiesInput) (*elbv2wire.SetRulePrioritiesOutput, error) {
	sc := scopeOf(ctx)
	var out []elbv2wire.Rule
	err := s.store.Update(func(tx *store.Tx) error {
		changed := map[string]ruleRecord{}
		for _, p := range in.RulePriorities {
			r, err := getRule(tx, sc, p.RuleArn)
			if err != nil {
				return err
			}
			if isDefaultRule(r.Rule) {
				return operationNotPermitted("The priority of the default rule '%s' cannot be changed", p.RuleArn)
			}
			if p.Priority == nil || *p.Priority < 1 || *p.Priority > 50000 {
				return validationError("Priority must be between 1 and 50000")
			}
			r.Rule.Priority = strconv.Itoa(int(*p.Priority))
			changed[p.RuleArn] = r
		}
		for _, r := range changed {
			if err := checkPrioritiesAfter(tx, r.ListenerArn, changed); err != nil {
				return err
			}
		}
		for _, p := range in.RulePriorities {
			r := changed[p.RuleArn]
			if err := tx.Put(tableRules, p.RuleArn, r); err != nil {
				return err
			}
			out = append(out, r.Rule)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.nudge()
	return &elbv2wire.SetRulePrioritiesOutput{Rules: out}, nil
}

// checkPrioritiesAfter answers PriorityInUse when, with the changed rules
// applied, two rules of the listener share a priority.
func checkPrioritiesAfter(tx *store.Tx, listenerArn string, changed map[string]ruleRecord) error {
	rules, err := store.List[ruleRecord](tx, tableRules, ruleARN(listenerArn, ""))
	if err != nil {
		return internalError(err)
	}
	seen := map[string]bool{}
	for _, r := range rules {
		if c, ok := changed[r.Rule.RuleArn]; ok {
			r = c
		}
		if isDefaultRule(r.Rule) {
			continue
		}
		if seen[r.Rule.Priority] {
			return protocol.ClientError("PriorityInUse", "Priority '%s' is currently in use", r.Rule.Priority)
		}
		seen[r.Rule.Priority] = true
	}
	return nil
}

// getRule reads a rule of the scope or answers RuleNotFound.
func getRule(tx *store.Tx, sc scope, a string) (ruleRecord, error) {
	if !sc.inScope(a, resRule) {
		return ruleRecord{}, ruleNotFound()
	}
	r, ok, err := store.Get[ruleRecord](tx, tableRules, a)
	if err != nil {
		return r, internalError(err)
	}
	if !ok {
		return r, ruleNotFound()
	}
	return r, nil
}
