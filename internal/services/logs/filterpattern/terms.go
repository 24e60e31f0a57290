package filterpattern

import (
	"regexp"
	"strings"
	"unicode"
)

// termSet is an unstructured pattern: every required term must occur, no
// excluded term may occur, and if there are optional (?) terms at least one
// of them must occur.
type termSet struct {
	required []term
	excluded []term
	anyOf    []term
}

// term is a literal substring or a %regex%.
type term struct {
	text string
	re   *regexp.Regexp
}

func (t term) in(message string) bool {
	if t.re != nil {
		return t.re.MatchString(message)
	}
	return strings.Contains(message, t.text)
}

func (s *termSet) match(message string) (Fields, bool) {
	for _, t := range s.required {
		if !t.in(message) {
			return Fields{}, false
		}
	}
	for _, t := range s.excluded {
		if t.in(message) {
			return Fields{}, false
		}
	}
	if len(s.anyOf) == 0 {
		return Fields{}, true
	}
	for _, t := range s.anyOf {
		if t.in(message) {
			return Fields{}, true
		}
	}
	return Fields{}, false
}

// compileTerms parses space-separated terms, each optionally prefixed by ?
// (any of) or - (exclude), written bare (letters, digits, underscore), as a
// "quoted phrase" or as a %regex%.
func compileTerms(src string) (matcher, error) {
	set := &termSet{}
	i := 0
	for {
		for i < len(src) && isSpace(src[i]) {
			i++
		}
		if i >= len(src) {
			break
		}
		start := i
		kind := byte(0)
		if src[i] == '?' || src[i] == '-' {
			kind = src[i]
			i++
		}
		t, next, err := readTerm(src, i, start)
		if err != nil {
			return nil, err
		}
		i = next
		if t.re == nil && strings.TrimSpace(t.text) == "" {
			continue // "" and " " add no condition: they match every event
		}
		switch kind {
		case '?':
			set.anyOf = append(set.anyOf, t)
		case '-':
			set.excluded = append(set.excluded, t)
		default:
			set.required = append(set.required, t)
		}
	}
	if len(set.required)+len(set.excluded)+len(set.anyOf) == 0 {
		return matchAll{}, nil
	}
	return set, nil
}

// readTerm reads one term at i; start is where its prefix began, for errors.
func readTerm(src string, i, start int) (term, int, error) {
	if i >= len(src) || isSpace(src[i]) {
		return term{}, 0, errorf(src, start, "Invalid character(s) in term '%s'", src[start:i])
	}
	switch src[i] {
	case '"':
		text, next, err := readQuoted(src, i)
		return term{text: text}, next, err
	case '%':
		re, next, err := readRegex(src, i)
		return term{re: re}, next, err
	}
	end := i
	for end < len(src) && !isSpace(src[end]) {
		end++
	}
	word := src[i:end]
	if bad := invalidRun(word); bad != "" {
		return term{}, 0, errorf(src, i+strings.Index(word, bad), "Invalid character(s) in term '%s'", bad)
	}
	return term{text: word}, end, nil
}

// invalidRun returns the first character an unquoted term may not
// contain; AWS names it in its error ("Invalid character(s) in term ':'").
func invalidRun(word string) string {
	for _, r := range word {
		if !isWordRune(r) {
			return string(r)
		}
	}
	return ""
}

// readQuoted reads a double-quoted string at i (src[i] == '"'); \" and \\
// are escapes. It returns the unquoted text and the index after the quote.
func readQuoted(src string, i int) (string, int, error) {
	var b strings.Builder
	for j := i + 1; j < len(src); j++ {
		switch c := src[j]; c {
		case '\\':
			if j+1 < len(src) && (src[j+1] == '"' || src[j+1] == '\\') {
				b.WriteByte(src[j+1])
				j++
				continue
			}
			b.WriteByte(c)
		case '"':
			return b.String(), j + 1, nil
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, errorf(src, i, "Invalid filter pattern: unterminated quoted string starting at position %d", i)
}

// regexAllowed is the character set AWS accepts inside %regex%: letters,
// digits, the symbols :_#=@/;,- and space, and the operators ^$?[]{}|\*+.
// (parentheses and multi-byte characters are rejected).
const regexAllowed = ":_#=@/;,- ^$?[]{}|\\*+."

// readRegex reads a %regex% at i (src[i] == '%').
func readRegex(src string, i int) (*regexp.Regexp, int, error) {
	end := strings.IndexByte(src[i+1:], '%')
	if end < 0 {
		return nil, 0, errorf(src, i, "Invalid filter pattern: unterminated regex starting at position %d", i)
	}
	body := src[i+1 : i+1+end]
	for _, r := range body {
		if r > unicode.MaxASCII || !(isASCIIAlnum(r) || strings.ContainsRune(regexAllowed, r)) {
			return nil, 0, errorf(src, i, "Invalid regex: character '%c' is not supported in %%%s%%", r, body)
		}
	}
	if body == "" {
		return nil, 0, errorf(src, i, "Invalid regex: empty expression")
	}
	re, err := regexp.Compile(body)
	if err != nil {
		return nil, 0, errorf(src, i, "Invalid regex: %%%s%%", body)
	}
	return re, i + end + 2, nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isASCIIAlnum(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
}

// isWordRune reports whether r may appear in an unquoted term.
func isWordRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)
}
