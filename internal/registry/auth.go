package registry

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/kumo-project/kumo/internal/clock"
)

// Principal is who a request authenticated as.
type Principal struct {
	// Name identifies the caller (an account ID or user name); empty for
	// anonymous callers.
	Name string
}

// Authenticator checks registry credentials. ECR backs it with the tokens
// GetAuthorizationToken hands out (Basic "AWS:<token>"); TokenAuth is a
// complete implementation it can use.
type Authenticator interface {
	// Required reports whether requests without credentials are refused.
	Required() bool
	// CheckBasic validates Basic credentials.
	CheckBasic(ctx context.Context, user, password string) (Principal, error)
	// IssueBearer returns a bearer token for p and its lifetime, for the
	// token endpoint of the Docker token flow.
	IssueBearer(ctx context.Context, p Principal, service string, scopes []string) (string, time.Duration, error)
	// CheckBearer validates a token IssueBearer returned.
	CheckBearer(ctx context.Context, token string) (Principal, error)
}

// TokenPath is where the handler serves the Docker token endpoint.
const TokenPath = "/_kumo/registry/token"

// errBadCredentials is returned for credentials that do not verify.
var errBadCredentials = errors.New("invalid credentials")

// TokenAuth issues and verifies HMAC-signed tokens: "<payload>.<mac>" in
// base64url, where the payload names the principal, a kind and the expiry.
// The same key must sign and verify, so tokens survive only as long as it
// does; kumo keeps the key in its state.
type TokenAuth struct {
	key      []byte
	clock    clock.Clock
	required bool
	// BearerTTL is the lifetime of bearer tokens; 15 minutes by default.
	BearerTTL time.Duration
}

var _ Authenticator = (*TokenAuth)(nil)

// NewTokenAuth returns a TokenAuth signing with key. required refuses
// anonymous requests.
func NewTokenAuth(key []byte, clk clock.Clock, required bool) *TokenAuth {
	if clk == nil {
		clk = clock.Real{}
	}
	return &TokenAuth{key: key, clock: clk, required: required, BearerTTL: 15 * time.Minute}
}

type tokenPayload struct {
	Sub  string `json:"sub"`
	Kind string `json:"kind"` // "basic" (ECR password) or "bearer"
	Exp  int64  `json:"exp"`
}

// Issue returns a password token for principal, valid for ttl, as
// GetAuthorizationToken returns it (before base64("AWS:" + token)).
func (a *TokenAuth) Issue(principal string, ttl time.Duration) (string, time.Time) {
	exp := a.clock.Now().Add(ttl)
	return a.sign(tokenPayload{Sub: principal, Kind: "basic", Exp: exp.Unix()}), exp
}

func (a *TokenAuth) sign(p tokenPayload) string {
	body, _ := json.Marshal(p)
	mac := hmac.New(sha256.New, a.key)
	mac.Write(body)
	enc := base64.RawURLEncoding
	return enc.EncodeToString(body) + "." + enc.EncodeToString(mac.Sum(nil))
}

// verify checks a token's signature, kind and expiry.
func (a *TokenAuth) verify(token, kind string) (Principal, error) {
	body64, mac64, ok := strings.Cut(token, ".")
	if !ok {
		return Principal{}, errBadCredentials
	}
	enc := base64.RawURLEncoding
	body, err1 := enc.DecodeString(body64)
	sum, err2 := enc.DecodeString(mac64)
	if err1 != nil || err2 != nil {
		return Principal{}, errBadCredentials
	}
	mac := hmac.New(sha256.New, a.key)
	mac.Write(body)
	if !hmac.Equal(sum, mac.Sum(nil)) {
		return Principal{}, errBadCredentials
	}
	var p tokenPayload
	if json.Unmarshal(body, &p) != nil || p.Kind != kind || a.clock.Now().Unix() >= p.Exp {
		return Principal{}, errBadCredentials
	}
	return Principal{Name: p.Sub}, nil
}

// Required reports whether anonymous requests are refused.
func (a *TokenAuth) Required() bool { return a.required }

// CheckBasic accepts user "AWS" with a password token from Issue.
func (a *TokenAuth) CheckBasic(ctx context.Context, user, password string) (Principal, error) {
	if user != "AWS" {
		return Principal{}, errBadCredentials
	}
	return a.verify(password, "basic")
}

