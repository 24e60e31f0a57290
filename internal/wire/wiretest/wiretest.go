// Package wiretest holds test helpers for the generated wire packages.
package wiretest

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/kumo-project/kumo/internal/protocol"
)

// DecodeSkeleton decodes the JSON file at path into in, refusing members
// in has no field for, then validates it. The files are the aws CLI's
// --generate-cli-skeleton output, which lists every member of an input, so
// a member the generator misnamed or dropped fails the test. Validation
// must not fail for another reason than the placeholders (empty strings,
// zeros) of the skeleton, so it returns the validation error for the
// caller to check.
func DecodeSkeleton(t *testing.T, path string, in protocol.Validatable) *protocol.Error {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(in); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var v protocol.Validator
	in.Validate(&v, "")
	var e *protocol.Error
	if err := v.Err("ValidationException"); err != nil && !errors.As(err, &e) {
		t.Fatalf("%s: validation returned %T", path, err)
	}
	return e
}
