package ecs

import "github.com/kumo-project/kumo/internal/protocol"

// ECS's error codes, as the SDKs map them to typed exceptions.
func clientException(format string, args ...any) error {
	return protocol.ClientError("ClientException", format, args...)
}

func invalidParameter(format string, args ...any) error {
	return protocol.ClientError("InvalidParameterException", format, args...)
}

func clusterNotFound() error {
	return protocol.ClientError("ClusterNotFoundException", "Cluster not found.")
}

func resourceNotFound(format string, args ...any) error {
	return protocol.ClientError("ResourceNotFoundException", format, args...)
}

func serverException(err error) error {
	return protocol.ServerError("ServerException", "%v", err)
}