// IssueBearer returns a short-lived bearer token for p.
func (a *TokenAuth) IssueBearer(ctx context.Context, p Principal, service string, scopes []string) (string, time.Duration, error) {
	exp := a.clock.Now().Add(a.BearerTTL)
	return a.sign(tokenPayload{Sub: p.Name, Kind: "bearer", Exp: exp.Unix()}), a.BearerTTL, nil
}

// CheckBearer validates a bearer token from IssueBearer.
func (a *TokenAuth) CheckBearer(ctx context.Context, token string) (Principal, error) {
	return a.verify(token, "bearer")
}

// authenticate checks the request's credentials. ok is false when the
// request must be refused with a challenge.
func (r *Registry) authenticate(req *http.Request) (Principal, bool) {
	if r.cfg.Auth == nil {
		return Principal{}, true
	}
	return Authenticate(r.cfg.Auth, req)
}

// Authenticate checks a registry request's credentials with a (Basic, or
// a Bearer token from IssueBearer): ok is false when they are wrong, or
// missing while a requires them.
func Authenticate(a Authenticator, req *http.Request) (Principal, bool) {
	h := req.Header.Get("Authorization")
	if h == "" {
		return Principal{}, !a.Required()
	}
	if user, pass, ok := req.BasicAuth(); ok {
		p, err := a.CheckBasic(req.Context(), user, pass)
		return p, err == nil
	}
	if scheme, token, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "Bearer") {
		p, err := a.CheckBearer(req.Context(), strings.TrimSpace(token))
		return p, err == nil
	}
	return Principal{}, false
}

// challenge answers 401 UNAUTHORIZED with a Bearer challenge pointing at
// the token endpoint.
func (r *Registry) challenge(w http.ResponseWriter, req *http.Request, scope string) {
	realm := r.cfg.TokenRealm
	if realm == "" {
		scheme := "http"
		if req.TLS != nil {
			scheme = "https"
		}
		realm = scheme + "://" + req.Host + TokenPath
	}
	c := `Bearer realm="` + realm + `",service="` + r.cfg.Service + `"`
	if scope != "" {
		c += `,scope="` + scope + `"`
	}
	w.Header().Set("WWW-Authenticate", c)
	writeError(w, newError(CodeUnauthorized, "authentication required"))
}

// tokenResponse is the body of the Docker token endpoint.
type tokenResponse struct {
	Token       string `json:"token"`
	AccessToken string `json:"access_token"`
	ExpiresIn   int    `json:"expires_in"`
	IssuedAt    string `json:"issued_at"`
}

// serveToken is the token endpoint of the Docker token flow. GET takes
// Basic credentials; POST takes the OAuth2 password grant as a form, which
// containerd tries first. Anonymous callers get a token when auth is
// optional.
func (r *Registry) serveToken(w http.ResponseWriter, req *http.Request) {
	a := r.cfg.Auth
	if a == nil {
		writeError(w, newError(CodeUnsupported, "registry authentication is not enabled"))
		return
	}
	var user, pass, service string
	var scopes []string
	var hasCreds bool
	switch req.Method {
	case http.MethodGet:
		user, pass, hasCreds = req.BasicAuth()
		q := req.URL.Query()
		service, scopes = q.Get("service"), q["scope"]
	case http.MethodPost:
		if err := req.ParseForm(); err != nil || req.PostForm.Get("grant_type") != "password" {
			writeError(w, &Error{Code: CodeUnsupported, Message: "only the password grant is supported", Status: http.StatusBadRequest})
			return
		}
		user, pass, hasCreds = req.PostForm.Get("username"), req.PostForm.Get("password"), true
		service, scopes = req.PostForm.Get("service"), strings.Fields(req.PostForm.Get("scope"))
	default:
		writeError(w, newError(CodeUnsupported, "method %s not allowed", req.Method))
		return
	}
	var p Principal
	if hasCreds {
		var err error
		if p, err = a.CheckBasic(req.Context(), user, pass); err != nil {
			w.Header().Set("WWW-Authenticate", `Basic realm="kumo"`)
			writeError(w, newError(CodeUnauthorized, "invalid credentials"))
			return
		}
	} else if a.Required() {
		w.Header().Set("WWW-Authenticate", `Basic realm="kumo"`)
		writeError(w, newError(CodeUnauthorized, "credentials required"))
		return
	}
	token, ttl, err := a.IssueBearer(req.Context(), p, service, scopes)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, tokenResponse{
		Token: token, AccessToken: token, ExpiresIn: int(ttl.Seconds()),
		IssuedAt: r.clock.Now().UTC().Format(time.RFC3339),
	})
}
