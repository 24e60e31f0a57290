package logstore

import (
	"errors"
	"testing"
)

func TestStreamTokens(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		backward bool
		pos      uint64
	}{{false, 0}, {true, 42}, {false, EndOfStream}} {
		tok := StreamToken(tc.backward, tc.pos)
		back, pos, err := ParseStreamToken(tok)
		if err != nil || back != tc.backward || pos != tc.pos {
			t.Errorf("ParseStreamToken(%q) = %v, %d, %v", tok, back, pos, err)
		}
	}
	if got := StreamToken(false, 7); got != "f/00000000000000000000000000000000000000000000000000000007/s" {
		t.Errorf("StreamToken = %q", got)
	}
	for _, bad := range []string{"", "f/1/s", "x/00000000000000000000000000000000000000000000000000000007/s",
		"f/0000000000000000000000000000000000000000000000000000000a/s", "f/99999999999999999999999999999999999999999999999999999999/s"} {
		if _, _, err := ParseStreamToken(bad); !errors.Is(err, ErrBadToken) {
			t.Errorf("ParseStreamToken(%q) error = %v, want ErrBadToken", bad, err)
		}
	}
}

func TestCursorTokens(t *testing.T) {
	t.Parallel()
	c := Cursor{Timestamp: 1700000000123, Stream: "web/task-1", Seq: 99}
	got, err := ParseCursorToken(CursorToken(c))
	if err != nil || got != c {
		t.Errorf("round trip = %+v, %v", got, err)
	}
	for _, bad := range []string{"", "!!", "bm90IGpzb24"} {
		if _, err := ParseCursorToken(bad); !errors.Is(err, ErrBadToken) {
			t.Errorf("ParseCursorToken(%q) error = %v", bad, err)
		}
	}
}
