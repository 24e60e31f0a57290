// Package logswire holds the wire shapes of Amazon CloudWatch Logs, generated from the
// botocore model by tools/wiregen: a struct per structure shape with its
// codec tags and a Validate method, the values of each enum, the service's
// wire identity (ServiceName, TargetPrefix...), ErrorShapes, and the
// Handlers table of its operations. Do not edit wire_gen.go; regenerate it.
package logswire

//go:generate go run ../../../tools/wiregen -model logs -sdk github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs -empty-strings PutMetricFilterRequest.filterPattern,MetricFilter.filterPattern,TestMetricFilterRequest.filterPattern,PutSubscriptionFilterRequest.filterPattern,SubscriptionFilter.filterPattern -package logswire -out wire_gen.go
