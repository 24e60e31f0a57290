package protocol

import (
	"encoding/base64"
	"encoding/json"
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

type pageToken struct {
	After string `json:"a"`
}

func encodeToken(after string) string {
	b, _ := json.Marshal(pageToken{After: after})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeToken(token string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return "", err
	}
	var t pageToken
	if err := json.Unmarshal(b, &t); err != nil {
		return "", err
	}
	return t.After, nil
}
