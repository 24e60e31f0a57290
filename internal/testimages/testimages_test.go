package testimages

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"errors"
	"io"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// fsEntry is one entry of an image's flattened filesystem.
type fsEntry struct {
	hdr  *tar.Header
	data []byte
}

// flatten returns the image's filesystem as the container would see it,
// keyed by absolute path ("/bin/sh").
func flatten(t *testing.T, img v1.Image) map[string]fsEntry {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	files := make(map[string]fsEntry)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[path.Clean("/"+hdr.Name)] = fsEntry{hdr: hdr, data: data}
	}
}

func mustImage(t *testing.T, build func() (v1.Image, error)) v1.Image {
	t.Helper()
	img, err := build()
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func mustDigest(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestImageFilesystems(t *testing.T) {
	t.Parallel()
	hostBusybox, err := os.ReadFile(busyboxPath)
	if err != nil {
		t.Fatal(err)
	}
	images := []struct {
		name  string
		build func() (v1.Image, error)
		extra []string // paths only this image has
	}{
		{"busybox", Busybox, nil},
		{"testapp", App, []string{"/app", "/app/testapp"}},
	}
	for _, im := range images {
		t.Run(im.name, func(t *testing.T) {
			t.Parallel()
			files := flatten(t, mustImage(t, im.build))
			checks := []struct {
				path     string
				typ      byte
				mode     int64
				linkname string
			}{
				{"/bin/busybox", tar.TypeReg, 0o755, ""},
				{"/bin/sh", tar.TypeSymlink, 0o777, "busybox"},
				{"/bin/wget", tar.TypeSymlink, 0o777, "busybox"},
				{"/bin/nc", tar.TypeSymlink, 0o777, "busybox"},
				{"/bin/[", tar.TypeSymlink, 0o777, "busybox"},
				{"/etc/passwd", tar.TypeReg, 0o644, ""},
				{"/etc/group", tar.TypeReg, 0o644, ""},
				{"/tmp", tar.TypeDir, 0o1777, ""},
				{"/root", tar.TypeDir, 0o700, ""},
			}
			for _, c := range checks {
				e, ok := files[c.path]
				if !ok {
					t.Errorf("%s missing", c.path)
					continue
				}
				if e.hdr.Typeflag != c.typ || e.hdr.Mode != c.mode || e.hdr.Linkname != c.linkname {
					t.Errorf("%s: type %c mode %o link %q, want %c %o %q", c.path,
						e.hdr.Typeflag, e.hdr.Mode, e.hdr.Linkname, c.typ, c.mode, c.linkname)
				}
			}
			if !bytes.Equal(files["/bin/busybox"].data, hostBusybox) {
				t.Error("/bin/busybox differs from the host's busybox-static")
			}
			if passwd := string(files["/etc/passwd"].data); !strings.Contains(passwd, "root:x:0:0:") ||
				!strings.Contains(passwd, "nobody:x:65534:65534:") {
				t.Errorf("/etc/passwd = %q, want root and nobody", passwd)
			}
			for _, p := range im.extra {
				if _, ok := files[p]; !ok {
					t.Errorf("%s missing", p)
				}
			}
			for p, e := range files {
				if !e.hdr.ModTime.Equal(buildTime) || e.hdr.Uid != 0 || e.hdr.Gid != 0 {
					t.Errorf("%s: mtime %s uid %d gid %d, want %s 0 0", p, e.hdr.ModTime, e.hdr.Uid, e.hdr.Gid, buildTime)
				}
			}
		})
	}
}

func TestBusyboxHasEveryApplet(t *testing.T) {
	t.Parallel()
	applets, err := busyboxApplets()
	if err != nil {
		t.Fatal(err)
	}
	files := flatten(t, mustImage(t, Busybox))
	var links []string
	for p, e := range files {
		if strings.HasPrefix(p, "/bin/") && e.hdr.Typeflag == tar.TypeSymlink {
			links = append(links, strings.TrimPrefix(p, "/bin/"))
		}
	}
	slices.Sort(links)
	if !slices.Equal(links, applets) {
		t.Errorf("image has %d applet links, busybox --list has %d", len(links), len(applets))
	}
	for _, want := range []string{"sh", "ls", "cat", "echo", "sleep", "wget", "nc", "grep", "env", "true", "false", "kill", "ps", "id"} {
		if !slices.Contains(links, want) {
			t.Errorf("applet %s missing", want)
		}
	}
}

func TestImageConfigs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name             string
		build            func() (v1.Image, error)
		wantEntrypoint   []string
		wantCmd          []string
		wantEnv          []string
		wantExposedPorts map[string]struct{}
		wantLayers       int
	}{
		{"busybox", Busybox, nil, []string{"sh"}, []string{imagePath}, nil, 1},
		{"testapp", App, []string{"/app/testapp"}, []string{"serve"}, []string{imagePath, "PORT=8080"},
			map[string]struct{}{"8080/tcp": {}}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			img := mustImage(t, tt.build)
			cf, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			c := cf.Config
			if cf.OS != "linux" || cf.Architecture != "amd64" || !cf.Created.Equal(buildTime) {
				t.Errorf("os/arch/created = %s/%s/%s", cf.OS, cf.Architecture, cf.Created)
			}
			if !slices.Equal(c.Entrypoint, tt.wantEntrypoint) || !slices.Equal(c.Cmd, tt.wantCmd) ||
				!slices.Equal(c.Env, tt.wantEnv) {
				t.Errorf("entrypoint %q cmd %q env %q, want %q %q %q",
					c.Entrypoint, c.Cmd, c.Env, tt.wantEntrypoint, tt.wantCmd, tt.wantEnv)
			}
			if len(c.ExposedPorts) != len(tt.wantExposedPorts) {
				t.Errorf("exposed ports %v, want %v", c.ExposedPorts, tt.wantExposedPorts)
			}
			for p := range tt.wantExposedPorts {
				if _, ok := c.ExposedPorts[p]; !ok {
					t.Errorf("exposed ports %v lack %s", c.ExposedPorts, p)
				}
			}
			m, err := img.Manifest()
			if err != nil {
				t.Fatal(err)
			}
			if m.MediaType != types.OCIManifestSchema1 || m.Config.MediaType != types.OCIConfigJSON {
				t.Errorf("media types %s, %s; want OCI", m.MediaType, m.Config.MediaType)
			}
			if len(m.Layers) != tt.wantLayers || len(cf.History) != tt.wantLayers {
				t.Errorf("%d layers and %d history entries, want %d", len(m.Layers), len(cf.History), tt.wantLayers)
			}
			for _, l := range m.Layers {
				if l.MediaType != types.OCILayer {
					t.Errorf("layer media type %s, want %s", l.MediaType, types.OCILayer)
				}
			}
		})
	}
}

