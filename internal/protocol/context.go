package protocol

import "context"

// Caller is who sent a request and where it was aimed, as the signature says.
type Caller struct {
	AccessKeyID string
	AccountID   string
	Region      string
	// Service is the SigV4 signing name in the credential scope.
	Service string
}

// Request describes the API request being served.
type Request struct {
	ID        string
	Service   string
	Operation string
	Caller    Caller
}

type requestKey struct{}

// WithRequest returns ctx carrying r.
func WithRequest(ctx context.Context, r *Request) context.Context {
	return context.WithValue(ctx, requestKey{}, r)
}

// RequestFrom returns the request ctx carries; a request with empty fields
// when there is none (for example in background reconcilers).
func RequestFrom(ctx context.Context) *Request {
	if r, ok := ctx.Value(requestKey{}).(*Request); ok {
		return r
	}
	return &Request{}
}
