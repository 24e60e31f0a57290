package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// Model is the part of a botocore service-2.json that wiregen reads:
// shapes, operations and the metadata the router needs. Documentation
// text is never read.
type Model struct {
	Metadata   Metadata             `json:"metadata"`
	Operations map[string]Operation `json:"operations"`
	Shapes     map[string]*Shape    `json:"shapes"`
}

// Metadata names the service on the wire.
type Metadata struct {
	APIVersion     string   `json:"apiVersion"`
	EndpointPrefix string   `json:"endpointPrefix"`
	SigningName    string   `json:"signingName"`
	TargetPrefix   string   `json:"targetPrefix"`
	JSONVersion    string   `json:"jsonVersion"`
	Protocol       string   `json:"protocol"`
	Protocols      []string `json:"protocols"`
	XMLNamespace   string   `json:"xmlNamespace"`
}

// Operation is one API call: its input and output shapes and errors.
type Operation struct {
	Input  *ShapeRef  `json:"input"`
	Output *ShapeRef  `json:"output"`
	Errors []ShapeRef `json:"errors"`
}

// ShapeRef points at a shape and carries the serialization traits of the
// place that refers to it (a member, a list member, a map key or value).
type ShapeRef struct {
	Shape        string `json:"shape"`
	LocationName string `json:"locationName"`
	Location     string `json:"location"`
	Flattened    bool   `json:"flattened"`
	Box          bool   `json:"box"`
}

// Shape is one named type of the model.
type Shape struct {
	Type      string      `json:"type"`
	Members   Members     `json:"members"`
	Required  []string    `json:"required"`
	Member    *ShapeRef   `json:"member"`
	Key       *ShapeRef   `json:"key"`
	Value     *ShapeRef   `json:"value"`
	Enum      []string    `json:"enum"`
	Min       *float64    `json:"min"`
	Max       *float64    `json:"max"`
	Box       bool        `json:"box"`
	Flattened bool        `json:"flattened"`
	Document  bool        `json:"document"`
	Sensitive bool        `json:"sensitive"`
	Exception bool        `json:"exception"`
	Fault     bool        `json:"fault"`
	Error     *ErrorTrait `json:"error"`
}

// ErrorTrait is the wire code and HTTP status of an error shape.
type ErrorTrait struct {
	Code           string `json:"code"`
	HTTPStatusCode int    `json:"httpStatusCode"`
	SenderFault    bool   `json:"senderFault"`
}

// Member is a structure member, kept in model order so generated structs
// list fields as the model (and the SDKs) do.
type Member struct {
	Name string
	ShapeRef
}

// Members is a structure's members in model order.
type Members []Member

// UnmarshalJSON reads a JSON object keeping its key order.
func (ms *Members) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return fmt.Errorf("members: want an object")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		m := Member{Name: tok.(string)}
		if err := dec.Decode(&m.ShapeRef); err != nil {
			return fmt.Errorf("member %s: %w", m.Name, err)
		}
		*ms = append(*ms, m)
	}
	return nil
}

// LoadModel reads a service-2.json, gzip-compressed or not.
func LoadModel(path string) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	var magic [2]byte
	if _, err := io.ReadFull(f, magic[:]); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	if magic == [2]byte{0x1f, 0x8b} {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		defer zr.Close()
		r = zr
	}
	var m Model
	if err := json.NewDecoder(r).Decode(&m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &m, m.check()
}

// check rejects models that refer to shapes they do not define, so the
// generator can index shapes without checking each time.
func (m *Model) check() error {
	ref := func(where string, r *ShapeRef) error {
		if r != nil && m.Shapes[r.Shape] == nil {
			return fmt.Errorf("%s refers to undefined shape %q", where, r.Shape)
		}
		return nil
	}
	for name, s := range m.Shapes {
		for _, mem := range s.Members {
			if err := ref(name+"."+mem.Name, &mem.ShapeRef); err != nil {
				return err
			}
		}
		for _, r := range []*ShapeRef{s.Member, s.Key, s.Value} {
			if err := ref(name, r); err != nil {
				return err
			}
		}
	}
	for name, op := range m.Operations {
		for _, r := range []*ShapeRef{op.Input, op.Output} {
			if err := ref(name, r); err != nil {
				return err
			}
		}
		for _, r := range op.Errors {
			if err := ref(name, &r); err != nil {
				return err
			}
		}
	}
	return nil
}

// HasProtocol reports whether the service speaks protocol p.
func (m *Model) HasProtocol(p string) bool {
	if m.Metadata.Protocol == p {
		return true
	}
	for _, q := range m.Metadata.Protocols {
		if q == p {
			return true
		}
	}
	return false
}

// IsRequired reports whether member is required in s.
func (s *Shape) IsRequired(member string) bool {
	for _, r := range s.Required {
		if r == member {
			return true
		}
	}
	return false
}
