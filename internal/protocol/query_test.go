package protocol

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Shapes laid out as wiregen lays them out, covering every layout.
type queryTag struct {
	Key   string `query:"Key" xml:"Key,omitempty"`
	Value string `query:"Value" xml:"Value,omitempty"`
}

type queryMatcher struct {
	HTTPCode string `query:"HttpCode" xml:"HttpCode,omitempty"`
}

type queryInput struct {
	Name       string            `query:"Name" xml:"Name,omitempty"`
	Port       *int32            `query:"Port" xml:"Port,omitempty"`
	Count      int64             `query:"Count" xml:"Count"`
	Enabled    *bool             `query:"Enabled" xml:"Enabled,omitempty"`
	Ratio      *float64          `query:"Ratio" xml:"Ratio,omitempty"`
	When       *Timestamp        `query:"When" xml:"When,omitempty"`
	Blob       []byte            `query:"Blob" xml:"Blob,omitempty"`
	Names      []string          `query:"Names>member" xml:"Names>member,omitempty"`
	Flat       []string          `query:"Flat" xml:"Flat,omitempty"`
	Tags       []queryTag        `query:"Tags>member" xml:"Tags>member,omitempty"`
	Matcher    *queryMatcher     `query:"Matcher" xml:"Matcher,omitempty"`
	Attributes map[string]string `query:"Attributes>entry" xml:"Attributes>entry,omitempty"`
	Renamed    map[string]int32  `query:"Renamed,key=Name,value=Count" xml:"Renamed,key=Name,value=Count,omitempty"`
	Nested     [][]string        `query:"Nested>member" xml:"Nested>member,omitempty"`
	Note       *string           `query:"Note" xml:"Note,omitempty"`
	Untagged   string
}

