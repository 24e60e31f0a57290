// Package gateway is kumo's single AWS endpoint. It reads the signature,
// finds the service and operation from what the request carries, decodes the
// input with the service's wire protocol, calls the handler, and writes the
// output or an AWS-shaped error.
//
//	request ─► auth (SigV4 scope) ─► route ─► decode ─► validate ─► handler ─► encode
//
// Routing, in order: a Smithy RPCv2 path (/service/<S>/operation/<Op>); an
// X-Amz-Target header (<prefix>.<Op>); a form body with Action, whose service
// is the signature's; then raw HTTP handlers by path prefix (/v2/ registry).
package gateway

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/kumo-project/kumo/internal/protocol"
)

// maxBodyBytes bounds API request bodies (PutLogEvents allows about 1 MiB,
// PutMetricData 1 MiB; larger bodies are not AWS API calls).
const maxBodyBytes = 16 << 20

// Protocols of AWS services.
const (
	ProtocolJSON  = "json"
	ProtocolQuery = "query"
)

// Service is one AWS service's entry in the gateway.
type Service struct {
	// SigningName is the SigV4 service name (ecs, logs, elasticloadbalancing, monitoring...).
	SigningName string
	// Protocol is ProtocolJSON or ProtocolQuery. JSON services also accept
	// RPCv2 CBOR at /service/<TargetPrefix>/operation/<Op>; Query services
	// with a TargetPrefix also accept JSON 1.0 in query mode (CloudWatch).
	Protocol     string
	TargetPrefix string
	JSONVersion  string // "1.0" or "1.1"
	APIVersion   string
	XMLNamespace string
	Operations   map[string]*protocol.Operation
	// ValidationErrorCode answers inputs that break the model's constraints.
	ValidationErrorCode string
}

// Authenticator decides who sent a request. The default accepts any
// credentials; IAM enforcement plugs in here.
type Authenticator interface {
	Authenticate(r *http.Request, body []byte) (protocol.Caller, error)
}

// Gateway is the HTTP handler of kumo's endpoint.
type Gateway struct {
	auth     Authenticator
	log      *slog.Logger
	byTarget map[string]*Service // by X-Amz-Target prefix
	bySigner map[string]*Service // by SigV4 signing name
	raw      []rawRoute
}

type rawRoute struct {
	prefix  string
	handler http.Handler
}

// New returns a gateway with no services.
func New(auth Authenticator, log *slog.Logger) *Gateway {
	return &Gateway{auth: auth, log: log, byTarget: map[string]*Service{}, bySigner: map[string]*Service{}}
}

// Register adds a service.
func (g *Gateway) Register(s *Service) {
	if s.TargetPrefix != "" {
		g.byTarget[s.TargetPrefix] = s
	}
	g.bySigner[s.SigningName] = s
}

// Handle serves every path under prefix with h (for REST-style APIs such as
// the registry's /v2/ and kumo's own /_kumo/).
func (g *Gateway) Handle(prefix string, h http.Handler) {
	g.raw = append(g.raw, rawRoute{prefix: prefix, handler: h})
}

// ServeHTTP routes one request.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	requestID := newRequestID()
	w.Header().Set("x-amzn-RequestId", requestID)
	w.Header().Set("x-amz-request-id", requestID)

	if svc, op, ok := g.rpcv2Route(r); ok {
		g.serveAPI(w, r, requestID, svc, op, wireCBOR)
		return
	}
	if target := r.Header.Get("X-Amz-Target"); target != "" {
		prefix, op, _ := strings.Cut(target, ".")
		svc := g.byTarget[prefix]
		if svc == nil {
			writeError(w, wireJSON, "1.1", requestID, protocol.ErrUnknownOperation(target))
			return
		}
		g.serveAPI(w, r, requestID, svc, op, wireJSON)
		return
	}
	for _, route := range g.raw {
		if strings.HasPrefix(r.URL.Path, route.prefix) {
			route.handler.ServeHTTP(w, r)
			return
		}
	}
	if r.Method == http.MethodPost && isForm(r) {
		g.serveQuery(w, r, requestID)
		return
	}
	writeError(w, wireJSON, "1.1", requestID, protocol.ClientError("UnknownOperationException",
		"no AWS operation matches %s %s", r.Method, r.URL.Path).WithStatus(http.StatusNotFound))
}

type wireFormat int

const (
	wireJSON wireFormat = iota
	wireCBOR
	wireQuery
)

func (g *Gateway) rpcv2Route(r *http.Request) (*Service, string, bool) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/service/")
	if !ok || r.Header.Get("Smithy-Protocol") != "rpc-v2-cbor" {
		return nil, "", false
	}
	prefix, op, ok := strings.Cut(rest, "/operation/")
	svc := g.byTarget[prefix]
	return svc, op, ok && svc != nil
}

func isForm(r *http.Request) bool {
	ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
	return strings.TrimSpace(ct) == "application/x-www-form-urlencoded"
}

