package logs

import (
	"strings"

	"github.com/kumo-project/kumo/internal/store"
	"github.com/kumo-project/kumo/internal/wire/logswire"
)

// Tables of the service's own store (<Dir>/logs.db). Keys start with the
// engine's group name ("<account>:<region>:<name>") and '|', which group
// names cannot hold, so a prefix scan never reaches another group.
const (
	tableMetricFilters = "logs/metricfilters" // group|filterName
	tableMarks         = "logs/marks"         // group|stream|source
)

// metricFilterRecord is a stored metric filter.
type metricFilterRecord struct {
	Filter logswire.MetricFilter
}

// markRecord is how far the awslogs sink has stored a source's output in
// a stream (see sink.go).
type markRecord struct {
	// Offset is the source offset of the last batch known stored.
	Offset int64
	// Pending is the batch being appended when the record was written:
	// stored iff the stream's NextSeq has moved past PendingSeq.
	Pending    int64 `json:",omitempty"`
	PendingSeq uint64
	// NextSeq is the stream's NextSeq after the last known batch; a stream
	// behind it was deleted and created again, and the mark is void.
	NextSeq uint64
}

func groupKey(group string) string                { return group + "|" }
func filterKey(group, filter string) string       { return groupKey(group) + filter }
func markKey(group, stream, source string) string { return groupKey(group) + stream + "|" + source }

// deleteGroupRecords removes what the store holds for a deleted group.
func (s *Service) deleteGroupRecords(group string) error {
	return s.db.Update(func(tx *store.Tx) error {
		for _, table := range []string{tableMetricFilters, tableMarks} {
			var keys []string
			err := tx.Scan(table, groupKey(group), "", func(k string, _ []byte) (bool, error) {
				keys = append(keys, k)
				return true, nil
			})
			if err != nil {
				return err
			}
			for _, k := range keys {
				if err := tx.Delete(table, k); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// metricFilterCounts counts the metric filters of each group of a scope,
// by the group's user-visible name.
func (s *Service) metricFilterCounts(sc scope) (map[string]int32, error) {
	counts := map[string]int32{}
	err := s.db.View(func(tx *store.Tx) error {
		return tx.Scan(tableMetricFilters, sc.prefix(), "", func(k string, _ []byte) (bool, error) {
			group, _, _ := strings.Cut(k, "|")
			counts[sc.userName(group)]++
			return true, nil
		})
	})
	return counts, err
}
