// Command wiregen generates the wire types of one AWS service from its
// botocore model: a struct per structure shape with the tags of the
// service's codecs, a Validate method per struct holding the model's
// constraints, the allowed values of each enum, the service's wire
// identity, its error codes and a Handlers table with one field per
// operation.
//
//	go run ./tools/wiregen -model ecs -sdk github.com/aws/aws-sdk-go-v2/service/ecs \
//	    -package ecswire -out internal/wire/ecswire/wire_gen.go
//
// -model is a path to service-2.json (gzip or not) or a service name looked
// up in botocore's data directory (-data, by default the one of the
// botocore that python3 imports), newest API version first.
// -sdk, optional, is the aws-sdk-go-v2 package of the service (a directory
// or a module path): which numbers and booleans are pointers follows it.
// -empty-strings, optional, lists string members (Shape.member, comma-separated)
// to generate as *string, for members whose "" AWS sends back as a value.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

func main() {
	model := flag.String("model", "", "service-2.json[.gz] path, or a botocore service name")
	data := flag.String("data", "", "botocore data directory for -model names (default: python3's botocore)")
	sdk := flag.String("sdk", "", "aws-sdk-go-v2 service package (directory or module path) to match pointer fields with")
	emptyStrings := flag.String("empty-strings", "", "string members (Shape.member,...) whose \"\" is a value: generated as *string")
	pkg := flag.String("package", "", "Go package name")
	out := flag.String("out", "", "output file")
	flag.Parse()
	if *model == "" || *pkg == "" || *out == "" {
		flag.Usage()
		os.Exit(2)
	}
	opts := Options{Package: *pkg, EmptyStrings: parseEmptyStrings(*emptyStrings)}
	if err := run(*model, *data, *sdk, opts, *out); err != nil {
		fmt.Fprintln(os.Stderr, "wiregen:", err)
		os.Exit(1)
	}
}

func run(model, data, sdk string, opts Options, out string) error {
	path, err := modelPath(model, data)
	if err != nil {
		return err
	}
	m, err := LoadModel(path)
	if err != nil {
		return err
	}
	if sdk != "" {
		dir, err := resolveSDK(sdk)
		if err != nil {
			return err
		}
		if opts.SDK, err = loadSDK(dir); err != nil {
			return err
		}
	}
	src, notInSDK, err := Generate(m, opts)
	if err != nil {
		return err
	}
	if len(notInSDK) > 0 {
		fmt.Fprintf(os.Stderr, "wiregen: %s: %d numeric members not in the SDK, pointer-ness from box traits: %s\n",
			opts.Package, len(notInSDK), strings.Join(notInSDK, ", "))
	}
	if old, err := os.ReadFile(out); err == nil && bytes.Equal(old, src) {
		return nil
	}
	return os.WriteFile(out, src, 0o644)
}

// modelPath returns model if it names a file, else the newest
// service-2.json of the botocore service called model.
func modelPath(model, data string) (string, error) {
	if strings.ContainsRune(model, os.PathSeparator) || strings.HasSuffix(model, ".gz") || strings.HasSuffix(model, ".json") {
		return model, nil
	}
	if data == "" {
		py, err := exec.Command("python3", "-c", "import botocore, os; print(os.path.dirname(botocore.__file__))").Output()
		if err != nil {
			return "", fmt.Errorf("finding botocore (give -data): %w", err)
		}
		data = filepath.Join(strings.TrimSpace(string(py)), "data")
	}
	versions, _ := filepath.Glob(filepath.Join(data, model, "*"))
	sort.Sort(sort.Reverse(sort.StringSlice(versions)))
	for _, v := range versions {
		for _, name := range []string{"service-2.json.gz", "service-2.json"} {
			if _, err := os.Stat(filepath.Join(v, name)); err == nil {
				return filepath.Join(v, name), nil
			}
		}
	}
	return "", fmt.Errorf("no service-2.json for %q under %s", model, data)
}
