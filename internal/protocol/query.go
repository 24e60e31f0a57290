package protocol

import (
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// The Query protocol (ELBv2, IAM, STS, CloudWatch's oldest clients) sends
// inputs as a form and answers XML. Generated wire structs describe both
// with the same layout in two tags, `query` for the form and `xml` for the
// response:
//
//	Name                  a scalar or structure (Name=v, Name.Sub=v), or a flattened list (Name.1=v)
//	Name>member           a list: Name.member.1=v, <Name><member>v</member></Name>
//	Name>entry            a map: Name.entry.1.key=k, Name.entry.1.value=v,
//	                      <Name><entry><key>k</key><value>v</value></entry></Name>
//	Name,key=K,value=V    a map with renamed keys and values (flattened when there is no >entry)
//	...,omitempty         (xml) leave the element out when nil or empty
//
// Lists and maps nested in lists and maps use the default layout
// (>member, >entry, key, value).

// layout is a parsed query or xml tag.
type layout struct {
	name      string // form key segment or element name
	item      string // "member", "entry", or a renamed item; "" when flattened
	key       string // map key name
	value     string // map value name
	omitEmpty bool
}

// nestedLayout is how lists and maps inside lists and maps are laid out.
func nestedLayout(name string, t reflect.Type) layout {
	l := layout{name: name, key: "key", value: "value"}
	switch t.Kind() {
	case reflect.Slice:
		if t.Elem().Kind() != reflect.Uint8 {
			l.item = "member"
		}
	case reflect.Map:
		l.item = "entry"
	}
	return l
}

func parseLayout(tag string) layout {
	parts := strings.Split(tag, ",")
	l := layout{key: "key", value: "value"}
	l.name, l.item, _ = strings.Cut(parts[0], ">")
	for _, opt := range parts[1:] {
		switch {
		case opt == "omitempty":
			l.omitEmpty = true
		case strings.HasPrefix(opt, "key="):
			l.key = strings.TrimPrefix(opt, "key=")
		case strings.HasPrefix(opt, "value="):
			l.value = strings.TrimPrefix(opt, "value=")
		}
	}
	return l
}

// taggedField is a struct field with its layout under one tag.
type taggedField struct {
	index  int
	layout layout
}

var fieldCache sync.Map // fieldCacheKey → []taggedField

type fieldCacheKey struct {
	t   reflect.Type
	tag string
}

// taggedFields returns the fields of struct type t that carry tag.
func taggedFields(t reflect.Type, tag string) []taggedField {
	key := fieldCacheKey{t, tag}
	if f, ok := fieldCache.Load(key); ok {
		return f.([]taggedField)
	}
	var fields []taggedField
	for i := 0; i < t.NumField(); i++ {
		if v, ok := t.Field(i).Tag.Lookup(tag); ok && v != "-" {
			fields = append(fields, taggedField{index: i, layout: parseLayout(v)})
		}
	}
	fieldCache.Store(key, fields)
	return fields
}

var timestampType = reflect.TypeOf(Timestamp{})

// formNode is one segment of the dotted form keys: "Tags.member.1.Key"
// is the path Tags → member → 1 → Key.
type formNode struct {
	value    string
	hasValue bool
	children map[string]*formNode
}

func buildFormTree(form map[string][]string) *formNode {
	root := &formNode{}
	for key, values := range form {
		n := root
		for _, seg := range strings.Split(key, ".") {
			if n.children == nil {
				n.children = map[string]*formNode{}
			}
			child := n.children[seg]
			if child == nil {
				child = &formNode{}
				n.children[seg] = child
			}
			n = child
		}
		if len(values) > 0 {
			n.value, n.hasValue = values[0], true
		}
	}
	return root
}

// indexed returns the children of n named by positive integers, in order:
// the elements of a list or the entries of a map.
func (n *formNode) indexed() []*formNode {
	type item struct {
		i    int
		node *formNode
	}
	var items []item
	for seg, child := range n.children {
		if i, err := strconv.Atoi(seg); err == nil && i > 0 {
			items = append(items, item{i, child})
		}
	}
	sort.Slice(items, func(a, b int) bool { return items[a].i < items[b].i })
	nodes := make([]*formNode, len(items))
	for k, it := range items {
		nodes[k] = it.node
	}
	return nodes
}

// DecodeQuery fills into, a pointer to a generated input struct, from a
// Query-protocol form (Action and Version included or not; keys the struct
// does not name are ignored). A value that does not parse as its member's
// type answers a ValidationError.
func DecodeQuery(form url.Values, into any) error {
	v := reflect.ValueOf(into)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("DecodeQuery: want a pointer to a struct, got %T", into)
	}
	return decodeStruct(buildFormTree(form), v.Elem(), "")
}

func decodeStruct(n *formNode, v reflect.Value, path string) error {
	for _, f := range taggedFields(v.Type(), "query") {
		child := n.children[f.layout.name]
		if child == nil {
			continue
		}
		if err := decodeValue(child, v.Field(f.index), f.layout, joinKey(path, f.layout.name)); err != nil {
			return err
		}
	}
	return nil
}

