package iamwire

import (
	"bytes"
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/kumo-project/kumo/internal/protocol"
)

func TestCreateRoleFromBotocoreForm(t *testing.T) {
	t.Parallel()
	// As botocore 1.43.11's Query serializer writes it.
	form, _ := url.ParseQuery("Action=CreateRole&Version=2010-05-08&RoleName=task&AssumeRolePolicyDocument=%7B%22Version%22%3A%222012-10-17%22%7D&MaxSessionDuration=3600&Tags.member.1.Key=a&Tags.member.1.Value=b")
	var in CreateRoleRequest
	if err := protocol.DecodeQuery(form, &in); err != nil {
		t.Fatal(err)
	}
	hour := int32(3600)
	want := CreateRoleRequest{RoleName: "task", AssumeRolePolicyDocument: `{"Version":"2012-10-17"}`, MaxSessionDuration: &hour, Tags: []Tag{{Key: "a", Value: "b"}}}
	if !reflect.DeepEqual(in, want) {
		t.Errorf("got  %+v\nwant %+v", in, want)
	}
	var v protocol.Validator
	in.MaxSessionDuration = new(int32)
	in.Validate(&v, "")
	if err := v.Err("ValidationError"); err == nil ||
		err.Error() != "ValidationError: 1 validation error detected: Value '0' at 'maxSessionDuration' failed to satisfy constraint: Member must have value greater than or equal to 3600" {
		t.Errorf("got %v", err)
	}
}

// The layouts below were checked against botocore's QueryParser, which
// parses them back to the same values.
func TestResponsesInXML(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		op   string
		out  any
		want string
	}{
		{"map", "GetAccountSummary", &GetAccountSummaryResponse{SummaryMap: map[string]int32{"Users": 3, "Roles": 0}},
			`<SummaryMap><entry><key>Roles</key><value>0</value></entry><entry><key>Users</key><value>3</value></entry></SummaryMap>`},
		{"blob and timestamp", "GetCredentialReport", &GetCredentialReportResponse{Content: []byte("user,arn\n"), ReportFormat: "text/csv",
			GeneratedTime: protocol.NewTimestamp(time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC))},
			`<Content>dXNlcixhcm4K</Content><ReportFormat>text/csv</ReportFormat><GeneratedTime>2026-01-02T03:04:05.006Z</GeneratedTime>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := protocol.EncodeQueryResponse(&b, tt.op, XMLNamespace, "r1", tt.out); err != nil {
				t.Fatal(err)
			}
			want := `<` + tt.op + `Response xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><` + tt.op + `Result>` + tt.want +
				`</` + tt.op + `Result><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></` + tt.op + `Response>`
			if b.String() != want {
				t.Errorf("got  %s\nwant %s", b.String(), want)
			}
		})
	}
}
