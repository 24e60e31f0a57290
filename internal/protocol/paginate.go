package protocol

import (
	"encoding/base64"
	"errors"
	"strings"
)

// Page returns the part of items after the position a token names, at most
// max items, and the token for the next page ("" on the last page). keyOf
// gives each item's sort key; items must be sorted by it. The token is
// opaque to clients and stays valid when items are added or removed.
// invalidCode names the error for a token kumo did not issue.
func Page[T any](items []T, token string, max int, keyOf func(T) string, invalidCode string) ([]T, string, error) {
	start := 0
	if token != "" {
		after, err := decodeToken(token)
		if err != nil {
			return nil, "", ClientError(invalidCode, "Invalid nextToken: %q", token)
		}
		for start < len(items) && keyOf(items[start]) <= after {
			start++
		}
	}
	end := len(items)
	if max > 0 && start+max < end {
		end = start + max
	}
	page := items[start:end]
	if end < len(items) && len(page) > 0 {
		return page, encodeToken(keyOf(page[len(page)-1])), nil
	}
	return page, "", nil
}

// tokenVersion starts every token, so kumo can change the format later and
// still tell its own tokens from garbage.
const tokenVersion = "k1:"

func encodeToken(after string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(tokenVersion + after))
}

func decodeToken(token string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return "", err
	}
	after, ok := strings.CutPrefix(string(b), tokenVersion)
	if !ok {
		return "", errors.New("not a kumo token")
	}
	return after, nil
}