func joinKey(path, seg string) string {
	if path == "" {
		return seg
	}
	return path + "." + seg
}

func decodeValue(n *formNode, v reflect.Value, l layout, path string) error {
	t := v.Type()
	switch {
	case t == timestampType:
		if err := v.Addr().Interface().(*Timestamp).UnmarshalText([]byte(n.value)); err != nil {
			return badValue(n.value, path, "a timestamp")
		}
		return nil
	case t.Kind() == reflect.Pointer:
		elem := reflect.New(t.Elem())
		if err := decodeValue(n, elem.Elem(), l, path); err != nil {
			return err
		}
		v.Set(elem)
		return nil
	case t.Kind() == reflect.Struct:
		return decodeStruct(n, v, path)
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		b, err := base64.StdEncoding.DecodeString(n.value)
		if err != nil {
			return badValue(n.value, path, "base64")
		}
		v.SetBytes(b)
		return nil
	case t.Kind() == reflect.Slice:
		return decodeList(n, v, l, path)
	case t.Kind() == reflect.Map:
		return decodeMap(n, v, l, path)
	}
	return decodeScalar(n.value, v, path)
}

// decodeList reads Name.member.N (or Name.N when flattened). "Names="
// alone is an empty list, as botocore sends one.
func decodeList(n *formNode, v reflect.Value, l layout, path string) error {
	items := n
	if l.item != "" {
		items = n.children[l.item]
		path = joinKey(path, l.item)
	}
	list := reflect.MakeSlice(v.Type(), 0, 0)
	if items != nil {
		elemType := v.Type().Elem()
		for i, item := range items.indexed() {
			elem := reflect.New(elemType).Elem()
			if err := decodeValue(item, elem, nestedLayout("", elemType), joinKey(path, strconv.Itoa(i+1))); err != nil {
				return err
			}
			list = reflect.Append(list, elem)
		}
	}
	v.Set(list)
	return nil
}

// decodeMap reads Name.entry.N.key and Name.entry.N.value (or Name.N.key
// when flattened, with the model's key and value names).
func decodeMap(n *formNode, v reflect.Value, l layout, path string) error {
	entries := n
	if l.item != "" {
		entries = n.children[l.item]
		path = joinKey(path, l.item)
	}
	m := reflect.MakeMap(v.Type())
	if entries != nil {
		elemType := v.Type().Elem()
		for i, entry := range entries.indexed() {
			entryPath := joinKey(path, strconv.Itoa(i+1))
			k, val := entry.children[l.key], entry.children[l.value]
			if k == nil || !k.hasValue {
				return ClientError("ValidationError", "missing map key at '%s'", joinKey(entryPath, l.key))
			}
			elem := reflect.New(elemType).Elem()
			if val != nil {
				if err := decodeValue(val, elem, nestedLayout("", elemType), joinKey(entryPath, l.value)); err != nil {
					return err
				}
			}
			m.SetMapIndex(reflect.ValueOf(k.value).Convert(v.Type().Key()), elem)
		}
	}
	v.Set(m)
	return nil
}

func decodeScalar(s string, v reflect.Value, path string) error {
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		switch strings.ToLower(s) {
		case "true":
			v.SetBool(true)
		case "false":
			v.SetBool(false)
		default:
			return badValue(s, path, "a boolean")
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i, err := strconv.ParseInt(s, 10, v.Type().Bits())
		if err != nil {
			return badValue(s, path, "an integer")
		}
		v.SetInt(i)
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(s, v.Type().Bits())
		if err != nil {
			return badValue(s, path, "a number")
		}
		v.SetFloat(f)
	default:
		return fmt.Errorf("DecodeQuery: %s: unsupported type %s", path, v.Type())
	}
	return nil
}

func badValue(s, path, want string) *Error {
	return ClientError("ValidationError", "1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must be %s", s, path, want)
}

// EncodeQueryResponse writes out, a generated output struct (or nil), as
// a Query-protocol response:
//
//	<OpResponse xmlns="namespace"><OpResult>...</OpResult>
//	<ResponseMetadata><RequestId>id</RequestId></ResponseMetadata></OpResponse>
//
// Nil members are left out, and so are empty strings, lists and maps tagged
// omitempty: a plain string field cannot tell "" from unset. A pointer to
// "" is an empty element (<Value></Value>), as AWS sends a value set to "".
// Timestamps are ISO 8601 with milliseconds, blobs base64.
func EncodeQueryResponse(w io.Writer, op, namespace, requestID string, out any) error {
	e := xml.NewEncoder(w)
	root := xml.StartElement{Name: xml.Name{Local: op + "Response"}}
	if namespace != "" {
		root.Attr = []xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: namespace}}
	}
	if err := e.EncodeToken(root); err != nil {
		return err
	}
	if v := reflect.ValueOf(out); out != nil && !(v.Kind() == reflect.Pointer && v.IsNil()) {
		if err := encodeXMLValue(e, op+"Result", v, layout{}); err != nil {
			return err
		}
	}
	meta := xml.StartElement{Name: xml.Name{Local: "ResponseMetadata"}}
	if err := e.EncodeToken(meta); err != nil {
		return err
	}
	if err := e.EncodeElement(requestID, xml.StartElement{Name: xml.Name{Local: "RequestId"}}); err != nil {
		return err
	}
	if err := e.EncodeToken(meta.End()); err != nil {
		return err
	}
	if err := e.EncodeToken(root.End()); err != nil {
		return err
	}
	return e.Flush()
}

