// Package elbv2wire holds the wire shapes of Elastic Load Balancing v2, generated from the
// botocore model by tools/wiregen: a struct per structure shape with its
// codec tags and a Validate method, the values of each enum, the service's
// wire identity (ServiceName, TargetPrefix...), ErrorShapes, and the
// Handlers table of its operations. Do not edit wire_gen.go; regenerate it.
package elbv2wire

//go:generate go run ../../../tools/wiregen -model elbv2 -sdk github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2 -empty-strings LoadBalancerAttribute.Value,TargetGroupAttribute.Value,ListenerAttribute.Value,Tag.Value -package elbv2wire -out wire_gen.go
