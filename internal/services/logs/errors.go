package logs

import (
	"errors"
	"regexp"
	"strings"

	"github.com/kumo-project/kumo/internal/protocol"
	"github.com/kumo-project/kumo/internal/services/logs/filterpattern"
	"github.com/kumo-project/kumo/internal/services/logs/insights"
	"github.com/kumo-project/kumo/internal/services/logs/logstore"
)

// The Logs API's error codes, as the SDKs map them to typed exceptions.
func invalidParameter(format string, args ...any) error {
	return protocol.ClientError("InvalidParameterException", format, args...)
}

func resourceNotFound(format string, args ...any) error {
	return protocol.ClientError("ResourceNotFoundException", format, args...)
}

func alreadyExists(format string, args ...any) error {
	return protocol.ClientError("ResourceAlreadyExistsException", format, args...)
}

func limitExceeded(format string, args ...any) error {
	return protocol.ClientError("LimitExceededException", format, args...)
}

func serviceUnavailable(err error) error {
	return protocol.ServerError("ServiceUnavailableException", "%v", err).WithStatus(503)
}

var (
	errGroupNotFound  = func() error { return resourceNotFound("The specified log group does not exist.") }
	errStreamNotFound = func() error { return resourceNotFound("The specified log stream does not exist.") }
)

// groupError maps an engine error about a log group to AWS's.
func groupError(err error) error {
	switch {
	case errors.Is(err, logstore.ErrNotFound):
		return errGroupNotFound()
	case errors.Is(err, logstore.ErrAlreadyExists):
		return alreadyExists("The specified log group already exists")
	}
	return serviceUnavailable(err)
}

// streamError maps an engine error about a log stream (or its group).
func streamError(err error) error {
	switch {
	case errors.Is(err, logstore.ErrNotFound):
		return errStreamNotFound()
	case errors.Is(err, logstore.ErrAlreadyExists):
		return alreadyExists("The specified log stream already exists")
	}
	return serviceUnavailable(err)
}

// patternError maps a filter pattern's syntax error.
func patternError(err error) error {
	var se *filterpattern.SyntaxError
	if errors.As(err, &se) {
		return invalidParameter("%s", se.Message)
	}
	return invalidParameter("Invalid filter pattern: %v", err)
}

// queryError maps an Insights parse error to MalformedQueryException with
// the location AWS reports.
func queryError(err error) error {
	var qe *insights.Error
	if !errors.As(err, &qe) {
		return protocol.ClientError("MalformedQueryException", "%v", err)
	}
	e := protocol.ClientError("MalformedQueryException", "%s", qe.Message)
	e.Fields = map[string]any{"queryCompileError": map[string]any{
		"location": map[string]any{"startCharOffset": qe.Start, "endCharOffset": qe.End},
		"message":  qe.Message,
	}}
	return e
}

// Name patterns of the model, which the generated validation leaves out.
var (
	groupNamePattern  = regexp.MustCompile(`^[\.\-_/#A-Za-z0-9]+$`)
	streamNamePattern = regexp.MustCompile(`^[^:*]*$`)
)

// checkName checks a name against its pattern, with AWS's message.
func checkName(field, value string, pattern *regexp.Regexp) error {
	if pattern.MatchString(value) {
		return nil
	}
	expr := strings.TrimSuffix(strings.TrimPrefix(pattern.String(), "^"), "$")
	return invalidParameter("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: %s", value, field, expr)
}
