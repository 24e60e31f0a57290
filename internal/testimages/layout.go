package testimages

import (
	"fmt"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// layoutRefName is the reference name of the image in a layout written by
// WriteLayout, so both "oci:DIR" and "oci:DIR:latest" name it for skopeo.
const layoutRefName = "latest"

// WriteLayout writes img as an OCI image layout in dir (created if needed),
// replacing any index already there so that the layout holds only img.
func WriteLayout(dir string, img v1.Image) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("oci layout %s: %w", dir, err)
	}
	annotations := map[string]string{"org.opencontainers.image.ref.name": layoutRefName}
	if err := p.AppendImage(img, layout.WithAnnotations(annotations)); err != nil {
		return fmt.Errorf("oci layout %s: %w", dir, err)
	}
	return nil
}
