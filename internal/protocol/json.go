package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// DecodeJSON decodes a JSON 1.0/1.1 request body into a generated input
// shape. Integral floats such as 42.0 (botocore sends them) are accepted for
// integer members. Type mismatches answer SerializationException, as AWS does.
func DecodeJSON(body []byte, into any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	err := json.Unmarshal(body, into)
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && strings.HasPrefix(typeErr.Value, "number") {
		// Perhaps 42.0 for an integer: normalize integral numbers and retry.
		if normalized, nerr := normalizeIntegralNumbers(body); nerr == nil {
			err = json.Unmarshal(normalized, into)
		}
	}
	if err == nil {
		return nil
	}
	if errors.As(err, &typeErr) {
		return ErrSerialization("Value of '%s' must be of type %s, not %s", typeErr.Field, jsonKind(typeErr.Type.Kind().String()), typeErr.Value)
	}
	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) {
		return ErrSerialization("malformed JSON at offset %d: %v", syntaxErr.Offset, syntaxErr)
	}
	return ErrSerialization("%v", err)
}

func jsonKind(goKind string) string {
	switch goKind {
	case "int", "int32", "int64", "uint", "uint32", "uint64", "float32", "float64":
		return "number"
	case "struct", "map", "ptr":
		return "object"
	case "slice", "array":
		return "array"
	}
	return goKind
}

// normalizeIntegralNumbers rewrites numbers like 42.0 as 42.
func normalizeIntegralNumbers(body []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return json.Marshal(normalizeValue(v))
}

func normalizeValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalizeValue(e)
		}
	case []any:
		for i, e := range x {
			x[i] = normalizeValue(e)
		}
	case json.Number:
		if f, err := x.Float64(); err == nil && f == float64(int64(f)) {
			return json.Number(strconv.FormatInt(int64(f), 10))
		}
	}
	return v
}

// WriteJSON writes a JSON protocol response.
func WriteJSON(w http.ResponseWriter, contentType string, out any) {
	body, err := json.Marshal(out)
	if err != nil {
		WriteJSONError(w, contentType, false, ServerError("InternalFailure", "encode response: %v", err))
		return
	}
	if string(body) == "null" {
		body = []byte("{}")
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// WriteJSONError writes an AWS JSON error: {"__type": code, "message": ...}.
// queryMode is set for clients that send X-Amzn-Query-Mode (CloudWatch on
// JSON 1.0): they read the code from the x-amzn-query-error header.
func WriteJSONError(w http.ResponseWriter, contentType string, queryMode bool, e *Error) {
	body := map[string]any{}
	for k, v := range e.Fields {
		body[k] = v
	}
	body["__type"] = e.Code
	body["message"] = e.Message
	data, _ := json.Marshal(body)
	if queryMode {
		w.Header().Set("x-amzn-query-error", fmt.Sprintf("%s;%s", e.Code, faultOf(e)))
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(e.Status)
	w.Write(data)
}

func faultOf(e *Error) string {
	if e.Status < 500 {
		return "Sender"
	}
	return "Receiver"
}
