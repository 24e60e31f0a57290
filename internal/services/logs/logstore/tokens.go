package logstore

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrBadToken reports a pagination token this store did not make.
var ErrBadToken = errors.New("invalid pagination token")

// StreamToken renders a Read position as a GetLogEvents token, shaped like
// AWS's ("f/<56 digits>/s" forward, "b/..." backward).
func StreamToken(backward bool, pos uint64) string {
	dir := "f"
	if backward {
		dir = "b"
	}
	return fmt.Sprintf("%s/%056d/s", dir, pos)
}

// ParseStreamToken reads a token made by StreamToken.
func ParseStreamToken(token string) (backward bool, pos uint64, err error) {
	parts := strings.Split(token, "/")
	if len(parts) != 3 || (parts[0] != "f" && parts[0] != "b") || parts[2] != "s" {
		return false, 0, fmt.Errorf("%w: %q", ErrBadToken, token)
	}
	pos, err = strconv.ParseUint(parts[1], 10, 64)
	if err != nil || len(parts[1]) != 56 {
		return false, 0, fmt.Errorf("%w: %q", ErrBadToken, token)
	}
	return parts[0] == "b", pos, nil
}

// cursorToken is a Cursor as JSON inside a FilterLogEvents token.
type cursorToken struct {
	T int64  `json:"t"`
	S string `json:"s"`
	Q uint64 `json:"q"`
}

// CursorToken renders a Scan cursor as an opaque FilterLogEvents token.
func CursorToken(c Cursor) string {
	data, _ := json.Marshal(cursorToken{T: c.Timestamp, S: c.Stream, Q: c.Seq})
	return base64.RawURLEncoding.EncodeToString(data)
}

// ParseCursorToken reads a token made by CursorToken.
func ParseCursorToken(token string) (Cursor, error) {
	data, err := base64.RawURLEncoding.DecodeString(token)
	var ct cursorToken
	if err == nil {
		err = json.Unmarshal(data, &ct)
	}
	if err != nil {
		return Cursor{}, fmt.Errorf("%w: %q", ErrBadToken, token)
	}
	return Cursor{Timestamp: ct.T, Stream: ct.S, Seq: ct.Q}, nil
}
