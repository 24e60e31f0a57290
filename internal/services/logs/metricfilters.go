package logs

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/kumo-project/kumo/internal/protocol"
	"github.com/kumo-project/kumo/internal/services/logs/filterpattern"
	"github.com/kumo-project/kumo/internal/store"
	"github.com/kumo-project/kumo/internal/wire/logswire"
)

// maxMetricFilters is how many metric filters a log group may have.
const maxMetricFilters = 100

// PutMetricFilter creates or replaces a metric filter of a group. Events
// appended from then on give data points to Config.Metrics, when set.
func (s *Service) PutMetricFilter(ctx context.Context, in *logswire.PutMetricFilterRequest) (*logswire.PutMetricFilterOutput, error) {
	sc := scopeOf(ctx)
	group := sc.group(in.LogGroupName)
	if _, err := s.events.Group(group); err != nil {
		return nil, groupError(err)
	}
	if _, err := filterpattern.Compile(deref(in.FilterPattern)); err != nil {
		return nil, patternError(err)
	}
	for _, t := range in.MetricTransformations {
		if err := checkMetricValue(t.MetricValue); err != nil {
			return nil, err
		}
	}
	rec := metricFilterRecord{Filter: logswire.MetricFilter{
		FilterName: in.FilterName, FilterPattern: in.FilterPattern, MetricTransformations: in.MetricTransformations,
		CreationTime: ptr(s.clock.Now().UnixMilli()), LogGroupName: in.LogGroupName,
		ApplyOnTransformedLogs: in.ApplyOnTransformedLogs, FieldSelectionCriteria: in.FieldSelectionCriteria,
		EmitSystemFieldDimensions: in.EmitSystemFieldDimensions,
	}}
	err := s.db.Update(func(tx *store.Tx) error {
		existing := 0
		err := tx.Scan(tableMetricFilters, groupKey(group), "", func(string, []byte) (bool, error) { existing++; return true, nil })
		if err != nil {
			return err
		}
		if tx.GetRaw(tableMetricFilters, filterKey(group, in.FilterName)) == nil && existing >= maxMetricFilters {
			return limitExceeded("Resource limit exceeded.")
		}
		return tx.Put(tableMetricFilters, filterKey(group, in.FilterName), rec)
	})
	if err != nil {
		return nil, storeError(err)
	}
	return &logswire.PutMetricFilterOutput{}, nil
}

// checkMetricValue accepts what AWS accepts as a metric value: a number
// or a field of the pattern ($.json.path or $field).
func checkMetricValue(v string) error {
	if strings.HasPrefix(v, "$") && len(v) > 1 {
		return nil
	}
	if _, err := strconv.ParseFloat(v, 64); err != nil {
		return invalidParameter("Invalid metric value: %q must be a number or a field selector such as $.latency or $bytes", v)
	}
	return nil
}

// DescribeMetricFilters lists metric filters, of one group or of the
// whole scope, by group and filter name.
func (s *Service) DescribeMetricFilters(ctx context.Context, in *logswire.DescribeMetricFiltersRequest) (*logswire.DescribeMetricFiltersResponse, error) {
	sc := scopeOf(ctx)
	if in.FilterNamePrefix != "" && in.LogGroupName == "" {
		return nil, invalidParameter("If you specify a filterNamePrefix, you must also specify a logGroupName.")
	}
	if (in.MetricName == "") != (in.MetricNamespace == "") {
		return nil, invalidParameter("If you specify a metricName, you must also specify a metricNamespace, and the other way round.")
	}
	prefix := sc.prefix()
	if in.LogGroupName != "" {
		if _, err := s.events.Group(sc.group(in.LogGroupName)); err != nil {
			return nil, groupError(err)
		}
		prefix = filterKey(sc.group(in.LogGroupName), in.FilterNamePrefix)
	}
	type keyed struct {
		key    string
		filter logswire.MetricFilter
	}
	var filters []keyed
	err := s.db.View(func(tx *store.Tx) error {
		return tx.Scan(tableMetricFilters, prefix, "", func(k string, raw []byte) (bool, error) {
			var rec metricFilterRecord
			err := json.Unmarshal(raw, &rec)
			if err == nil && publishes(rec.Filter, in.MetricName, in.MetricNamespace) {
				filters = append(filters, keyed{k, rec.Filter})
			}
			return true, err
		})
	})
	if err != nil {
		return nil, storeError(err)
	}
	page, next, err := protocol.Page(filters, in.NextToken, limitOr(in.Limit, defaultDescribeLimit),
		func(f keyed) string { return f.key }, "InvalidParameterException")
	if err != nil {
		return nil, err
	}
	out := &logswire.DescribeMetricFiltersResponse{NextToken: next, MetricFilters: []logswire.MetricFilter{}}
	for _, f := range page {
		out.MetricFilters = append(out.MetricFilters, f.filter)
	}
	return out, nil
}

// publishes reports whether f publishes the metric (any metric when name
// is empty).
func publishes(f logswire.MetricFilter, name, namespace string) bool {
	if name == "" {
		return true
	}
	for _, t := range f.MetricTransformations {
		if t.MetricName == name && t.MetricNamespace == namespace {
			return true
		}
	}
	return false
}

// DeleteMetricFilter deletes a metric filter.
func (s *Service) DeleteMetricFilter(ctx context.Context, in *logswire.DeleteMetricFilterRequest) (*logswire.DeleteMetricFilterOutput, error) {
	sc := scopeOf(ctx)
	group := sc.group(in.LogGroupName)
	if _, err := s.events.Group(group); err != nil {
		return nil, groupError(err)
	}
	err := s.db.Update(func(tx *store.Tx) error {
		if ok, err := tx.Get(tableMetricFilters, filterKey(group, in.FilterName), &metricFilterRecord{}); err != nil || !ok {
			if err == nil {
				err = resourceNotFound("The specified metric filter does not exist.")
			}
			return err
		}
		return tx.Delete(tableMetricFilters, filterKey(group, in.FilterName))
	})
	if err != nil {
		return nil, storeError(err)
	}
	return &logswire.DeleteMetricFilterOutput{}, nil
}

// TestMetricFilter tells which of the messages match a pattern and what
// it extracts from each.
func (s *Service) TestMetricFilter(ctx context.Context, in *logswire.TestMetricFilterRequest) (*logswire.TestMetricFilterResponse, error) {
	p, err := filterpattern.Compile(deref(in.FilterPattern))
	if err != nil {
		return nil, patternError(err)
	}
	out := &logswire.TestMetricFilterResponse{Matches: []logswire.MetricFilterMatchRecord{}}
	for i, msg := range in.LogEventMessages {
		values, ok := p.ExtractedValues(msg)
		if !ok {
			continue
		}
		out.Matches = append(out.Matches, logswire.MetricFilterMatchRecord{EventNumber: int64(i + 1), EventMessage: msg, ExtractedValues: values})
	}
	return out, nil
}

// storeError passes API errors through and hides the others.
func storeError(err error) error {
	if e, ok := err.(*protocol.Error); ok {
		return e
	}
	return serviceUnavailable(err)
}
