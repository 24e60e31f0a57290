package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// sdkStructs records, for each struct of an aws-sdk-go-v2 service package,
// which fields are pointers. The SDK's generator knows the Smithy default
// traits that botocore models lost, so it is the reference for which
// numbers and booleans are nullable (pointers, left out when nil) and which
// are plain values (always sent, 0 included).
type sdkStructs map[string]map[string]bool

// pointer reports whether field of the SDK struct is a pointer, and
// whether the SDK has that field at all.
func (s sdkStructs) pointer(structName, field string) (isPtr, found bool) {
	fields, ok := s[structName]
	if !ok {
		return false, false
	}
	if p, ok := fields[field]; ok {
		return p, true
	}
	for name, p := range fields {
		if strings.EqualFold(name, field) {
			return p, true
		}
	}
	return false, false
}

// loadSDK parses the operation files and types of an SDK service package.
func loadSDK(dir string) (sdkStructs, error) {
	files, err := filepath.Glob(filepath.Join(dir, "api_op_*.go"))
	if err != nil {
		return nil, err
	}
	types, _ := filepath.Glob(filepath.Join(dir, "types", "*.go"))
	files = append(files, types...)
	structs := sdkStructs{}
	fset := token.NewFileSet()
	for _, path := range files {
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, fmt.Errorf("sdk: %w", err)
		}
		collectStructs(f, structs)
	}
	if len(structs) == 0 {
		return nil, fmt.Errorf("sdk: no structs found in %s", dir)
	}
	return structs, nil
}

func collectStructs(f *ast.File, into sdkStructs) {
	for _, decl := range f.Decls {
		gen, ok := decl.(*ast.GenDecl)
		if !ok || gen.Tok != token.TYPE {
			continue
		}
		for _, spec := range gen.Specs {
			ts := spec.(*ast.TypeSpec)
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				continue
			}
			fields := map[string]bool{}
			for _, fld := range st.Fields.List {
				_, isPtr := fld.Type.(*ast.StarExpr)
				for _, n := range fld.Names {
					fields[n.Name] = isPtr
				}
			}
			into[ts.Name.Name] = fields
		}
	}
}

// resolveSDK finds the directory of an SDK package given as a directory or
// a module path. A module path resolves to the version this module requires
// or, when it requires none, to the newest version in the module cache.
func resolveSDK(arg string) (string, error) {
	if st, err := os.Stat(arg); err == nil && st.IsDir() {
		return arg, nil
	}
	if out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", arg).Output(); err == nil {
		if dir := strings.TrimSpace(string(out)); dir != "" {
			return dir, nil
		}
	}
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		return "", fmt.Errorf("sdk %s: go env GOMODCACHE: %w", arg, err)
	}
	dirs, _ := filepath.Glob(filepath.Join(strings.TrimSpace(string(out)), arg+"@v*"))
	if len(dirs) == 0 {
		return "", fmt.Errorf("sdk %s: not in the module cache; run: go mod download %s@latest", arg, arg)
	}
	sort.Slice(dirs, func(i, j int) bool { return versionLess(dirs[i], dirs[j]) })
	return dirs[len(dirs)-1], nil
}

// versionLess compares the vMAJOR.MINOR.PATCH suffixes of two module
// directories numerically.
func versionLess(a, b string) bool {
	va, vb := versionParts(a), versionParts(b)
	for i := range va {
		if va[i] != vb[i] {
			return va[i] < vb[i]
		}
	}
	return false
}

func versionParts(dir string) [3]int {
	var v [3]int
	_, ver, _ := strings.Cut(filepath.Base(dir), "@v")
	ver, _, _ = strings.Cut(ver, "-")
	for i, p := range strings.SplitN(ver, ".", 3) {
		v[i], _ = strconv.Atoi(p)
	}
	return v
}
