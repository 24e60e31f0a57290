package registry

import (
	"regexp"

	"github.com/opencontainers/go-digest"
	// Register the hash functions go-digest verifies with.
	_ "crypto/sha256"
	_ "crypto/sha512"
)

// nameRE is the repository name grammar of the distribution spec: path
// components of lower-case alphanumerics joined by separators.
var nameRE = regexp.MustCompile(`^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$`)

// tagRE is the tag grammar of the distribution spec.
var tagRE = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)

// maxNameLength bounds a repository name; ECR allows 256 characters.
const maxNameLength = 256

// ValidateName checks a repository name against the spec's grammar.
func ValidateName(name string) error {
	if len(name) > maxNameLength || !nameRE.MatchString(name) {
		return newError(CodeNameInvalid, "invalid repository name %q", name)
	}
	return nil
}

// ValidateTag checks a tag against the spec's grammar.
func ValidateTag(tag string) error {
	if !tagRE.MatchString(tag) {
		return newError(CodeManifestInvalid, "invalid tag %q", tag)
	}
	return nil
}

// ParseDigest parses a digest of a supported algorithm (sha256, sha512).
func ParseDigest(s string) (digest.Digest, error) {
	d, err := digest.Parse(s)
	if err != nil {
		return "", newError(CodeDigestInvalid, "invalid digest %q: %v", s, err)
	}
	return d, nil
}

// isDigestRef reports whether a manifest reference names a digest rather
// than a tag: tags cannot contain a colon.
func isDigestRef(ref string) bool {
	for i := 0; i < len(ref); i++ {
		if ref[i] == ':' {
			return true
		}
	}
	return false
}
