package ecr

import (
	"errors"
	"fmt"

	"github.com/kumo-project/kumo/internal/protocol"
	"github.com/kumo-project/kumo/internal/registry"
)

// The constructors below make ECR's errors: the codes the SDKs map to
// typed exceptions, with ECR's message texts.

func invalidParameter(format string, args ...any) error {
	return protocol.ClientError("InvalidParameterException", format, args...)
}

func repositoryNotFound(name, account string) error {
	return protocol.ClientError("RepositoryNotFoundException",
		"The repository with name '%s' does not exist in the registry with id '%s'", name, account)
}

func imageNotFound(format string, args ...any) error {
	return protocol.ClientError("ImageNotFoundException", format, args...)
}

func repositoryExists(name, account string) error {
	return protocol.ClientError("RepositoryAlreadyExistsException",
		"The repository with name '%s' already exists in the registry with id '%s'", name, account)
}

func repositoryPolicyNotFound(name, account string) error {
	return protocol.ClientError("RepositoryPolicyNotFoundException",
		"Repository policy does not exist for the repository with name '%s' in the registry with id '%s'", name, account)
}

func lifecyclePolicyNotFound(name, account string) error {
	return protocol.ClientError("LifecyclePolicyNotFoundException",
		"Lifecycle policy does not exist for the repository with name '%s' in the registry with id '%s'", name, account)
}

func ruleNotFound(prefix, account string) error {
	return protocol.ClientError("PullThroughCacheRuleNotFoundException",
		"The pull through cache rule with prefix '%s' does not exist in the registry with id '%s'", prefix, account)
}

func registryPolicyNotFound(account string) error {
	return protocol.ClientError("RegistryPolicyNotFoundException", "Registry policy does not exist in the registry with id '%s'", account)
}

func serverException(err error) error {
	return protocol.ServerError("ServerException", "%v", err)
}

// tagImmutableMessage is ECR's text for a push that would move an immutable tag.
func tagImmutableMessage(tag, repo string) string {
	return fmt.Sprintf("The image tag '%s' already exists in the '%s' repository and cannot be overwritten because the tag is immutable.", tag, repo)
}

// apiError maps an error of the registry to the ECR API's error; errors
// that are already API errors pass through.
func apiError(err error) error {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return err
	}
	var re *registry.Error
	if !errors.As(err, &re) {
		return serverException(err)
	}
	switch re.Code {
	case registry.CodeTagInvalid:
		return protocol.ClientError("ImageTagAlreadyExistsException", "%s", re.Message)
	case registry.CodeManifestBlobUnknown, registry.CodeBlobUnknown:
		return protocol.ClientError("LayersNotFoundException", "%s", re.Message)
	case registry.CodeDigestInvalid:
		return protocol.ClientError("ImageDigestDoesNotMatchException", "%s", re.Message)
	case registry.CodeManifestUnknown:
		return imageNotFound("%s", re.Message)
	case registry.CodeBlobUploadUnknown:
		return protocol.ClientError("UploadNotFoundException", "%s", re.Message)
	case registry.CodeBlobUploadInvalid, registry.CodeSizeInvalid:
		return protocol.ClientError("InvalidLayerPartException", "%s", re.Message)
	case registry.CodeNameUnknown:
		return protocol.ClientError("RepositoryNotFoundException", "%s", re.Message)
	}
	return invalidParameter("%s", re.Message)
}
