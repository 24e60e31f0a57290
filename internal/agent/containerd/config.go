package containerd

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// disabledPlugins are plugins kumo never uses: CRI (kumo is not a kubelet
// runtime) and snapshotters other than overlayfs, which only slow startup and
// log errors on hosts without their filesystems.
var disabledPlugins = []string{
	"io.containerd.grpc.v1.cri",
	"io.containerd.snapshotter.v1.aufs",
	"io.containerd.snapshotter.v1.btrfs",
	"io.containerd.snapshotter.v1.devmapper",
	"io.containerd.snapshotter.v1.zfs",
	"io.containerd.tracing.processor.v1.otlp",
}

func (s *Supervisor) configPath() string { return filepath.Join(s.dir, "config.toml") }

// renderConfig returns containerd's config.toml (schema version 2, which
// containerd 1.6 and 1.7 read).
func (s *Supervisor) renderConfig() string {
	q := strconv.Quote
	plugins := ""
	for i, p := range disabledPlugins {
		if i > 0 {
			plugins += ", "
		}
		plugins += q(p)
	}
	return fmt.Sprintf(`# Written by kumo; rewritten on every start.
version = 2
root = %s
state = %s
disabled_plugins = [%s]

[grpc]
  address = %s

[ttrpc]
  address = %s

[debug]
  level = "info"
`, q(filepath.Join(s.dir, "root")), q(filepath.Join(s.dir, "state")), plugins,
		q(s.address), q(s.address+".ttrpc"))
}

// writeConfig writes config.toml atomically.
func (s *Supervisor) writeConfig() error {
	if err := os.MkdirAll(s.dir, 0o711); err != nil {
		return err
	}
	tmp := s.configPath() + ".tmp"
	if err := os.WriteFile(tmp, []byte(s.renderConfig()), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, s.configPath())
}