func TestDigestsAreStable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		build  func() (v1.Image, error)
		cached func() (v1.Image, error)
	}{
		{"busybox", buildBusybox, Busybox},
		{"testapp", buildApp, App},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			first := mustDigest(t, mustImage(t, tt.build))
			second := mustDigest(t, mustImage(t, tt.build))
			cached := mustDigest(t, mustImage(t, tt.cached))
			if first != second || first != cached {
				t.Errorf("digests differ between builds: %s, %s, cached %s", first, second, cached)
			}
		})
	}
}

func TestTestappBuildIsReproducibleAndCached(t *testing.T) {
	t.Parallel()
	shared, err := testappBinary()
	if err != nil {
		t.Fatal(err)
	}
	sources, err := testappSourceFiles()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := sources["main.go"]; !ok || len(sources) == 0 {
		t.Fatalf("embedded sources %v lack main.go", slices.Collect(maps.Keys(sources)))
	}
	for name := range sources {
		if strings.HasSuffix(name, "_test.go") {
			t.Errorf("test file %s would be compiled into the app", name)
		}
	}
	dir := t.TempDir()
	fresh, err := cachedTestappBuild(dir, sources)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(fresh) != filepath.Base(shared) {
		t.Errorf("cache name %s, want %s for the same sources", filepath.Base(fresh), filepath.Base(shared))
	}
	if !sameFile(t, fresh, shared) {
		t.Error("two builds of the same sources differ, so App digests would not be stable")
	}
	before, err := os.Stat(fresh)
	if err != nil {
		t.Fatal(err)
	}
	again, err := cachedTestappBuild(dir, sources)
	if err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(again)
	if err != nil {
		t.Fatal(err)
	}
	if again != fresh || !os.SameFile(before, after) || !after.ModTime().Equal(before.ModTime()) {
		t.Error("second build with a warm cache did not reuse the cached binary")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("cache dir holds %d entries, want only the binary", len(entries))
	}
}