// isEmpty reports whether v is left out under omitempty.
func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		return v.IsNil()
	case reflect.String, reflect.Slice, reflect.Map:
		return v.Len() == 0
	}
	return false
}

// encodeXMLValue writes v as the element name, laid out as l says.
func encodeXMLValue(e *xml.Encoder, name string, v reflect.Value, l layout) error {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	t := v.Type()
	switch {
	case t == timestampType:
		text, _ := v.Interface().(Timestamp).MarshalText()
		return encodeText(e, name, string(text))
	case t.Kind() == reflect.Struct:
		return encodeXMLStruct(e, name, v)
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		return encodeText(e, name, base64.StdEncoding.EncodeToString(v.Bytes()))
	case t.Kind() == reflect.Slice:
		return encodeXMLList(e, name, v, l)
	case t.Kind() == reflect.Map:
		return encodeXMLMap(e, name, v, l)
	}
	text, err := scalarText(v)
	if err != nil {
		return fmt.Errorf("EncodeQueryResponse: %s: %w", name, err)
	}
	return encodeText(e, name, text)
}

func encodeXMLStruct(e *xml.Encoder, name string, v reflect.Value) error {
	start := xml.StartElement{Name: xml.Name{Local: name}}
	if err := e.EncodeToken(start); err != nil {
		return err
	}
	for _, f := range taggedFields(v.Type(), "xml") {
		field := v.Field(f.index)
		if f.layout.omitEmpty && isEmpty(field) {
			continue
		}
		if err := encodeXMLValue(e, f.layout.name, field, f.layout); err != nil {
			return err
		}
	}
	return e.EncodeToken(start.End())
}

// wrap writes body inside <name> when wrapped, else directly.
func wrap(e *xml.Encoder, name string, wrapped bool, body func() error) error {
	if !wrapped {
		return body()
	}
	start := xml.StartElement{Name: xml.Name{Local: name}}
	if err := e.EncodeToken(start); err != nil {
		return err
	}
	if err := body(); err != nil {
		return err
	}
	return e.EncodeToken(start.End())
}

func encodeXMLList(e *xml.Encoder, name string, v reflect.Value, l layout) error {
	itemName := l.item
	if itemName == "" {
		itemName = name
	}
	nested := nestedLayout(itemName, v.Type().Elem())
	return wrap(e, name, l.item != "", func() error {
		for i := 0; i < v.Len(); i++ {
			if err := encodeXMLValue(e, itemName, v.Index(i), nested); err != nil {
				return err
			}
		}
		return nil
	})
}

func encodeXMLMap(e *xml.Encoder, name string, v reflect.Value, l layout) error {
	entryName := l.item
	if entryName == "" {
		entryName = name
	}
	keys := v.MapKeys()
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	nested := nestedLayout(l.value, v.Type().Elem())
	return wrap(e, name, l.item != "", func() error {
		for _, k := range keys {
			err := wrap(e, entryName, true, func() error {
				if err := encodeText(e, l.key, k.String()); err != nil {
					return err
				}
				return encodeXMLValue(e, l.value, v.MapIndex(k), nested)
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
}

func scalarText(v reflect.Value) (string, error) {
	switch v.Kind() {
	case reflect.String:
		return v.String(), nil
	case reflect.Bool:
		return strconv.FormatBool(v.Bool()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10), nil
	case reflect.Float32, reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'f', -1, v.Type().Bits()), nil
	}
	return "", fmt.Errorf("unsupported type %s", v.Type())
}

func encodeText(e *xml.Encoder, name, text string) error {
	return e.EncodeElement(text, xml.StartElement{Name: xml.Name{Local: name}})
}

// EncodeQueryError writes e as a Query-protocol error response with e's
// HTTP status:
//
//	<ErrorResponse><Error><Type>Sender</Type><Code>..</Code><Message>..</Message></Error>
//	<RequestId>..</RequestId></ErrorResponse>
func EncodeQueryError(w http.ResponseWriter, e *Error, requestID string) {
	status := e.Status
	if status == 0 {
		status = http.StatusInternalServerError
	}
	fault := "Receiver"
	if e.Sender {
		fault = "Sender"
	}
	body := struct {
		XMLName   xml.Name `xml:"ErrorResponse"`
		Type      string   `xml:"Error>Type"`
		Code      string   `xml:"Error>Code"`
		Message   string   `xml:"Error>Message"`
		RequestID string   `xml:"RequestId"`
	}{Type: fault, Code: e.Code, Message: e.Message, RequestID: requestID}
	b, err := xml.Marshal(body)
	if err != nil { // cannot happen: only strings
		status = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
