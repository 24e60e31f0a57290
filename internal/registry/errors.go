package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// Code is an error code of the OCI Distribution Spec, sent in the "code"
// member of the JSON error body.
type Code string

// The error codes of the OCI Distribution Spec v1.1.
const (
	CodeBlobUnknown         Code = "BLOB_UNKNOWN"
	CodeBlobUploadInvalid   Code = "BLOB_UPLOAD_INVALID"
	CodeBlobUploadUnknown   Code = "BLOB_UPLOAD_UNKNOWN"
	CodeDigestInvalid       Code = "DIGEST_INVALID"
	CodeManifestBlobUnknown Code = "MANIFEST_BLOB_UNKNOWN"
	CodeManifestInvalid     Code = "MANIFEST_INVALID"
	CodeManifestUnknown     Code = "MANIFEST_UNKNOWN"
	CodeNameInvalid         Code = "NAME_INVALID"
	CodeNameUnknown         Code = "NAME_UNKNOWN"
	CodeSizeInvalid         Code = "SIZE_INVALID"
	CodeUnauthorized        Code = "UNAUTHORIZED"
	CodeDenied              Code = "DENIED"
	CodeUnsupported         Code = "UNSUPPORTED"
	CodeTooManyRequests     Code = "TOOMANYREQUESTS"
	// CodeTagInvalid is not in the OCI spec but in Docker's registry API;
	// ECR answers it for a push to an existing tag of an immutable
	// repository, and clients print it as "tag invalid: <message>".
	CodeTagInvalid Code = "TAG_INVALID"
)

// status is the HTTP status each code travels with unless an Error says otherwise.
var status = map[Code]int{
	CodeBlobUnknown:         http.StatusNotFound,
	CodeBlobUploadInvalid:   http.StatusBadRequest,
	CodeBlobUploadUnknown:   http.StatusNotFound,
	CodeDigestInvalid:       http.StatusBadRequest,
	CodeManifestBlobUnknown: http.StatusBadRequest,
	CodeManifestInvalid:     http.StatusBadRequest,
	CodeManifestUnknown:     http.StatusNotFound,
	CodeNameInvalid:         http.StatusBadRequest,
	CodeNameUnknown:         http.StatusNotFound,
	CodeSizeInvalid:         http.StatusBadRequest,
	CodeUnauthorized:        http.StatusUnauthorized,
	CodeDenied:              http.StatusForbidden,
	CodeUnsupported:         http.StatusMethodNotAllowed,
	CodeTooManyRequests:     http.StatusTooManyRequests,
	CodeTagInvalid:          http.StatusBadRequest,
}

// Error is a registry error: a spec code, a message for people and an
// optional detail. Errors compare equal under errors.Is when their codes
// match, so callers test with errors.Is(err, registry.ErrBlobUnknown).
type Error struct {
	Code    Code
	Message string
	// Detail is optional structured context, sent as the "detail" member.
	Detail any
	// Status overrides the code's usual HTTP status when not zero.
	Status int
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// Is reports whether target is a registry error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// HTTPStatus is the status the error is answered with.
func (e *Error) HTTPStatus() int {
	if e.Status != 0 {
		return e.Status
	}
	if s, ok := status[e.Code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Sentinels for errors.Is.
var (
	ErrBlobUnknown         = &Error{Code: CodeBlobUnknown}
	ErrBlobUploadInvalid   = &Error{Code: CodeBlobUploadInvalid}
	ErrBlobUploadUnknown   = &Error{Code: CodeBlobUploadUnknown}
	ErrDigestInvalid       = &Error{Code: CodeDigestInvalid}
	ErrManifestBlobUnknown = &Error{Code: CodeManifestBlobUnknown}
	ErrManifestInvalid     = &Error{Code: CodeManifestInvalid}
	ErrManifestUnknown     = &Error{Code: CodeManifestUnknown}
	ErrNameInvalid         = &Error{Code: CodeNameInvalid}
	ErrNameUnknown         = &Error{Code: CodeNameUnknown}
	ErrSizeInvalid         = &Error{Code: CodeSizeInvalid}
	ErrUnauthorized        = &Error{Code: CodeUnauthorized}
	ErrDenied              = &Error{Code: CodeDenied}
	ErrUnsupported         = &Error{Code: CodeUnsupported}
	ErrTooManyRequests     = &Error{Code: CodeTooManyRequests}
	ErrTagInvalid          = &Error{Code: CodeTagInvalid}
)

// errRangeInvalid marks an upload chunk that does not start where the
// upload ends; it is answered with 416 and BLOB_UPLOAD_INVALID.
var errRangeInvalid = &Error{Code: CodeBlobUploadInvalid, Status: http.StatusRequestedRangeNotSatisfiable}

// newError returns an error with code and a formatted message.
func newError(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// NewError returns a registry error; policies use it to refuse a push with
// the code a client understands (DENIED, NAME_UNKNOWN...).
func NewError(code Code, message string) *Error {
	return &Error{Code: code, Message: message}
}

// asError turns any error into a registry error. Errors that are not
// *Error are internal faults and answered as 500 without their text.
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: "INTERNAL_ERROR", Message: "internal error", Status: http.StatusInternalServerError}
}

// errorBody is the spec's JSON error envelope.
type errorBody struct {
	Errors []errorEntry `json:"errors"`
}

type errorEntry struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
	Detail  any    `json:"detail,omitempty"`
}

// writeError answers err as the spec's JSON error body.
func writeError(w http.ResponseWriter, err error) {
	e := asError(err)
	msg := e.Message
	if msg == "" {
		msg = string(e.Code)
	}
	body, _ := json.Marshal(errorBody{Errors: []errorEntry{{Code: e.Code, Message: msg, Detail: e.Detail}}})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(e.HTTPStatus())
	_, _ = w.Write(body)
}