func sameFile(t *testing.T, a, b string) bool {
	t.Helper()
	da, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	db, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Equal(da, db)
}

func TestAppBinaryFromImageRuns(t *testing.T) {
	t.Parallel()
	files := flatten(t, mustImage(t, App))
	bin := filepath.Join(t.TempDir(), "testapp")
	if err := os.WriteFile(bin, files["/app/testapp"].data, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("/app/testapp is dynamically linked; it needs CGO_ENABLED=0")
		}
	}
	f.Close()
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
	}{
		{"exit code", []string{"exit", "7"}, 7, ""},
		{"lines", []string{"lines", "2"}, 0, "line 1\nline 2\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.CommandContext(t.Context(), bin, tt.args...)
			out, err := cmd.Output()
			var exitErr *exec.ExitError
			if err != nil && !errors.As(err, &exitErr) {
				t.Fatal(err)
			}
			if code := cmd.ProcessState.ExitCode(); code != tt.wantCode || string(out) != tt.wantStdout {
				t.Errorf("testapp %v = %d %q, want %d %q", tt.args, code, out, tt.wantCode, tt.wantStdout)
			}
		})
	}
}

func TestReadStaticBinary(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		path    string
		wantErr string
	}{
		{"static busybox", busyboxPath, ""},
		{"missing", filepath.Join(t.TempDir(), "busybox"), "install Debian's busybox-static"},
		{"dynamic binary", "/bin/ls", "dynamically linked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data, err := readStaticBinary(tt.path)
			if tt.wantErr == "" {
				if err != nil || len(data) == 0 {
					t.Errorf("readStaticBinary(%s) = %d bytes, %v", tt.path, len(data), err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("readStaticBinary(%s) error = %v, want %q", tt.path, err, tt.wantErr)
			}
		})
	}
}

// TestAppRootfsRunsInChroot unpacks the testapp image and runs commands
// inside it with chroot, proving the filesystem is self-contained: the
// shell, the applet links and the app work with nothing from the host.
func TestAppRootfsRunsInChroot(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("chroot needs root")
	}
	rootfs := t.TempDir()
	for p, e := range flatten(t, mustImage(t, App)) {
		unpack(t, rootfs, p, e)
	}
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
	}{
		{"shell and applets", []string{"/bin/sh", "-c", "echo hi | grep -c hi; id -un; test -d /tmp && echo tmp"}, 0, "1\nroot\ntmp\n"},
		{"app as entrypoint", []string{"/app/testapp", "exit", "4"}, 4, ""},
		{"app from shell", []string{"/bin/sh", "-c", "/app/testapp lines 1"}, 0, "line 1\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.CommandContext(t.Context(), "chroot", append([]string{rootfs}, tt.args...)...)
			cmd.Env = []string{imagePath}
			out, err := cmd.Output()
			var exitErr *exec.ExitError
			if err != nil && !errors.As(err, &exitErr) {
				t.Fatal(err)
			}
			if code := cmd.ProcessState.ExitCode(); code != tt.wantCode || string(out) != tt.wantStdout {
				t.Errorf("%q = %d %q, want %d %q", tt.args, code, out, tt.wantCode, tt.wantStdout)
			}
		})
	}
}

// unpack writes one flattened entry under rootfs. Entries come in map
// order, so parent directories are created as needed.
func unpack(t *testing.T, rootfs, p string, e fsEntry) {
	t.Helper()
	target := filepath.Join(rootfs, p)
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		t.Fatal(err)
	}
	var err error
	switch e.hdr.Typeflag {
	case tar.TypeDir:
		err = os.MkdirAll(target, 0o755)
	case tar.TypeReg:
		err = os.WriteFile(target, e.data, os.FileMode(e.hdr.Mode).Perm())
	case tar.TypeSymlink:
		err = os.Symlink(e.hdr.Linkname, target)
	default:
		t.Fatalf("%s: unexpected tar type %c", p, e.hdr.Typeflag)
	}
	if err != nil {
		t.Fatal(err)
	}
}
