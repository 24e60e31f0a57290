package ecr

import (
	"io"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecr "github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// BenchmarkConcurrentPulls pulls one image (manifest, config and a 16 MiB
// layer) 50 times at once through kumo's endpoint stack: the pull-through
// check, the registry, and ECR's pull-time records. Any failed pull fails
// the benchmark; MB/s is the total pulled.
func BenchmarkConcurrentPulls(b *testing.B) {
	const pullers = 50
	e := newAPIEnv(b)
	if _, err := e.client.CreateRepository(b.Context(), &awsecr.CreateRepositoryInput{RepositoryName: aws.String("bench")}); err != nil {
		b.Fatal(err)
	}
	img, err := random.Image(16<<20, 1)
	if err != nil {
		b.Fatal(err)
	}
	mustPush(b, e.host, "bench", "v1", img)
	layers, _ := img.Layers()
	size, _ := layers[0].Size()
	ref, _ := name.ParseReference(e.host+"/bench:v1", name.Insecure)
	b.SetBytes(size * pullers)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var wg sync.WaitGroup
		errs := make(chan error, pullers)
		for p := 0; p < pullers; p++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- pullAll(ref)
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}

// pullAll fetches an image's manifest and reads every layer to the end.
func pullAll(ref name.Reference) error {
	img, err := remote.Image(ref)
	if err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
