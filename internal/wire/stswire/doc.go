// Package stswire holds the wire shapes of AWS STS, generated from the
// botocore model by tools/wiregen: a struct per structure shape with its
// codec tags and a Validate method, the values of each enum, the service's
// wire identity (ServiceName, TargetPrefix...), ErrorShapes, and the
// Handlers table of its operations. Do not edit wire_gen.go; regenerate it.
package stswire

//go:generate go run ../../../tools/wiregen -model sts -sdk github.com/aws/aws-sdk-go-v2/service/sts -package stswire -out wire_gen.go
