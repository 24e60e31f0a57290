package testimages

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// testappSources is the source of the test app. It is embedded, rather than
// found in the working tree, so that App works from any binary that has the
// go command on its PATH (kumo-fixtures built with -trimpath included).
//
//go:embed testapp/*.go
var testappSources embed.FS

// testappPort is the port the test app listens on in the image.
const testappPort = "8080"

// buildFlags and buildEnv make the test app a static, stripped,
// reproducible linux/amd64 binary built only with the local toolchain.
var buildFlags = []string{"-trimpath", "-ldflags=-s -w"}

var buildEnv = []string{
	"CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64",
	"GOFLAGS=-buildvcs=false", "GOWORK=off", "GOTOOLCHAIN=local",
}

// App returns the "kumo/testapp" fixture image: the Busybox image plus the
// test app at /app/testapp as entrypoint, listening on port 8080 (Env
// PORT=8080, ExposedPorts 8080/tcp), with Cmd ["serve"]. An ECS command
// override replaces Cmd, e.g. ["exit", "3"] runs "/app/testapp exit 3".
//
// The test app is compiled at most once per process and cached by source
// hash under os.UserCacheDir()/kumo-testimages, so later test runs reuse it.
// Building needs the go command on PATH.
func App() (v1.Image, error) { return appOnce() }

var appOnce = sync.OnceValues(buildApp)

func buildApp() (v1.Image, error) {
	base, err := Busybox()
	if err != nil {
		return nil, err
	}
	binPath, err := testappBinary()
	if err != nil {
		return nil, err
	}
	binary, err := os.ReadFile(binPath)
	if err != nil {
		return nil, err
	}
	layer, err := newLayer([]entry{dir("app/", 0o755), file("app/testapp", 0o755, binary)})
	if err != nil {
		return nil, fmt.Errorf("testapp layer: %w", err)
	}
	img, err := appendLayer(base, layer, "testapp at /app/testapp")
	if err != nil {
		return nil, err
	}
	return withConfig(img, func(c *v1.ConfigFile) {
		c.Config.Env = []string{imagePath, "PORT=" + testappPort}
		c.Config.Entrypoint = []string{"/app/testapp"}
		c.Config.Cmd = []string{"serve"}
		c.Config.ExposedPorts = map[string]struct{}{testappPort + "/tcp": {}}
	})
}

// testappBinary returns the path of the compiled test app, building it on
// the first call in this process if the cache does not have it yet.
var testappBinary = sync.OnceValues(func() (string, error) {
	sources, err := testappSourceFiles()
	if err != nil {
		return "", err
	}
	return cachedTestappBuild(cacheDir(), sources)
})

// testappSourceFiles returns the embedded non-test Go files by base name.
func testappSourceFiles() (map[string][]byte, error) {
	names, err := fs.Glob(testappSources, "testapp/*.go")
	if err != nil {
		return nil, err
	}
	files := make(map[string][]byte)
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		data, err := testappSources.ReadFile(name)
		if err != nil {
			return nil, err
		}
		files[filepath.Base(name)] = data
	}
	return files, nil
}

// cacheDir is where compiled test apps are kept between runs.
func cacheDir() string {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	return filepath.Join(base, "kumo-testimages")
}

// cachedTestappBuild returns dir/testapp-<hash of sources and toolchain>,
// compiling it first if it does not exist. Concurrent builders (parallel
// test binaries) each build to a temporary name and rename it into place.
func cachedTestappBuild(dir string, sources map[string][]byte) (string, error) {
	out := filepath.Join(dir, "testapp-"+sourceHash(sources))
	if fi, err := os.Stat(out); err == nil && fi.Mode().IsRegular() && fi.Size() > 0 {
		return out, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmpDir, err := os.MkdirTemp(dir, ".build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmpDir)
	tmp := filepath.Join(tmpDir, "testapp")
	if err := goBuild(sources, tmp); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, out); err != nil {
		return "", err
	}
	return out, nil
}

// sourceHash identifies a build: the sources, the Go version and the flags.
func sourceHash(sources map[string][]byte) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%q\x00%q\x00", runtime.Version(), buildFlags, buildEnv)
	names := make([]string, 0, len(sources))
	for name := range sources {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		fmt.Fprintf(h, "%s\x00%d\x00", name, len(sources[name]))
		h.Write(sources[name])
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// goBuild compiles sources as a standalone stdlib-only module into out.
func goBuild(sources map[string][]byte, out string) error {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("building testapp needs the go command on PATH: %w", err)
	}
	src, err := os.MkdirTemp("", "kumo-testapp-src-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(src)
	files := map[string][]byte{"go.mod": []byte("module kumo.local/testapp\n\ngo 1.22\n")}
	for name, data := range sources {
		files[name] = data
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(src, name), data, 0o644); err != nil {
			return err
		}
	}
	args := append(append([]string{"build"}, buildFlags...), "-o", out, ".")
	cmd := exec.Command(goCmd, args...)
	cmd.Dir = src
	cmd.Env = append(os.Environ(), buildEnv...)
	if output, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build testapp: %w\n%s", err, output)
	}
	return nil
}