// serveQuery handles the Query protocol: the service is the one the
// signature names, the operation the form's Action.
func (g *Gateway) serveQuery(w http.ResponseWriter, r *http.Request, requestID string) {
	body, err := readBody(r)
	if err != nil {
		writeError(w, wireQuery, "", requestID, protocol.AsError(err))
		return
	}
	form, perr := url.ParseQuery(string(body))
	if perr != nil {
		writeError(w, wireQuery, "", requestID, protocol.ClientError("MalformedQueryString", "%v", perr))
		return
	}
	cred, _, cerr := protocol.ParseCredential(r)
	if cerr != nil {
		writeError(w, wireQuery, "", requestID, cerr)
		return
	}
	svc := g.bySigner[cred.Service]
	if svc == nil || svc.Protocol != ProtocolQuery {
		writeError(w, wireQuery, "", requestID, protocol.ClientError("InvalidAction",
			"no Query-protocol service %q", cred.Service))
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	g.serveAPI(w, r, requestID, svc, form.Get("Action"), wireQuery)
}

// serveAPI runs one operation of svc.
func (g *Gateway) serveAPI(w http.ResponseWriter, r *http.Request, requestID string, svc *Service, opName string, wire wireFormat) {
	queryMode := r.Header.Get("X-Amzn-Query-Mode") == "true"
	fail := func(err error) {
		e := protocol.AsError(err)
		if e.Status >= 500 {
			g.log.Error("api error", "service", svc.SigningName, "operation", opName, "error", e)
		}
		writeErrorFor(w, svc, wire, queryMode, requestID, e)
	}
	if r.Method != http.MethodPost {
		fail(protocol.ClientError("InvalidAction", "AWS API calls are POST requests").WithStatus(http.StatusMethodNotAllowed))
		return
	}
	op, known := svc.Operations[opName]
	if !known {
		fail(unknownOperation(svc, opName))
		return
	}
	if op == nil {
		fail(protocol.ErrNotImplemented(svc.SigningName, opName))
		return
	}
	body, err := readBody(r)
	if err != nil {
		fail(err)
		return
	}
	caller, err := g.auth.Authenticate(r, body)
	if err != nil {
		fail(err)
		return
	}
	in := op.NewInput()
	if err := decode(wire, body, in); err != nil {
		fail(err)
		return
	}
	if v, ok := in.(protocol.Validatable); ok {
		var val protocol.Validator
		v.Validate(&val, "")
		if err := val.Err(svc.ValidationErrorCode); err != nil {
			fail(err)
			return
		}
	}
	ctx := protocol.WithRequest(r.Context(), &protocol.Request{
		ID: requestID, Service: svc.SigningName, Operation: opName, Caller: caller,
	})
	out, err := callSafely(ctx, op, in)
	if err != nil {
		fail(err)
		return
	}
	writeOutput(w, svc, wire, opName, requestID, out)
}

// callSafely turns a handler panic into an InternalFailure: one bad request
// must never take kumo down.
func callSafely(ctx context.Context, op *protocol.Operation, in any) (out any, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = protocol.ServerError("InternalFailure", "handler panic: %v", p)
		}
	}()
	return op.Call(ctx, in)
}

func unknownOperation(svc *Service, op string) *protocol.Error {
	if svc.Protocol == ProtocolQuery {
		return protocol.ClientError("InvalidAction", "The action %s is not valid for this web service.", op)
	}
	return protocol.ErrUnknownOperation(op)
}

func decode(wire wireFormat, body []byte, in any) error {
	switch wire {
	case wireCBOR:
		return protocol.DecodeCBOR(body, in)
	case wireQuery:
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return protocol.ClientError("MalformedQueryString", "%v", err)
		}
		if err := protocol.DecodeQuery(form, in); err != nil {
			return protocol.ClientError("ValidationError", "%v", err)
		}
		return nil
	}
	return protocol.DecodeJSON(body, in)
}

func writeOutput(w http.ResponseWriter, svc *Service, wire wireFormat, op, requestID string, out any) {
	switch wire {
	case wireCBOR:
		protocol.WriteCBOR(w, out)
	case wireQuery:
		// Encode fully first, so a failure can still answer a clean error.
		var body bytes.Buffer
		if err := protocol.EncodeQueryResponse(&body, op, svc.XMLNamespace, requestID, out); err != nil {
			protocol.EncodeQueryError(w, protocol.ServerError("InternalFailure", "encode response: %v", err), requestID)
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		w.Write(body.Bytes())
	default:
		protocol.WriteJSON(w, jsonContentType(svc.JSONVersion), out)
	}
}

func writeErrorFor(w http.ResponseWriter, svc *Service, wire wireFormat, queryMode bool, requestID string, e *protocol.Error) {
	if wire == wireJSON && queryMode {
		protocol.WriteJSONError(w, jsonContentType(svc.JSONVersion), true, e)
		return
	}
	writeError(w, wire, svc.JSONVersion, requestID, e)
}

func writeError(w http.ResponseWriter, wire wireFormat, jsonVersion, requestID string, e *protocol.Error) {
	switch wire {
	case wireCBOR:
		protocol.WriteCBORError(w, e)
	case wireQuery:
		protocol.EncodeQueryError(w, e, requestID)
	default:
		protocol.WriteJSONError(w, jsonContentType(jsonVersion), false, e)
	}
}

func jsonContentType(version string) string {
	if version == "" {
		version = "1.1"
	}
	return "application/x-amz-json-" + version
}

// readBody reads a bounded request body, gunzipping it when the client
// compressed it (CloudWatch PutMetricData does).
func readBody(r *http.Request) ([]byte, error) {
	var reader io.Reader = http.MaxBytesReader(nil, r.Body, maxBodyBytes)
	if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
		zr, err := gzip.NewReader(reader)
		if err != nil {
			return nil, protocol.ErrSerialization("bad gzip body: %v", err)
		}
		defer zr.Close()
		reader = io.LimitReader(zr, maxBodyBytes)
	}
	body, err := io.ReadAll(reader)
	if err != nil {
		return nil, protocol.ClientError("RequestEntityTooLarge", "request body: %v", err).WithStatus(http.StatusRequestEntityTooLarge)
	}
	return body, nil
}

// newRequestID returns a random UUID, the shape of AWS request IDs.
func newRequestID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
