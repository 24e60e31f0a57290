package protocol

import (
	"fmt"
	"strconv"
	"strings"
)

// Validator collects constraint violations in the wording AWS services use:
// "1 validation error detected: Value null at 'cluster' failed to satisfy
// constraint: Member must not be null".
type Validator struct {
	violations []string
}

// Join returns the member path of a child: Join("a", "b") is "a.b".
func Join(path, member string) string {
	if path == "" {
		return member
	}
	return path + "." + member
}

// Index returns the path of the i-th (0-based) element of a list, in
// AWS's 1-based style: Index("containerDefinitions", 0) is
// "containerDefinitions.1.member".
func Index(path string, i int) string {
	return Join(path, strconv.Itoa(i+1)+".member")
}

// Bound returns a pointer to a model's min or max, for Range.
func Bound(f float64) *float64 {
	return &f
}

// Redacted stands for the value of a member the model marks sensitive
// (passwords, secrets, key material), which AWS leaves out of messages:
// "Value at 'secretString' failed to satisfy constraint: ...".
var Redacted any = redacted{}

type redacted struct{}

// Add records one violation of value at path.
func (v *Validator) Add(value any, path, constraint string) {
	shown := "Value null"
	switch {
	case value == Redacted:
		shown = "Value"
	case value != nil:
		shown = fmt.Sprintf("Value '%v'", value)
	}
	v.violations = append(v.violations,
		fmt.Sprintf("%s at '%s' failed to satisfy constraint: %s", shown, path, constraint))
}

// Required records a missing required member.
func (v *Validator) Required(present bool, path string) {
	if !present {
		v.Add(nil, path, "Member must not be null")
	}
}

// Length checks a string or list length against the model's min and max (-1: none).
func (v *Validator) Length(value any, n int, path string, min, max int) {
	if min >= 0 && n < min {
		v.Add(value, path, fmt.Sprintf("Member must have length greater than or equal to %d", min))
	}
	if max >= 0 && n > max {
		v.Add(value, path, fmt.Sprintf("Member must have length less than or equal to %d", max))
	}
}

// Range checks a number against the model's min and max.
func (v *Validator) Range(value float64, path string, min, max *float64) {
	if min != nil && value < *min {
		v.Add(value, path, fmt.Sprintf("Member must have value greater than or equal to %v", *min))
	}
	if max != nil && value > *max {
		v.Add(value, path, fmt.Sprintf("Member must have value less than or equal to %v", *max))
	}
}

// Enum checks that value is one of allowed.
func (v *Validator) Enum(value, path string, allowed []string) {
	for _, a := range allowed {
		if value == a {
			return
		}
	}
	v.Add(value, path, "Member must satisfy enum value set: ["+strings.Join(allowed, ", ")+"]")
}

// Err returns nil when nothing was violated, or an error with the given
// code (each service names its own, e.g. ValidationException).
func (v *Validator) Err(code string) error {
	n := len(v.violations)
	if n == 0 {
		return nil
	}
	plural := "error"
	if n > 1 {
		plural = "errors"
	}
	return ClientError(code, "%d validation %s detected: %s", n, plural, strings.Join(v.violations, "; "))
}
