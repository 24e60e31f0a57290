// Package tagset edits AWS resource tag lists, whatever wire type a service
// gives its tags: callers pass how to read a tag's key.
package tagset

import "slices"

// Merge adds the tags of add to tags; a tag whose key is already there
// replaces the old one, as TagResource does.
func Merge[T any](tags, add []T, key func(T) string) []T {
	for _, a := range add {
		i := slices.IndexFunc(tags, func(t T) bool { return key(t) == key(a) })
		if i >= 0 {
			tags[i] = a
		} else {
			tags = append(tags, a)
		}
	}
	return tags
}

// Remove returns the tags whose keys are not in keys, as UntagResource does.
// The result is never nil, so an emptied list is sent as [].
func Remove[T any](tags []T, keys []string, key func(T) string) []T {
	out := make([]T, 0, len(tags))
	for _, t := range tags {
		if !slices.Contains(keys, key(t)) {
			out = append(out, t)
		}
	}
	return out
}
