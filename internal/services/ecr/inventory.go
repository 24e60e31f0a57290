package ecr

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"debug/buildinfo"
	"errors"
	"io"
	"path"
	"strings"
)

// Package ecosystems an image inventory reports, named as OSV names them.
const (
	ecoDebian = "Debian"
	ecoAlpine = "Alpine"
	ecoGo     = "Go"
)

// maxBinarySize bounds the executables read for Go build info.
const maxBinarySize = 256 << 20

// pkg is an installed package: the name advisories use (the source package
// for Debian and Alpine, the module path for Go) and its version.
type pkg struct {
	Ecosystem string
	Name      string
	Version   string
}

// inventory is the packages of an image's file system, per file that
// declares them, so a later layer replaces or deletes what an earlier one said.
type inventory map[string][]pkg

// packages returns every package once.
func (inv inventory) packages() []pkg {
	seen := map[pkg]bool{}
	var out []pkg
	for _, ps := range inv {
		for _, p := range ps {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out
}

// addLayer reads one layer (a tar, gzip-compressed or not) into inv.
func (inv inventory) addLayer(r io.Reader) error {
	br := bufio.NewReader(r)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return err
		}
		defer gz.Close()
		return inv.addTar(gz)
	}
	return inv.addTar(br)
}

func (inv inventory) addTar(r io.Reader) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		dir, base := path.Split(name)
		switch {
		case base == ".wh..wh..opq":
			inv.removeUnder(strings.TrimSuffix(dir, "/"))
			continue
		case strings.HasPrefix(base, ".wh."):
			inv.removeUnder(dir + strings.TrimPrefix(base, ".wh."))
			continue
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		pkgs, err := filePackages(name, h, tr)
		if err != nil {
			return err
		}
		if pkgs != nil {
			inv[name] = pkgs
		} else {
			delete(inv, name)
		}
	}
}

// removeUnder forgets p and everything below it (a whiteout).
func (inv inventory) removeUnder(p string) {
	for name := range inv {
		if name == p || strings.HasPrefix(name, p+"/") || p == "" {
			delete(inv, name)
		}
	}
}

// filePackages returns the packages a file declares, nil if none.
func filePackages(name string, h *tar.Header, r io.Reader) ([]pkg, error) {
	switch {
	case name == "var/lib/dpkg/status" || strings.HasPrefix(name, "var/lib/dpkg/status.d/"):
		return parseDpkgStatus(r)
	case name == "lib/apk/db/installed":
		return parseApkInstalled(r)
	case h.Mode&0o111 != 0 && h.Size > 4 && h.Size <= maxBinarySize:
		return goBinaryPackages(r, h.Size)
	}
	return nil, nil
}

// stanzas splits an RFC 822-style database into its paragraphs of "Key: value" fields.
func stanzas(r io.Reader, sep string) ([]map[string]string, error) {
	var out []map[string]string
	cur := map[string]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			if len(cur) > 0 {
				out = append(out, cur)
			}
			cur = map[string]string{}
			continue
		}
		if k, v, ok := strings.Cut(line, sep); ok && !strings.HasPrefix(line, " ") {
			cur[k] = strings.TrimSpace(v)
		}
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out, sc.Err()
}

// parseDpkgStatus lists installed Debian packages by source package, as
// Debian's advisories name them.
func parseDpkgStatus(r io.Reader) ([]pkg, error) {
	paras, err := stanzas(r, ":")
	var out []pkg
	for _, p := range paras {
		if p["Package"] == "" || p["Version"] == "" || !strings.HasSuffix(p["Status"], " installed") && p["Status"] != "" {
			continue
		}
		name, version := p["Package"], p["Version"]
		if src := p["Source"]; src != "" {
			name = src
			if n, v, ok := strings.Cut(src, " ("); ok {
				name, version = n, strings.TrimSuffix(v, ")")
			}
		}
		out = append(out, pkg{Ecosystem: ecoDebian, Name: name, Version: version})
	}
	return out, err
}

// parseApkInstalled lists installed Alpine packages by origin package.
func parseApkInstalled(r io.Reader) ([]pkg, error) {
	paras, err := stanzas(r, ":")
	var out []pkg
	for _, p := range paras {
		name := p["P"]
		if o := p["o"]; o != "" {
			name = o
		}
		if name != "" && p["V"] != "" {
			out = append(out, pkg{Ecosystem: ecoAlpine, Name: name, Version: p["V"]})
		}
	}
	return out, err
}

// goBinaryPackages lists the Go toolchain and modules an executable was
// built with, from its embedded build info; nil for other files.
func goBinaryPackages(r io.Reader, size int64) ([]pkg, error) {
	br := bufio.NewReader(r)
	if magic, _ := br.Peek(4); !bytes.Equal(magic, []byte("\x7fELF")) {
		return nil, nil
	}
	data := make([]byte, size)
	if _, err := io.ReadFull(br, data); err != nil {
		return nil, err
	}
	bi, err := buildinfo.Read(bytes.NewReader(data))
	if err != nil {
		return nil, nil // not a Go binary
	}
	out := []pkg{{Ecosystem: ecoGo, Name: "stdlib", Version: strings.TrimPrefix(bi.GoVersion, "go")}}
	if v := bi.Main.Version; bi.Main.Path != "" && v != "" && v != "(devel)" {
		out = append(out, pkg{Ecosystem: ecoGo, Name: bi.Main.Path, Version: strings.TrimPrefix(v, "v")})
	}
	for _, d := range bi.Deps {
		if d.Replace != nil {
			d = d.Replace
		}
		out = append(out, pkg{Ecosystem: ecoGo, Name: d.Path, Version: strings.TrimPrefix(d.Version, "v")})
	}
	return out, nil
}
