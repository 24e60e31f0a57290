package elbv2

import "github.com/kumo-project/kumo/internal/protocol"

// ELBv2's error codes, as the SDKs map them to typed exceptions.
func validationError(format string, args ...any) error {
	return protocol.ClientError("ValidationError", format, args...)
}

func loadBalancerNotFound() error {
	return protocol.ClientError("LoadBalancerNotFound", "One or more load balancers not found")
}

func targetGroupNotFound() error {
	return protocol.ClientError("TargetGroupNotFound", "One or more target groups not found")
}

func listenerNotFound() error {
	return protocol.ClientError("ListenerNotFound", "One or more listeners not found")
}

func ruleNotFound() error {
	return protocol.ClientError("RuleNotFound", "One or more rules not found")
}

func operationNotPermitted(format string, args ...any) error {
	return protocol.ClientError("OperationNotPermitted", format, args...)
}

func invalidAction(format string, args ...any) error {
	return protocol.ClientError("InvalidLoadBalancerAction", format, args...)
}

func internalError(err error) error {
	return protocol.ServerError("InternalFailure", "%v", err)
}