func TestDecodeQuery(t *testing.T) {
	t.Parallel()
	when := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	tests := []struct {
		name string
		form string
		want queryInput
	}{
		{"empty form", "Action=Do&Version=1", queryInput{}},
		{"scalars", "Name=web&Port=80&Count=-3&Enabled=TRUE&Ratio=0.5&When=2026-05-06T07:08:09Z&Blob=aGk%3D",
			queryInput{Name: "web", Port: queryPtr[int32](80), Count: -3, Enabled: queryPtr(true), Ratio: queryPtr(0.5),
				When: NewTimestamp(when), Blob: []byte("hi")}},
		{"timestamp as epoch seconds", "When=1778051289", queryInput{When: NewTimestamp(when)}},
		{"list in order whatever the key order", "Names.member.2=b&Names.member.1=a&Names.member.10=j",
			queryInput{Names: []string{"a", "b", "j"}}},
		{"empty list", "Names=", queryInput{Names: []string{}}},
		{"flattened list", "Flat.1=x&Flat.2=y", queryInput{Flat: []string{"x", "y"}}},
		{"list of structures", "Tags.member.1.Key=k1&Tags.member.1.Value=v1&Tags.member.2.Key=k2",
			queryInput{Tags: []queryTag{{"k1", "v1"}, {Key: "k2"}}}},
		{"nested structure", "Matcher.HttpCode=200-299", queryInput{Matcher: &queryMatcher{"200-299"}}},
		{"map", "Attributes.entry.1.key=a&Attributes.entry.1.value=1&Attributes.entry.2.key=b&Attributes.entry.2.value=2",
			queryInput{Attributes: map[string]string{"a": "1", "b": "2"}}},
		{"flattened map with renamed key and value", "Renamed.1.Name=x&Renamed.1.Count=7",
			queryInput{Renamed: map[string]int32{"x": 7}}},
		{"list of lists", "Nested.member.1.member.1=a&Nested.member.1.member.2=b&Nested.member.2.member.1=c",
			queryInput{Nested: [][]string{{"a", "b"}, {"c"}}}},
		{"empty value behind a pointer is kept", "Note=", queryInput{Note: queryPtr("")}},
		{"keys the shape does not name are ignored", "Untagged=x&Unknown.member.1=y", queryInput{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form, err := url.ParseQuery(tt.form)
			if err != nil {
				t.Fatal(err)
			}
			var got queryInput
			if err := DecodeQuery(form, &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestDecodeQueryBadValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, form, wantMessage string
	}{
		{"integer", "Port=abc", "Value 'abc' at 'Port' failed to satisfy constraint: Member must be an integer"},
		{"integer overflow", "Port=99999999999", "at 'Port'"},
		{"boolean", "Enabled=yes", "Member must be a boolean"},
		{"number", "Ratio=half", "Member must be a number"},
		{"timestamp", "When=yesterday", "Member must be a timestamp"},
		{"base64", "Blob=***", "Member must be base64"},
		{"nested path", "Tags.member.1.Key=a&Renamed.1.Name=x&Renamed.1.Count=z", "at 'Renamed.1.Count'"},
		{"map entry without key", "Attributes.entry.1.value=v", "missing map key at 'Attributes.entry.1.key'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form, _ := url.ParseQuery(tt.form)
			err := DecodeQuery(form, &queryInput{})
			var e *Error
			if !errors.As(err, &e) || e.Status != http.StatusBadRequest || e.Code != "ValidationError" {
				t.Fatalf("got %v, want a 400 ValidationError", err)
			}
			if !strings.Contains(e.Message, tt.wantMessage) {
				t.Errorf("message %q does not contain %q", e.Message, tt.wantMessage)
			}
		})
	}
}

func TestDecodeQueryNeedsStructPointer(t *testing.T) {
	t.Parallel()
	for _, into := range []any{nil, queryInput{}, (*queryInput)(nil), new(string)} {
		if err := DecodeQuery(url.Values{}, into); err == nil {
			t.Errorf("DecodeQuery into %T: want an error", into)
		}
	}
}

func TestEncodeQueryResponse(t *testing.T) {
	t.Parallel()
	when := time.Date(2026, 5, 6, 7, 8, 9, 120e6, time.UTC)
	tests := []struct {
		name string
		out  any
		want string
	}{
		{"nil output", nil, `<DoResponse xmlns="ns"><ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></DoResponse>`},
		{"empty output keeps plain numbers", &queryInput{},
			`<DoResponse xmlns="ns"><DoResult><Count>0</Count></DoResult><ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></DoResponse>`},
		{"every layout", &queryInput{
			Name: "a&b<c>", Port: queryPtr[int32](80), Count: 2, Enabled: queryPtr(false), Ratio: queryPtr(0.25), When: NewTimestamp(when),
			Blob: []byte("hi"), Names: []string{"x", "y"}, Flat: []string{"f1", "f2"}, Tags: []queryTag{{Key: "k"}},
			Matcher: &queryMatcher{"200"}, Attributes: map[string]string{"b": "2", "a": "1"}, Renamed: map[string]int32{"n": 3},
			Nested: [][]string{{"p"}}, Untagged: "hidden",
		}, `<DoResponse xmlns="ns"><DoResult>` +
			`<Name>a&amp;b&lt;c&gt;</Name><Port>80</Port><Count>2</Count><Enabled>false</Enabled><Ratio>0.25</Ratio>` +
			`<When>2026-05-06T07:08:09.120Z</When><Blob>aGk=</Blob>` +
			`<Names><member>x</member><member>y</member></Names><Flat>f1</Flat><Flat>f2</Flat>` +
			`<Tags><member><Key>k</Key></member></Tags><Matcher><HttpCode>200</HttpCode></Matcher>` +
			`<Attributes><entry><key>a</key><value>1</value></entry><entry><key>b</key><value>2</value></entry></Attributes>` +
			`<Renamed><Name>n</Name><Count>3</Count></Renamed>` +
			`<Nested><member><member>p</member></member></Nested>` +
			`</DoResult><ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></DoResponse>`},
		{"empty string behind a pointer is an empty element, a plain one is left out", &queryInput{Name: "", Note: queryPtr("")},
			`<DoResponse xmlns="ns"><DoResult><Count>0</Count><Note></Note></DoResult><ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></DoResponse>`},
		{"empty string in a list is an element", &queryInput{Names: []string{"", "x"}},
			`<DoResponse xmlns="ns"><DoResult><Count>0</Count><Names><member></member><member>x</member></Names></DoResult><ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></DoResponse>`},
		{"empty lists and maps are left out", &queryInput{Names: []string{}, Attributes: map[string]string{}},
			`<DoResponse xmlns="ns"><DoResult><Count>0</Count></DoResult><ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></DoResponse>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := EncodeQueryResponse(&b, "Do", "ns", "rid", tt.out); err != nil {
				t.Fatal(err)
			}
			if b.String() != tt.want {
				t.Errorf("got  %s\nwant %s", b.String(), tt.want)
			}
		})
	}
}

func TestEncodeQueryError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		err        *Error
		wantStatus int
		wantBody   string
	}{
		{"client fault", ClientError("ValidationError", "bad <input>"), 400,
			`<ErrorResponse><Error><Type>Sender</Type><Code>ValidationError</Code><Message>bad &lt;input&gt;</Message></Error><RequestId>rid</RequestId></ErrorResponse>`},
		{"server fault", ServerError("InternalFailure", "oops"), 500,
			`<ErrorResponse><Error><Type>Receiver</Type><Code>InternalFailure</Code><Message>oops</Message></Error><RequestId>rid</RequestId></ErrorResponse>`},
		{"other status", ClientError("LoadBalancerNotFound", "no").WithStatus(404), 404,
			`<ErrorResponse><Error><Type>Sender</Type><Code>LoadBalancerNotFound</Code><Message>no</Message></Error><RequestId>rid</RequestId></ErrorResponse>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			EncodeQueryError(rec, tt.err, "rid")
			if rec.Code != tt.wantStatus || rec.Body.String() != tt.wantBody || rec.Header().Get("Content-Type") != "text/xml" {
				t.Errorf("got %d %q %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body.String())
			}
		})
	}
}

// FuzzDecodeQuery checks that no form makes the decoder panic.
func FuzzDecodeQuery(f *testing.F) {
	f.Add("Names.member.1=a&Tags.member.1.Key=k&Attributes.entry.1.key=a&Attributes.entry.1.value=b")
	f.Add("Nested.member.1.member.99999999999999999999=x&Renamed.0.Name=&Port=1e9&Blob=%%")
	f.Fuzz(func(t *testing.T, raw string) {
		form, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		var in queryInput
		_ = DecodeQuery(form, &in)
	})
}

func queryPtr[T any](v T) *T { return &v }
