// Package tagset edits AWS resource tag lists, whatever wire type a service
// gives its tags: callers pass how to read a tag's key. Each service keeps
// its own validation, since limits and messages differ between services.
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
	return RemoveFunc(tags, func(t T) bool { return slices.Contains(keys, key(t)) })
}

// RemoveFunc returns the tags for which drop is false, for services that
// remove by more than the key (ACM matches a value too). tags is left as it
// was. The result is never nil.
func RemoveFunc[T any](tags []T, drop func(T) bool) []T {
	out := make([]T, 0, len(tags))
	for _, t := range tags {
		if !drop(t) {
			out = append(out, t)
		}
	}
	return out
}
