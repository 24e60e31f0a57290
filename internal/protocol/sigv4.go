package protocol

import (
	"net/http"
	"strings"
)

// Credential is the credential scope of a SigV4 signature:
// AKID/20260101/us-east-1/ecs/aws4_request.
type Credential struct {
	AccessKeyID string
	Date        string
	Region      string
	Service     string
}

// ParseCredential reads the SigV4 credential scope of a request, from the
// Authorization header or from a presigned URL's X-Amz-Credential. ok is
// false for an unsigned request; err is set for a malformed signature.
func ParseCredential(r *http.Request) (cred Credential, ok bool, err *Error) {
	scope := r.URL.Query().Get("X-Amz-Credential")
	if auth := r.Header.Get("Authorization"); auth != "" {
		if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 ") {
			return cred, false, nil // Basic/Bearer auth is for the registry, not SigV4
		}
		scope = authField(auth[len("AWS4-HMAC-SHA256 "):], "Credential")
		if scope == "" {
			return cred, false, incompleteSignature("Authorization header requires 'Credential' parameter.")
		}
	}
	if scope == "" {
		return cred, false, nil
	}
	parts := strings.Split(scope, "/")
	if len(parts) != 5 || parts[4] != "aws4_request" || parts[0] == "" {
		return cred, false, incompleteSignature("Credential should be scoped to a valid region, not '%s'.", scope)
	}
	return Credential{AccessKeyID: parts[0], Date: parts[1], Region: parts[2], Service: parts[3]}, true, nil
}

// authField returns the value of one comma-separated name=value field of a
// SigV4 Authorization header.
func authField(header, name string) string {
	for _, f := range strings.Split(header, ",") {
		k, v, found := strings.Cut(strings.TrimSpace(f), "=")
		if found && k == name {
			return v
		}
	}
	return ""
}

func incompleteSignature(format string, args ...any) *Error {
	return ClientError("IncompleteSignatureException", format, args...)
}
