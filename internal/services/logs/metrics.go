package logs

import (
	"context"
	"strconv"

	"github.com/kumo-project/kumo/internal/services/logs/filterpattern"
	"github.com/kumo-project/kumo/internal/services/logs/logstore"
	"github.com/kumo-project/kumo/internal/store"
)

// MetricDatum is one data point a metric filter emits.
type MetricDatum struct {
	Namespace  string
	Name       string
	Dimensions map[string]string
	Value      float64
	Unit       string
	Timestamp  int64 // ms since the epoch: the log event's
}

// MetricPublisher receives the data points of metric filters: kumo's
// CloudWatch metrics service once it exists.
type MetricPublisher interface {
	PutMetricData(ctx context.Context, account, region string, data []MetricDatum) error
}

// publishMetrics runs the group's metric filters over appended events and
// hands their data points to the publisher. A failure is logged, never
// returned: the events are stored either way.
func (s *Service) publishMetrics(ctx context.Context, sc scope, group string, events []logstore.InputEvent) {
	if s.metrics == nil || len(events) == 0 {
		return
	}
	var filters []metricFilterRecord
	err := s.db.View(func(tx *store.Tx) error {
		var err error
		filters, err = store.List[metricFilterRecord](tx, tableMetricFilters, groupKey(group))
		return err
	})
	if err != nil || len(filters) == 0 {
		return
	}
	var data []MetricDatum
	for _, f := range filters {
		data = append(data, filterData(f, events)...)
	}
	if len(data) == 0 {
		return
	}
	if err := s.metrics.PutMetricData(ctx, sc.account, sc.region, data); err != nil {
		s.log.Warn("logs: metric filter data points not published", "group", group, "err", err)
	}
}

// filterData is what one metric filter emits for a batch: a data point
// per matching event, or the default value once when none matches.
func filterData(f metricFilterRecord, events []logstore.InputEvent) []MetricDatum {
	p, err := filterpattern.Compile(deref(f.Filter.FilterPattern))
	if err != nil {
		return nil
	}
	var out []MetricDatum
	for _, t := range f.Filter.MetricTransformations {
		datum := MetricDatum{Namespace: t.MetricNamespace, Name: t.MetricName, Unit: t.Unit}
		matched := false
		for _, e := range events {
			fields, ok := p.MatchFields(e.Message)
			if !ok {
				continue
			}
			d, ok := eventDatum(datum, t.MetricValue, t.Dimensions, fields)
			if ok {
				d.Timestamp = e.Timestamp
				out = append(out, d)
				matched = true
			}
		}
		if !matched && t.DefaultValue != nil {
			datum.Value, datum.Timestamp = *t.DefaultValue, events[len(events)-1].Timestamp
			out = append(out, datum)
		}
	}
	return out
}

// eventDatum fills a data point's value and dimensions from a matching
// event; ok is false when a field they name is missing or not a number.
func eventDatum(d MetricDatum, value string, dims map[string]string, fields filterpattern.Fields) (MetricDatum, bool) {
	text := value
	if len(value) > 1 && value[0] == '$' {
		v, ok := fields.Value(value)
		if !ok {
			return d, false
		}
		text = v
	}
	n, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return d, false
	}
	d.Value = n
	if len(dims) > 0 {
		d.Dimensions = map[string]string{}
		for name, sel := range dims {
			v, ok := fields.Value(sel)
			if !ok {
				return d, false
			}
			d.Dimensions[name] = v
		}
	}
	return d, true
}
