package testimages

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// busyboxPath is where Debian's busybox-static package installs its binary.
const busyboxPath = "/bin/busybox"

// imagePath is the PATH of both fixture images.
const imagePath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

const (
	etcPasswd = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
	etcGroup  = "root:x:0:\nnobody:x:65534:\n"
)

// Busybox returns the "kumo/busybox" fixture image: one layer with this
// machine's static busybox as /bin/busybox, a symlink in /bin for each of
// its applets (sh, ls, wget, nc, ...), /etc/passwd and /etc/group with root
// and nobody, and /tmp. Its command is ["sh"].
//
// The image is built once per process; later calls return the same image.
// It needs Debian's busybox-static package (a dynamically linked busybox
// would not run in an image without libc).
func Busybox() (v1.Image, error) { return busyboxOnce() }

var busyboxOnce = sync.OnceValues(buildBusybox)

func buildBusybox() (v1.Image, error) {
	binary, err := readStaticBinary(busyboxPath)
	if err != nil {
		return nil, err
	}
	applets, err := busyboxApplets()
	if err != nil {
		return nil, err
	}
	entries := []entry{
		dir("bin/", 0o755),
		file("bin/busybox", 0o755, binary),
	}
	for _, a := range applets {
		entries = append(entries, symlink("bin/"+a, "busybox"))
	}
	entries = append(entries,
		dir("etc/", 0o755),
		file("etc/passwd", 0o644, []byte(etcPasswd)),
		file("etc/group", 0o644, []byte(etcGroup)),
		dir("root/", 0o700),
		dir("tmp/", 0o1777),
	)
	layer, err := newLayer(entries)
	if err != nil {
		return nil, fmt.Errorf("busybox layer: %w", err)
	}
	img, err := emptyOCIImage()
	if err != nil {
		return nil, err
	}
	if img, err = appendLayer(img, layer, "busybox-static with applet links, /etc, /tmp"); err != nil {
		return nil, err
	}
	return withConfig(img, func(c *v1.ConfigFile) {
		c.Config.Env = []string{imagePath}
		c.Config.Cmd = []string{"sh"}
	})
}

// readStaticBinary returns the contents of the busybox binary at path,
// refusing a dynamically linked one.
func readStaticBinary(path string) ([]byte, error) {
	f, err := elf.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s not found: install Debian's busybox-static package", path)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return nil, fmt.Errorf("%s is dynamically linked: install Debian's busybox-static package", path)
		}
	}
	return os.ReadFile(path)
}

// busyboxApplets returns the sorted applet names that busybox reports,
// except "busybox" itself.
func busyboxApplets() ([]string, error) {
	out, err := exec.Command(busyboxPath, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list: %w", busyboxPath, err)
	}
	var applets []string
	for _, name := range strings.Fields(string(out)) {
		if name != "busybox" && !strings.Contains(name, "/") {
			applets = append(applets, name)
		}
	}
	if len(applets) == 0 {
		return nil, fmt.Errorf("%s --list printed no applets", busyboxPath)
	}
	slices.Sort(applets)
	return applets, nil
}
