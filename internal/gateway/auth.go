package gateway

import (
	"net/http"

	"github.com/kumo-project/kumo/internal/protocol"
)

// AnyCredentials accepts every request, signed with any credentials or not,
// and takes the region from the signature. It is the authenticator until
// IAM enforcement exists; it still refuses malformed signatures.
type AnyCredentials struct {
	AccountID     string
	DefaultRegion string
}

// Authenticate implements Authenticator.
func (a AnyCredentials) Authenticate(r *http.Request, _ []byte) (protocol.Caller, error) {
	caller := protocol.Caller{AccountID: a.AccountID, Region: a.DefaultRegion}
	cred, signed, err := protocol.ParseCredential(r)
	if err != nil {
		return caller, err
	}
	if signed {
		caller.AccessKeyID = cred.AccessKeyID
		caller.Region = cred.Region
		caller.Service = cred.Service
	}
	return caller, nil
}
