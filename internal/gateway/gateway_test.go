package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/kumo-project/kumo/internal/protocol"
)

type echoInput struct {
	Name  string `json:"name,omitempty" query:"Name"`
	Count *int32 `json:"count,omitempty" query:"Count"`
}

func (in *echoInput) Validate(v *protocol.Validator, path string) {
	v.Required(in.Name != "", protocol.Join(path, "name"))
}

type echoOutput struct {
	Greeting string `json:"greeting" xml:"Greeting"`
	Region   string `json:"region" xml:"Region"`
	Account  string `json:"account" xml:"Account"`
}

func echo(ctx context.Context, in *echoInput) (*echoOutput, error) {
	if in.Name == "boom" {
		return nil, protocol.ClientError("BoomException", "it went boom")
	}
	if in.Name == "panic" {
		panic("handler bug")
	}
	c := protocol.RequestFrom(ctx).Caller
	return &echoOutput{Greeting: "hello " + in.Name, Region: c.Region, Account: c.AccountID}, nil
}

func newTestGateway() *httptest.Server {
	g := New(AnyCredentials{AccountID: "000000000000", DefaultRegion: "us-east-1"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ops := map[string]*protocol.Operation{"Echo": protocol.Op(echo), "Later": nil}
	g.Register(&Service{SigningName: "echo", Protocol: ProtocolJSON, TargetPrefix: "Echo_20200101", JSONVersion: "1.1",
		Operations: ops, ValidationErrorCode: "ValidationException"})
	g.Register(&Service{SigningName: "qecho", Protocol: ProtocolQuery, APIVersion: "2020-01-01", XMLNamespace: "https://q/",
		Operations: ops, ValidationErrorCode: "ValidationError"})
	g.Handle("/raw/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("raw")) }))
	return httptest.NewServer(g)
}

func signed(req *http.Request, region, service string) *http.Request {
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20260101/"+region+"/"+service+"/aws4_request, SignedHeaders=host, Signature=abc")
	return req
}

func jsonCall(t *testing.T, url, target, body string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("X-Amz-Target", target)
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	resp, err := http.DefaultClient.Do(signed(req, "eu-west-1", "echo"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp, out
}

func TestJSONProtocol(t *testing.T) {
	t.Parallel()
	srv := newTestGateway()
	defer srv.Close()
	cases := []struct {
		name, target, body string
		status             int
		want               string // __type, or greeting
	}{
		{"ok", "Echo_20200101.Echo", `{"name":"kumo"}`, 200, "hello kumo"},
		{"empty body is {}", "Echo_20200101.Echo", ``, 400, "ValidationException"},
		{"handler error", "Echo_20200101.Echo", `{"name":"boom"}`, 400, "BoomException"},
		{"panic is contained", "Echo_20200101.Echo", `{"name":"panic"}`, 500, "InternalFailure"},
		{"not implemented", "Echo_20200101.Later", `{"name":"x"}`, 501, "NotImplementedException"},
		{"unknown operation", "Echo_20200101.Nope", `{}`, 400, "UnknownOperationException"},
		{"unknown service", "Other.Echo", `{}`, 400, "UnknownOperationException"},
		{"bad JSON", "Echo_20200101.Echo", `{"name":`, 400, "SerializationException"},
		{"wrong type", "Echo_20200101.Echo", `{"name":"x","count":"three"}`, 400, "SerializationException"},
	}
	for _, c := range cases {
		resp, out := jsonCall(t, srv.URL, c.target, c.body)
		got, _ := out["__type"].(string)
		if resp.StatusCode == 200 {
			got, _ = out["greeting"].(string)
			if out["region"] != "eu-west-1" || out["account"] != "000000000000" {
				t.Errorf("%s: region/account from the signature: %v", c.name, out)
			}
		}
		if resp.StatusCode != c.status || got != c.want {
			t.Errorf("%s: %d %v, want %d %s", c.name, resp.StatusCode, out, c.status, c.want)
		}
		if resp.Header.Get("x-amzn-RequestId") == "" {
			t.Errorf("%s: no request ID", c.name)
		}
	}
}

func TestQueryModeErrorHeader(t *testing.T) {
	t.Parallel()
	srv := newTestGateway()
	defer srv.Close()
	req, _ := http.NewRequest("POST", srv.URL, strings.NewReader(`{"name":"boom"}`))
	req.Header.Set("X-Amz-Target", "Echo_20200101.Echo")
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amzn-Query-Mode", "true")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("x-amzn-query-error"); got != "BoomException;Sender" {
		t.Errorf("x-amzn-query-error = %q", got)
	}
}

func TestQueryProtocol(t *testing.T) {
	t.Parallel()
	srv := newTestGateway()
	defer srv.Close()
	call := func(form url.Values, service string) (int, string) {
		req, _ := http.NewRequest("POST", srv.URL, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		resp, err := http.DefaultClient.Do(signed(req, "us-west-2", service))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	status, body := call(url.Values{"Version": {"2020-01-01"}, "Action": {"Echo"}, "Name": {"q"}}, "qecho")
	if status != 200 || !strings.Contains(body, "<Greeting>hello q</Greeting>") || !strings.Contains(body, "<EchoResponse") || !strings.Contains(body, "<Region>us-west-2</Region>") {
		t.Errorf("query ok: %d %s", status, body)
	}
	status, body = call(url.Values{"Action": {"Nope"}}, "qecho")
	if status != 400 || !strings.Contains(body, "<Code>InvalidAction</Code>") {
		t.Errorf("query unknown action: %d %s", status, body)
	}
	status, body = call(url.Values{"Action": {"Echo"}}, "qecho")
	if status != 400 || !strings.Contains(body, "<Code>ValidationError</Code>") {
		t.Errorf("query missing name: %d %s", status, body)
	}
}

func TestRPCv2CBOR(t *testing.T) {
	t.Parallel()
	srv := newTestGateway()
	defer srv.Close()
	body, _ := cbor.Marshal(map[string]any{"name": "cbor"})
	req, _ := http.NewRequest("POST", srv.URL+"/service/Echo_20200101/operation/Echo", bytes.NewReader(body))
	req.Header.Set("Smithy-Protocol", "rpc-v2-cbor")
	req.Header.Set("Content-Type", "application/cbor")
	resp, err := http.DefaultClient.Do(signed(req, "us-east-1", "echo"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := cbor.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || out["greeting"] != "hello cbor" || resp.Header.Get("Smithy-Protocol") != "rpc-v2-cbor" {
		t.Errorf("cbor: %d %v", resp.StatusCode, out)
	}
}

func TestRawRoutesAndUnknownPaths(t *testing.T) {
	t.Parallel()
	srv := newTestGateway()
	defer srv.Close()
	resp, _ := http.Get(srv.URL + "/raw/x")
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "raw" {
		t.Errorf("raw route: %s", b)
	}
	resp, _ = http.Get(srv.URL + "/nothing")
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("unknown path: %d", resp.StatusCode)
	}
}

func TestMalformedSignature(t *testing.T) {
	t.Parallel()
	srv := newTestGateway()
	defer srv.Close()
	req, _ := http.NewRequest("POST", srv.URL, strings.NewReader(`{"name":"x"}`))
	req.Header.Set("X-Amz-Target", "Echo_20200101.Echo")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1, Signature=abc")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(b), "IncompleteSignatureException") {
		t.Errorf("malformed signature: %d %s", resp.StatusCode, b)
	}
}

func FuzzJSONRequest(f *testing.F) {
	srv := newTestGateway()
	defer srv.Close()
	for _, s := range []string{`{"name":"x"}`, `{"count":1.0,"name":"y"}`, `[]`, `{"name":{"a":1}}`, "\x00"} {
		f.Add(s)
	}
	g := New(AnyCredentials{AccountID: "000000000000", DefaultRegion: "us-east-1"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	g.Register(&Service{SigningName: "echo", Protocol: ProtocolJSON, TargetPrefix: "Echo_20200101",
		Operations: map[string]*protocol.Operation{"Echo": protocol.Op(echo)}, ValidationErrorCode: "ValidationException"})
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest("POST", "/", strings.NewReader(body))
		req.Header.Set("X-Amz-Target", "Echo_20200101.Echo")
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, req)
		if rec.Code != 200 && rec.Code != 400 && !(rec.Code == 500 && strings.Contains(body, "panic")) {
			t.Errorf("status %d for %q: %s", rec.Code, body, rec.Body)
		}
	})
}
