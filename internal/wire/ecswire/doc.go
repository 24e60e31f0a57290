// Package ecswire holds the wire shapes of Amazon ECS, generated from the
// botocore model by tools/wiregen: a struct per structure shape with its
// codec tags and a Validate method, the values of each enum, the service's
// wire identity (ServiceName, TargetPrefix...), ErrorShapes, and the
// Handlers table of its operations. Do not edit wire_gen.go; regenerate it.
package ecswire

//go:generate go run ../../../tools/wiregen -model ecs -sdk github.com/aws/aws-sdk-go-v2/service/ecs -empty-strings KeyValuePair.value,Tag.value -package ecswire -out wire_gen.go
