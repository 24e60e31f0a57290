package logswire

import (
	"strings"
	"testing"

	"github.com/kumo-project/kumo/internal/protocol"
	"github.com/kumo-project/kumo/internal/wire/wiretest"
)

// TestCLISkeletons decodes the aws CLI's --generate-cli-skeleton of some
// inputs (botocore 1.43.11), which name every member, and checks that
// validation reports the required members the skeleton leaves empty,
// except those whose "" is a value: the empty filter pattern matches every
// event, and AWS accepts it.
func TestCLISkeletons(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file     string
		in       protocol.Validatable
		wantNull string
		present  string
	}{
		{"put-log-events", &PutLogEventsRequest{}, "logEvents.1.member.message", ""},
		{"put-metric-filter", &PutMetricFilterRequest{}, "filterName", "filterPattern"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			e := wiretest.DecodeSkeleton(t, "testdata/"+tt.file+"-skeleton.json", tt.in)
			if e == nil || !strings.Contains(e.Message, "Value null at '"+tt.wantNull+"' failed to satisfy constraint: Member must not be null") {
				t.Errorf("got %v, want %s reported missing", e, tt.wantNull)
			}
			if e != nil && tt.present != "" && strings.Contains(e.Message, "'"+tt.present+"'") {
				t.Errorf("got %v, want %s (\"\") accepted", e, tt.present)
			}
		})
	}
}
