// Package arn builds and parses Amazon Resource Names in AWS's long format:
// arn:aws:<service>:<region>:<account>:<resource>.
package arn

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
)

// ARN is a parsed Amazon Resource Name.
type ARN struct {
	Partition string
	Service   string
	Region    string
	AccountID string
	Resource  string
}

// String formats the ARN.
func (a ARN) String() string {
	return fmt.Sprintf("arn:%s:%s:%s:%s:%s", a.Partition, a.Service, a.Region, a.AccountID, a.Resource)
}

// New returns the ARN of resource in the aws partition.
func New(service, region, account, resource string) string {
	return ARN{Partition: "aws", Service: service, Region: region, AccountID: account, Resource: resource}.String()
}

// Parse splits an ARN into its parts.
func Parse(s string) (ARN, error) {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[1] == "" || parts[2] == "" {
		return ARN{}, fmt.Errorf("invalid ARN %q", s)
	}
	return ARN{Partition: parts[1], Service: parts[2], Region: parts[3], AccountID: parts[4], Resource: parts[5]}, nil
}

// IsARN reports whether s looks like an ARN rather than a name or an ID.
func IsARN(s string) bool { return strings.HasPrefix(s, "arn:") }

// NewID returns a random 32-hex-digit ID, the shape of ECS task IDs.
func NewID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// NewUUID returns a random UUID (version 4).
func NewUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
