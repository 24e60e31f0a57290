package protocol

import (
	"errors"
	"fmt"
	"net/http"
)

// Error is an AWS-shaped error: a code the SDKs map to a typed exception,
// a message, and the HTTP status it travels with.
type Error struct {
	Code    string
	Message string
	Status  int
	// Sender is true for client faults (4xx), false for server faults (5xx).
	// Query-protocol clients read it as Type Sender/Receiver.
	Sender bool
	// Fields are extra members serialized beside code and message
	// (for example ECS's "reason" or ECR's "registryId").
	Fields map[string]any
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// ClientError returns an error with HTTP status 400 caused by the caller.
func ClientError(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Status: http.StatusBadRequest, Sender: true}
}

// ServerError returns an error with HTTP status 500 caused by kumo.
func ServerError(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Status: http.StatusInternalServerError}
}

// WithStatus returns a copy of e with another HTTP status.
func (e *Error) WithStatus(status int) *Error {
	c := *e
	c.Status = status
	c.Sender = status < 500
	return &c
}

// AsError turns any error into an AWS error. Errors that are not
// *Error become an InternalFailure so no internal detail leaks on the wire.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return ServerError("InternalFailure", "internal error: %v", err)
}

// Common errors every service may answer.
var (
	ErrUnknownOperation = func(op string) *Error {
		return &Error{Code: "UnknownOperationException", Message: "unknown operation " + op, Status: http.StatusBadRequest, Sender: true}
	}
	ErrNotImplemented = func(service, op string) *Error {
		return &Error{Code: "NotImplementedException", Message: fmt.Sprintf("kumo does not implement %s:%s yet", service, op), Status: http.StatusNotImplemented, Sender: false}
	}
	ErrSerialization = func(format string, args ...any) *Error {
		return ClientError("SerializationException", format, args...)
	}
)
