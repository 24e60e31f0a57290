package awslogs

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// The awslogs options of a container definition's logConfiguration.
const (
	OptGroup            = "awslogs-group"
	OptRegion           = "awslogs-region"
	OptStreamPrefix     = "awslogs-stream-prefix"
	OptCreateGroup      = "awslogs-create-group"
	OptDatetimeFormat   = "awslogs-datetime-format"
	OptMultilinePattern = "awslogs-multiline-pattern"
	OptMode             = "mode"
	OptMaxBufferSize    = "max-buffer-size"
)

// defaultMaxBufferSize is Docker's default for non-blocking mode (1m).
const defaultMaxBufferSize = 1 << 20

// Options are a container's parsed awslogs options.
type Options struct {
	Group        string
	Region       string // "" means the task's region
	StreamPrefix string
	CreateGroup  bool
	// StartPattern, when set, marks the first line of a multi-line event
	// (a line it matches): other lines join the event before them.
	StartPattern *regexp.Regexp
	// NonBlocking drops the oldest unshipped output beyond MaxBufferSize
	// bytes instead of keeping all of it (Docker's mode=non-blocking).
	NonBlocking   bool
	MaxBufferSize int64
}

// ParseOptions reads the awslogs options, as Docker's awslogs driver
// validates them.
func ParseOptions(opts map[string]string) (Options, error) {
	o := Options{
		Group:         opts[OptGroup],
		Region:        opts[OptRegion],
		StreamPrefix:  opts[OptStreamPrefix],
		MaxBufferSize: defaultMaxBufferSize,
	}
	if o.Group == "" {
		return Options{}, fmt.Errorf("awslogs: %s is required", OptGroup)
	}
	if v, ok := opts[OptCreateGroup]; ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return Options{}, fmt.Errorf("awslogs: %s must be a boolean, not %q", OptCreateGroup, v)
		}
		o.CreateGroup = b
	}
	var err error
	if o.StartPattern, err = startPattern(opts); err != nil {
		return Options{}, err
	}
	switch opts[OptMode] {
	case "", "blocking":
	case "non-blocking":
		o.NonBlocking = true
	default:
		return Options{}, fmt.Errorf("awslogs: mode must be blocking or non-blocking, not %q", opts[OptMode])
	}
	if v, ok := opts[OptMaxBufferSize]; ok {
		if o.MaxBufferSize, err = parseSize(v); err != nil {
			return Options{}, fmt.Errorf("awslogs: %s: %w", OptMaxBufferSize, err)
		}
	}
	return o, nil
}

// StreamName is the log stream a container's output goes to: ECS's
// <prefix>/<container-name>/<task-id>, or without a prefix the container's
// runtime ID (Docker's container ID on ECS).
func StreamName(prefix, container, taskID, runtimeID string) string {
	if prefix == "" {
		return runtimeID
	}
	return prefix + "/" + container + "/" + taskID
}

// startPattern compiles the multi-line start pattern: the datetime format
// wins over the multiline pattern, as in Docker.
func startPattern(opts map[string]string) (*regexp.Regexp, error) {
	if f := opts[OptDatetimeFormat]; f != "" {
		re, err := regexp.Compile("^" + StrftimeToRegexp(f))
		if err != nil {
			return nil, fmt.Errorf("awslogs: %s %q: %w", OptDatetimeFormat, f, err)
		}
		return re, nil
	}
	if p := opts[OptMultilinePattern]; p != "" {
		re, err := regexp.Compile(p) // unanchored, as in Docker
		if err != nil {
			return nil, fmt.Errorf("awslogs: %s %q: %w", OptMultilinePattern, p, err)
		}
		return re, nil
	}
	return nil, nil
}

// strftimeRegexps are the directives Docker's awslogs driver understands
// in awslogs-datetime-format, with the text each matches.
var strftimeRegexps = map[byte]string{
	'a': `(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)`,
	'A': `(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)`,
	'w': `[0-6]`,
	'd': `(?:0[1-9]|[1,2][0-9]|3[0,1])`,
	'b': `(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)`,
	'B': `(?:January|February|March|April|May|June|July|August|September|October|November|December)`,
	'm': `(?:0[1-9]|1[0-2])`,
	'Y': `\d{4}`,
	'y': `\d{2}`,
	'H': `(?:[0,1][0-9]|2[0-3])`,
	'I': `(?:0[0-9]|1[0-2])`,
	'p': `[A,P]M`,
	'M': `[0-5][0-9]`,
	'S': `[0-5][0-9]`,
	'f': `\d{6}`,
	'z': `[+-]\d{4}`,
	'Z': `[A-Z]{1,4}T`,
	'j': `(?:0[0-9][1-9]|[1,2][0-9][0-9]|3[0-5][0-9]|36[0-6])`,
	'L': `\.\d{3}`,
}

// StrftimeToRegexp turns an awslogs-datetime-format (a regular expression
// with strftime directives, e.g. `\[%Y-%m-%d %H:%M:%S\]`) into a regular
// expression. Unknown directives stay as written.
func StrftimeToRegexp(format string) string {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		if format[i] == '%' && i+1 < len(format) {
			if re, ok := strftimeRegexps[format[i+1]]; ok {
				b.WriteString(re)
				i++
				continue
			}
		}
		b.WriteByte(format[i])
	}
	return b.String()
}

// parseSize reads a Docker size such as "4m", "512k" or "1048576".
func parseSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "b"), "i")
	mult := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'k':
			mult, t = 1<<10, t[:n-1]
		case 'm':
			mult, t = 1<<20, t[:n-1]
		case 'g':
			mult, t = 1<<30, t[:n-1]
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	return n * mult, nil
}
