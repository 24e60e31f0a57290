// Package ecrwire holds the wire shapes of Amazon ECR, generated from the
// botocore model by tools/wiregen: a struct per structure shape with its
// codec tags and a Validate method, the values of each enum, the service's
// wire identity (ServiceName, TargetPrefix...), ErrorShapes, and the
// Handlers table of its operations. Do not edit wire_gen.go; regenerate it.
package ecrwire

//go:generate go run ../../../tools/wiregen -model ecr -sdk github.com/aws/aws-sdk-go-v2/service/ecr -empty-strings Tag.Value -package ecrwire -out wire_gen.go
