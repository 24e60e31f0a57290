package ecswire

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/kumo-project/kumo/internal/protocol"
)

// ecsClient returns an aws-sdk-go-v2 ECS client talking to a JSON 1.1
// server that runs h's operations on the generated shapes.
func ecsClient(t *testing.T, h *Handlers) *ecs.Client {
	t.Helper()
	ops := h.Operations()
	const contentType = "application/x-amz-json-1.1"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, _ := strings.CutPrefix(r.Header.Get("X-Amz-Target"), TargetPrefix+".")
		op := ops[name]
		if op == nil {
			protocol.WriteJSONError(w, contentType, false, protocol.ErrNotImplemented(ServiceName, name))
			return
		}
		body, _ := io.ReadAll(r.Body)
		in := op.NewInput()
		if err := protocol.DecodeJSON(body, in); err != nil {
			protocol.WriteJSONError(w, contentType, false, protocol.AsError(err))
			return
		}
		var v protocol.Validator
		in.(protocol.Validatable).Validate(&v, "")
		if err := v.Err("ClientException"); err != nil {
			protocol.WriteJSONError(w, contentType, false, protocol.AsError(err))
			return
		}
		out, err := op.Call(r.Context(), in)
		if err != nil {
			protocol.WriteJSONError(w, contentType, false, protocol.AsError(err))
			return
		}
		protocol.WriteJSON(w, contentType, out)
	}))
	t.Cleanup(srv.Close)
	return ecs.New(ecs.Options{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		BaseEndpoint:     aws.String(srv.URL),
		RetryMaxAttempts: 1,
	})
}

func TestRegisterTaskDefinitionWithSDK(t *testing.T) {
	t.Parallel()
	client := ecsClient(t, &Handlers{
		RegisterTaskDefinition: func(ctx context.Context, in *RegisterTaskDefinitionRequest) (*RegisterTaskDefinitionResponse, error) {
			return &RegisterTaskDefinitionResponse{TaskDefinition: &TaskDefinition{
				Family:               in.Family,
				Revision:             1,
				ContainerDefinitions: in.ContainerDefinitions,
				NetworkMode:          in.NetworkMode,
				Status:               "ACTIVE",
				RegisteredAt:         protocol.NewTimestamp(time.Unix(1700000000, 0)),
			}}, nil
		},
	})
	out, err := client.RegisterTaskDefinition(context.Background(), &ecs.RegisterTaskDefinitionInput{
		Family:      aws.String("web"),
		NetworkMode: ecstypes.NetworkModeAwsvpc,
		ContainerDefinitions: []ecstypes.ContainerDefinition{{
			Name:         aws.String("app"),
			Image:        aws.String("app:1"),
			Cpu:          128,
			Memory:       aws.Int32(256),
			Essential:    aws.Bool(true),
			PortMappings: []ecstypes.PortMapping{{ContainerPort: aws.Int32(8080), Protocol: ecstypes.TransportProtocolTcp}},
			Environment:  []ecstypes.KeyValuePair{{Name: aws.String("A"), Value: aws.String("1")}},
			HealthCheck:  &ecstypes.HealthCheck{Command: []string{"CMD", "true"}, Interval: aws.Int32(5)},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	td := out.TaskDefinition
	c := td.ContainerDefinitions[0]
	if aws.ToString(td.Family) != "web" || td.Revision != 1 || td.NetworkMode != ecstypes.NetworkModeAwsvpc ||
		c.Cpu != 128 || aws.ToInt32(c.Memory) != 256 || aws.ToInt32(c.PortMappings[0].ContainerPort) != 8080 ||
		aws.ToInt32(c.HealthCheck.Interval) != 5 || aws.ToString(c.Environment[0].Value) != "1" || td.RegisteredAt == nil {
		t.Errorf("round trip lost members: %+v %+v", td, c)
	}

	// The SDK does not check enums; the generated Validate does.
	_, err = client.RegisterTaskDefinition(context.Background(), &ecs.RegisterTaskDefinitionInput{
		Family:               aws.String("web"),
		ContainerDefinitions: []ecstypes.ContainerDefinition{{Name: aws.String("app"), PortMappings: []ecstypes.PortMapping{{Protocol: "sctp"}}}},
	})
	var ce *ecstypes.ClientException
	if !errors.As(err, &ce) || !strings.Contains(ce.ErrorMessage(), "'containerDefinitions.1.member.portMappings.1.member.protocol'") {
		t.Errorf("got %v, want a ClientException about the protocol", err)
	}
}

func TestDescribeClustersWithSDK(t *testing.T) {
	t.Parallel()
	client := ecsClient(t, &Handlers{
		DescribeClusters: func(ctx context.Context, in *DescribeClustersRequest) (*DescribeClustersResponse, error) {
			out := &DescribeClustersResponse{}
			for _, name := range in.Clusters {
				out.Clusters = append(out.Clusters, Cluster{ClusterName: name, Status: "ACTIVE", RunningTasksCount: 2})
			}
			return out, nil
		},
	})
	out, err := client.DescribeClusters(context.Background(), &ecs.DescribeClustersInput{Clusters: []string{"a", "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Clusters) != 2 || aws.ToString(out.Clusters[1].ClusterName) != "b" || out.Clusters[0].RunningTasksCount != 2 {
		t.Errorf("got %+v", out.Clusters)
	}
}
