package tinywire

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kumo-project/kumo/internal/protocol"
)

func TestJSONTags(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(&CreateWidgetRequest{Name: "w", Kinds: []string{"small"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"name":"w","count":0,"enabled":false,"kindSet":["small"]}`; string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	body := `{"name":"w","size":3,"count":2,"enabled":true,"ratio":0.75,"kind":"large","kindSet":["small"],
		"parts":[{"partId":"p","weight":1.5}],"labels":{"ab":"x"},"renamed":{"r":1},"matrix":[["small","large"]],
		"flatNames":["n"],"createdAt":1700000000,"payload":"aGk=","spec":{"any":["json"]},"owner":{"type":"t","validate":"v"}}`
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	var in CreateWidgetRequest
	if err := dec.Decode(&in); err != nil {
		t.Fatal(err)
	}
	if *in.Size != 3 || in.Count != 2 || !in.Enabled || in.Parts[0].PartId != "p" || in.Matrix[0][1] != "large" ||
		string(in.Payload) != "hi" || string(in.Spec) != `{"any":["json"]}` || in.Owner.Validate_ != "v" ||
		!in.CreatedAt.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("decoded %+v", in)
	}
}

// TestEmptyString checks a member generated with -empty-strings: a pointer
// to "" travels as "", nil not at all, in every codec.
func TestEmptyString(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal([]WidgetPart{{PartId: "a", Note: ptr("")}, {PartId: "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := `[{"partId":"a","note":""},{"partId":"b"}]`; string(b) != want {
		t.Errorf("JSON: got %s, want %s", b, want)
	}
	var x bytes.Buffer
	out := &CreateWidgetResponse{Widget: &WidgetPart{PartId: "p", Note: ptr("")}}
	if err := protocol.EncodeQueryResponse(&x, "CreateWidget", "", "r1", out); err != nil {
		t.Fatal(err)
	}
	if want := `<widget><partId>p</partId><note></note></widget>`; !strings.Contains(x.String(), want) {
		t.Errorf("XML: got %s, want it to contain %s", x.String(), want)
	}
	form, _ := url.ParseQuery("parts.member.1.partId=a&parts.member.1.note=&parts.member.2.partId=b")
	var in CreateWidgetRequest
	if err := protocol.DecodeQuery(form, &in); err != nil {
		t.Fatal(err)
	}
	if len(in.Parts) != 2 || in.Parts[0].Note == nil || *in.Parts[0].Note != "" || in.Parts[1].Note != nil {
		t.Errorf("query: decoded %+v", in.Parts)
	}
}

func TestQueryTags(t *testing.T) {
	t.Parallel()
	form, _ := url.ParseQuery("Action=CreateWidget&Version=2024-01-01&name=w&size=3&count=2&enabled=true" +
		"&kindSet.member.1=small&parts.member.1.partId=p&parts.member.1.weight=1.5" +
		"&labels.entry.1.key=ab&labels.entry.1.value=x&renamed.entry.1.Key=r&renamed.entry.1.Value=4" +
		"&matrix.member.1.member.1=large&Name.1=n1&Name.2=n2&createdAt=2024-01-02T03:04:05Z&payload=aGk%3D&owner.type=t")
	var in CreateWidgetRequest
	if err := protocol.DecodeQuery(form, &in); err != nil {
		t.Fatal(err)
	}
	want := CreateWidgetRequest{
		Name: "w", Size: ptr[int32](3), Count: 2, Enabled: true, Kinds: []string{"small"},
		Parts:  []WidgetPart{{PartId: "p", Weight: ptr(1.5)}},
		Labels: map[string]string{"ab": "x"}, Renamed: map[string]int32{"r": 4}, Matrix: [][]string{{"large"}},
		FlatNames: []string{"n1", "n2"}, CreatedAt: protocol.NewTimestamp(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)),
		Payload: []byte("hi"), Owner: &HandlersShape{Type: "t"},
	}
	if !reflect.DeepEqual(in, want) {
		t.Errorf("got  %+v\nwant %+v", in, want)
	}
}

func TestXMLTags(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	out := &CreateWidgetResponse{Widget: &WidgetPart{PartId: "p"}, Protocol: &ProtocolShape{}}
	if err := protocol.EncodeQueryResponse(&b, "CreateWidget", XMLNamespace, "r1", out); err != nil {
		t.Fatal(err)
	}
	want := `<CreateWidgetResponse xmlns="https://tiny.example.com/doc/2024-01-01/"><CreateWidgetResult>` +
		`<widget><partId>p</partId></widget><protocol><version>0</version></protocol>` +
		`</CreateWidgetResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></CreateWidgetResponse>`
	if b.String() != want {
		t.Errorf("got  %s\nwant %s", b.String(), want)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	valid := func() *CreateWidgetRequest {
		return &CreateWidgetRequest{Name: "w", Parts: []WidgetPart{{PartId: "p"}}}
	}
	tests := []struct {
		name   string
		change func(*CreateWidgetRequest)
		want   string
	}{
		{"valid", func(*CreateWidgetRequest) {}, ""},
		{"missing required", func(in *CreateWidgetRequest) { in.Name, in.Parts = "", nil },
			"2 validation errors detected: Value null at 'name' failed to satisfy constraint: Member must not be null; " +
				"Value null at 'parts' failed to satisfy constraint: Member must not be null"},
		{"string too long", func(in *CreateWidgetRequest) { in.Name = "ninechars" },
			"1 validation error detected: Value 'ninechars' at 'name' failed to satisfy constraint: Member must have length less than or equal to 8"},
		{"empty list under min", func(in *CreateWidgetRequest) { in.Parts = []WidgetPart{} },
			"Value '[]' at 'parts' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{"nested required in list", func(in *CreateWidgetRequest) { in.Parts = append(in.Parts, WidgetPart{}) },
			"Value null at 'parts.2.member.partId' failed to satisfy constraint: Member must not be null"},
		{"boxed number out of range", func(in *CreateWidgetRequest) { in.Size = ptr[int32](0) },
			"Value '0' at 'size' failed to satisfy constraint: Member must have value greater than or equal to 1"},
		{"plain number out of range", func(in *CreateWidgetRequest) { in.Count = 6 },
			"Value '6' at 'count' failed to satisfy constraint: Member must have value less than or equal to 5"},
		{"double under min", func(in *CreateWidgetRequest) { in.Parts[0].Weight = ptr(0.25) },
			"Value '0.25' at 'parts.1.member.weight' failed to satisfy constraint: Member must have value greater than or equal to 0.5"},
		{"enum", func(in *CreateWidgetRequest) { in.Kind = "medium" },
			"Value 'medium' at 'kind' failed to satisfy constraint: Member must satisfy enum value set: [small, large]"},
		{"enum in list of lists", func(in *CreateWidgetRequest) { in.Matrix = [][]string{{"small"}, {"large", "huge"}} },
			"Value 'huge' at 'matrix.2.member.2.member' failed to satisfy constraint: Member must satisfy enum value set"},
		{"map key too short and map too big", func(in *CreateWidgetRequest) { in.Labels = map[string]string{"a": "x", "bb": "y", "cc": "z"} },
			"Member must have length less than or equal to 2"},
		{"map key", func(in *CreateWidgetRequest) { in.Labels = map[string]string{"a": "x"} },
			"Value 'a' at 'labels.a' failed to satisfy constraint: Member must have length greater than or equal to 2"},
		{"map value range", func(in *CreateWidgetRequest) { in.Renamed = map[string]int32{"r": 9} },
			"Value '9' at 'renamed.r' failed to satisfy constraint: Member must have value less than or equal to 5"},
		{"empty string member checked when present", func(in *CreateWidgetRequest) { in.Parts[0].Note = ptr("hello") },
			"Value 'hello' at 'parts.1.member.note' failed to satisfy constraint: Member must have length less than or equal to 4"},
		{"empty string member may be empty", func(in *CreateWidgetRequest) { in.Parts[0].Note = ptr("") }, ""},
		{"blob too long", func(in *CreateWidgetRequest) { in.Payload = []byte("12345") },
			"1 validation error detected: Value at 'payload' failed to satisfy constraint: Member must have length less than or equal to 4"},
		{"sensitive value left out", func(in *CreateWidgetRequest) { in.Secret = "hunter22" },
			"1 validation error detected: Value at 'secret' failed to satisfy constraint: Member must have length less than or equal to 6"},
		{"nested structure", func(in *CreateWidgetRequest) { in.Owner = &HandlersShape{Validate_: "toolongvalue"} },
			"at 'owner.validate' failed to satisfy constraint: Member must have length less than or equal to 8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := valid()
			tt.change(in)
			var v protocol.Validator
			in.Validate(&v, "")
			err := v.Err("ValidationException")
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var e *protocol.Error
			if !errors.As(err, &e) || e.Code != "ValidationException" || !strings.Contains(e.Message, tt.want) {
				t.Errorf("got  %v\nwant %s", err, tt.want)
			}
		})
	}
}

func TestOperations(t *testing.T) {
	t.Parallel()
	h := &Handlers{
		Ping: func(ctx context.Context, in *PingInput_) (*PingOutput, error) { return &PingOutput{}, nil },
	}
	ops := h.Operations()
	if len(ops) != 3 || ops["CreateWidget"] != nil || ops["DeleteWidget"] != nil || ops["Ping"] == nil {
		t.Fatalf("operations %v", ops)
	}
	in := ops["Ping"].NewInput()
	if _, ok := in.(*PingInput_); !ok {
		t.Fatalf("Ping input is %T", in)
	}
	out, err := ops["Ping"].Call(context.Background(), in)
	if _, ok := out.(*PingOutput); !ok || err != nil {
		t.Errorf("Ping returned %T, %v", out, err)
	}
	if ErrorShapes["WidgetAlreadyExists"] != 409 || ErrorShapes["ServerFault"] != 500 || len(ErrorShapes) != 2 {
		t.Errorf("ErrorShapes %v", ErrorShapes)
	}
	if ServiceName != "tiny" || SigningName != "tinysign" || TargetPrefix != "Tiny_20240101" || APIVersion != "2024-01-01" {
		t.Errorf("identity %s %s %s %s", ServiceName, SigningName, TargetPrefix, APIVersion)
	}
}

func ptr[T any](v T) *T { return &v }
