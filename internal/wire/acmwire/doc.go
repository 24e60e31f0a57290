// Package acmwire holds the wire shapes of AWS Certificate Manager, generated from the
// botocore model by tools/wiregen: a struct per structure shape with its
// codec tags and a Validate method, the values of each enum, the service's
// wire identity (ServiceName, TargetPrefix...), ErrorShapes, and the
// Handlers table of its operations. Do not edit wire_gen.go; regenerate it.
package acmwire

//go:generate go run ../../../tools/wiregen -model acm -sdk github.com/aws/aws-sdk-go-v2/service/acm -package acmwire -out wire_gen.go
