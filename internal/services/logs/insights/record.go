package insights

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"
)

// Event is a log event fed to a query.
type Event struct {
	Timestamp     int64 // ms since the epoch
	IngestionTime int64 // ms since the epoch
	Message       string
	LogStream     string
	// Log is the log group as AWS shows it in @log: "<account>:<group name>".
	Log string
	// Ptr is an opaque reference to the event, returned as @ptr so a client
	// can fetch it with GetLogRecord.
	Ptr string
}

// builtinFields are the fields every event has, in the order results show
// them.
var builtinFields = []string{"@timestamp", "@message", "@logStream", "@log"}

// record is an event on its way through a query, or a row made by stats.
// JSON fields of the message are discovered on first use.
type record struct {
	ev       *Event // nil for rows made by stats; else points to event
	event    Event
	set      map[string]value
	setOrder []string
	json     map[string]value
	jsonDone bool
	seq      int // arrival order, to keep sorts stable
}

func (r *record) setField(name string, v value) {
	if r.set == nil {
		r.set = map[string]value{}
	}
	if _, ok := r.set[name]; !ok {
		r.setOrder = append(r.setOrder, name)
	}
	r.set[name] = v
}

func (r *record) get(name string) value {
	if v, ok := r.set[name]; ok {
		return v
	}
	if r.ev == nil {
		return value{}
	}
	switch name {
	case "@timestamp":
		return timeMillis(r.ev.Timestamp)
	case "@message":
		return str(r.ev.Message)
	case "@logStream":
		return str(r.ev.LogStream)
	case "@log":
		return str(r.ev.Log)
	case "@ingestionTime":
		return timeMillis(r.ev.IngestionTime)
	case "@ptr":
		return str(r.ev.Ptr)
	}
	return r.jsonFields()[name]
}

// timestamp is the record's @timestamp in ms, read without building a
// value in the common case.
func (r *record) timestamp() (int64, bool) {
	if _, overridden := r.set["@timestamp"]; r.ev != nil && !overridden {
		return r.ev.Timestamp, true
	}
	n, ok := r.get("@timestamp").number()
	return int64(n), ok
}

// jsonFields flattens the message when it is a JSON object: nested keys
// join with "." (a.b.c) and array elements take their index (a.0).
func (r *record) jsonFields() map[string]value {
	if r.jsonDone {
		return r.json
	}
	r.jsonDone = true
	msg := strings.TrimSpace(r.ev.Message)
	if len(msg) < 2 || msg[0] != '{' {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(msg))
	dec.UseNumber()
	var doc map[string]any
	if dec.Decode(&doc) != nil {
		return nil
	}
	r.json = map[string]value{}
	flatten("", doc, r.json)
	return r.json
}

func flatten(prefix string, v any, out map[string]value) {
	switch x := v.(type) {
	case map[string]any:
		for k, child := range x {
			flatten(joinKey(prefix, k), child, out)
		}
	case []any:
		for i, child := range x {
			flatten(joinKey(prefix, strconv.Itoa(i)), child, out)
		}
	case string:
		out[prefix] = str(x)
	case json.Number:
		n, _ := x.Float64()
		out[prefix] = numText(n, x.String())
	case bool:
		out[prefix] = boolean(x)
	}
}

func joinKey(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}

// allFields lists every field of the record in result order: the built-in
// ones, discovered JSON fields (sorted), then fields the query made.
func (r *record) allFields() []string {
	var out []string
	if r.ev != nil {
		out = append(out, builtinFields...)
		keys := make([]string, 0, len(r.jsonFields()))
		for k := range r.jsonFields() {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out = append(out, keys...)
	}
	for _, name := range r.setOrder {
		if !contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}
