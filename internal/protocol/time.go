package protocol

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// Timestamp is a point in time as the AWS protocols carry it: fractional
// epoch seconds in JSON and CBOR (tag 1), ISO 8601 in XML and query strings.
type Timestamp struct{ time.Time }

// NewTimestamp returns a *Timestamp for t, or nil when t is zero, so that
// optional timestamps are left out of responses.
func NewTimestamp(t time.Time) *Timestamp {
	if t.IsZero() {
		return nil
	}
	return &Timestamp{t}
}

// TimeOf returns the time of ts, or the zero time when ts is nil.
func TimeOf(ts *Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.Time
}

func epochSeconds(t time.Time) float64 {
	return float64(t.UnixMilli()) / 1000
}

func fromEpochSeconds(f float64) time.Time {
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(math.Round(frac*1000))*int64(time.Millisecond)).UTC()
}

// MarshalJSON writes epoch seconds with millisecond precision.
func (t Timestamp) MarshalJSON() ([]byte, error) {
	return strconv.AppendFloat(nil, epochSeconds(t.Time), 'f', -1, 64), nil
}

// UnmarshalJSON accepts epoch seconds (number or numeric string) or an ISO 8601 string.
func (t *Timestamp) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err == nil {
		t.Time = fromEpochSeconds(f)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("timestamp must be a number or a string")
	}
	return t.UnmarshalText([]byte(s))
}

// MarshalText writes ISO 8601 with milliseconds, as the Query protocol does.
func (t Timestamp) MarshalText() ([]byte, error) {
	return []byte(t.UTC().Format("2006-01-02T15:04:05.000Z")), nil
}

// UnmarshalText accepts ISO 8601 / RFC 3339 or epoch seconds.
func (t *Timestamp) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		t.Time = fromEpochSeconds(f)
		return nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04:05", time.RFC1123} {
		if v, err := time.Parse(layout, s); err == nil {
			t.Time = v.UTC()
			return nil
		}
	}
	return fmt.Errorf("invalid timestamp %q", s)
}

// MarshalXML writes the ISO 8601 form as element text.
func (t Timestamp) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	b, _ := t.MarshalText()
	return e.EncodeElement(string(b), start)
}

// MarshalCBOR writes tag 1 with float64 epoch seconds, as Smithy RPCv2 CBOR does.
func (t Timestamp) MarshalCBOR() ([]byte, error) {
	return cbor.Marshal(cbor.Tag{Number: 1, Content: epochSeconds(t.Time)})
}

// UnmarshalCBOR accepts tag 1 with an integer or float epoch.
func (t *Timestamp) UnmarshalCBOR(b []byte) error {
	var raw cbor.RawTag
	if err := cbor.Unmarshal(b, &raw); err == nil && raw.Number == 1 {
		b = raw.Content
	}
	var f float64
	if err := cbor.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("invalid CBOR timestamp: %w", err)
	}
	t.Time = fromEpochSeconds(f)
	return nil
}
