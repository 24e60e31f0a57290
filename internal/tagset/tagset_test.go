package tagset

import (
	"reflect"
	"testing"
)

type tag struct{ K, V string }

func key(t tag) string { return t.K }

func TestMergeReplacesByKeyAndAppends(t *testing.T) {
	got := Merge([]tag{{"a", "1"}, {"b", "2"}}, []tag{{"b", "3"}, {"c", "4"}}, key)
	want := []tag{{"a", "1"}, {"b", "3"}, {"c", "4"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Merge = %v, want %v", got, want)
	}
}

func TestRemove(t *testing.T) {
	got := Remove([]tag{{"a", "1"}, {"b", "2"}}, []string{"a", "x"}, key)
	if !reflect.DeepEqual(got, []tag{{"b", "2"}}) {
		t.Errorf("Remove = %v", got)
	}
	if empty := Remove([]tag{{"a", "1"}}, []string{"a"}, key); empty == nil || len(empty) != 0 {
		t.Errorf("removing every tag gave %#v, want an empty non-nil list", empty)
	}
}

func TestRemoveFunc(t *testing.T) {
	tags := []tag{{"a", "1"}, {"b", "2"}, {"c", "1"}}
	got := RemoveFunc(tags, func(t tag) bool { return t.V == "1" })
	if !reflect.DeepEqual(got, []tag{{"b", "2"}}) {
		t.Errorf("RemoveFunc = %v", got)
	}
	if !reflect.DeepEqual(tags, []tag{{"a", "1"}, {"b", "2"}, {"c", "1"}}) {
		t.Errorf("RemoveFunc changed its input: %v", tags)
	}
	if empty := RemoveFunc(tags, func(tag) bool { return true }); empty == nil || len(empty) != 0 {
		t.Errorf("removing every tag gave %#v, want an empty non-nil list", empty)
	}
}
