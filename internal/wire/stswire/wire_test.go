package stswire

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"

	"github.com/kumo-project/kumo/internal/protocol"
)

// stsClient returns an aws-sdk-go-v2 STS client talking to a server that
// runs h's operations through DecodeQuery and EncodeQueryResponse.
func stsClient(t *testing.T, h *Handlers) *sts.Client {
	t.Helper()
	ops := h.Operations()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Errorf("form: %v", err)
			return
		}
		action := r.PostForm.Get("Action")
		op := ops[action]
		if op == nil {
			protocol.EncodeQueryError(w, protocol.ErrNotImplemented(ServiceName, action), "r1")
			return
		}
		in := op.NewInput()
		if err := protocol.DecodeQuery(r.PostForm, in); err != nil {
			protocol.EncodeQueryError(w, protocol.AsError(err), "r1")
			return
		}
		out, err := op.Call(r.Context(), in)
		if err != nil {
			protocol.EncodeQueryError(w, protocol.AsError(err), "r1")
			return
		}
		var body bytes.Buffer
		if err := protocol.EncodeQueryResponse(&body, action, XMLNamespace, "r1", out); err != nil {
			t.Errorf("encode: %v", err)
		}
		w.Header().Set("Content-Type", "text/xml")
		w.Write(body.Bytes())
	}))
	t.Cleanup(srv.Close)
	return sts.New(sts.Options{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		BaseEndpoint:     aws.String(srv.URL),
		RetryMaxAttempts: 1,
	})
}

func TestAssumeRoleWithSDK(t *testing.T) {
	t.Parallel()
	expires := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	var got AssumeRoleRequest
	client := stsClient(t, &Handlers{
		AssumeRole: func(ctx context.Context, in *AssumeRoleRequest) (*AssumeRoleResponse, error) {
			got = *in
			return &AssumeRoleResponse{
				Credentials:     &Credentials{AccessKeyId: "ASIATEST", SecretAccessKey: "s", SessionToken: "tok", Expiration: protocol.NewTimestamp(expires)},
				AssumedRoleUser: &AssumedRoleUser{AssumedRoleId: "AROA:" + in.RoleSessionName, Arn: in.RoleArn + "/" + in.RoleSessionName},
			}, nil
		},
	})
	out, err := client.AssumeRole(context.Background(), &sts.AssumeRoleInput{
		RoleArn:           aws.String("arn:aws:iam::000000000000:role/r"),
		RoleSessionName:   aws.String("sess"),
		DurationSeconds:   aws.Int32(900),
		Tags:              []ststypes.Tag{{Key: aws.String("k"), Value: aws.String("v")}},
		TransitiveTagKeys: []string{"k"},
		PolicyArns:        []ststypes.PolicyDescriptorType{{Arn: aws.String("arn:aws:iam::aws:policy/ReadOnlyAccess")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.RoleSessionName != "sess" || got.DurationSeconds == nil || *got.DurationSeconds != 900 || len(got.Tags) != 1 ||
		got.TransitiveTagKeys[0] != "k" || got.PolicyArns[0].Arn != "arn:aws:iam::aws:policy/ReadOnlyAccess" {
		t.Errorf("server decoded %+v", got)
	}
	if aws.ToString(out.Credentials.AccessKeyId) != "ASIATEST" || !aws.ToTime(out.Credentials.Expiration).Equal(expires) ||
		aws.ToString(out.AssumedRoleUser.AssumedRoleId) != "AROA:sess" {
		t.Errorf("client decoded %+v %+v", out.Credentials, out.AssumedRoleUser)
	}
}

func TestGetCallerIdentityWithSDK(t *testing.T) {
	t.Parallel()
	client := stsClient(t, &Handlers{
		GetCallerIdentity: func(ctx context.Context, in *GetCallerIdentityRequest) (*GetCallerIdentityResponse, error) {
			return &GetCallerIdentityResponse{UserId: "AIDA", Account: "000000000000", Arn: "arn:aws:iam::000000000000:user/u"}, nil
		},
	})
	out, err := client.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.Account) != "000000000000" || aws.ToString(out.Arn) != "arn:aws:iam::000000000000:user/u" {
		t.Errorf("got %+v", out)
	}
	_, err = client.GetSessionToken(context.Background(), &sts.GetSessionTokenInput{})
	if err == nil {
		t.Error("GetSessionToken has no handler: want NotImplementedException")
	}
}
