package main

import (
	"bytes"
	"compress/gzip"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite internal/tinywire/wire_gen.go from testdata/tiny.json")

const (
	tinyModel  = "testdata/tiny.json"
	tinyGolden = "internal/tinywire/wire_gen.go"
)

// tinyEmptyStrings is the -empty-strings of tinywire's go:generate line.
var tinyEmptyStrings = map[string]bool{"widget-part.note": true}

func loadTiny(t *testing.T) *Model {
	t.Helper()
	m, err := LoadModel(tinyModel)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestGolden checks the generator against the checked-in tinywire package,
// whose own tests prove that the generated code compiles and behaves.
func TestGolden(t *testing.T) {
	got, notInSDK, err := Generate(loadTiny(t), Options{Package: "tinywire", EmptyStrings: tinyEmptyStrings})
	if err != nil {
		t.Fatal(err)
	}
	if len(notInSDK) != 0 {
		t.Errorf("notInSDK without an SDK: %v", notInSDK)
	}
	if *update {
		if err := os.WriteFile(tinyGolden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(tinyGolden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("generated code differs from %s; run go test ./tools/wiregen -update and review the diff", tinyGolden)
	}
	if bytes.Contains(got, []byte("documentation")) || bytes.Contains(got, []byte("must not reach")) {
		t.Error("model documentation leaked into the generated code")
	}
}

func TestGenerateFollowsSDKPointers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		sdk       sdkStructs
		want      []string
		wantNotIn []string
	}{
		{"no SDK: box marks nullable", nil,
			[]string{"Size      *int32", "Count     int32 ", "Enabled   bool "}, nil},
		{"SDK overrides the model, input found under its SDK name", sdkStructs{
			"CreateWidgetInput": {"Size": false, "Count": true, "Enabled": true, "Ratio": true},
			"WidgetPart":        {"Weight": true},
			"ProtocolShape":     {},
		}, []string{"Size      int32 ", "Count     *int32", "Enabled   *bool"}, []string{"Protocol.version"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, notInSDK, err := Generate(loadTiny(t), Options{Package: "tinywire", SDK: tt.sdk})
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range tt.want {
				if !bytes.Contains(src, []byte(want)) {
					t.Errorf("generated code lacks %q", want)
				}
			}
			if strings.Join(notInSDK, ",") != strings.Join(tt.wantNotIn, ",") {
				t.Errorf("notInSDK = %v, want %v", notInSDK, tt.wantNotIn)
			}
		})
	}
}

func TestGenerateRejectsUnknownEmptyStrings(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, member, wantErr string }{
		{"no such shape", "Nope.note", `no structure shape "Nope"`},
		{"not a structure", "WidgetName.x", `no structure shape "WidgetName"`},
		{"no such member", "widget-part.notes", `has no member "notes"`},
		{"not a string", "widget-part.weight", "member is a double, not a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Generate(loadTiny(t), Options{Package: "x", EmptyStrings: map[string]bool{tt.member: true}})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseEmptyStrings(t *testing.T) {
	t.Parallel()
	got := parseEmptyStrings(" Tag.Value,,LoadBalancerAttribute.Value ")
	if len(got) != 2 || !got["Tag.Value"] || !got["LoadBalancerAttribute.Value"] {
		t.Errorf("parseEmptyStrings = %v", got)
	}
	if len(parseEmptyStrings("")) != 0 {
		t.Error("empty flag: want no members")
	}
}

func TestGenerateRESTLocations(t *testing.T) {
	t.Parallel()
	m := loadTiny(t)
	m.Metadata.Protocol, m.Metadata.Protocols = "rest-json", nil
	del := m.Shapes["DeleteWidgetRequest"]
	del.Members[0].Location, del.Members[0].LocationName = "uri", "WidgetName"
	src, _, err := Generate(m, Options{Package: "tinywire"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "Name string `json:\"-\" location:\"uri,WidgetName\"`"; !bytes.Contains(src, []byte(want)) {
		t.Errorf("generated code lacks %s", want)
	}
	if bytes.Contains(src, []byte(`query:"`)) {
		t.Error("rest-json code has query tags")
	}
}

func TestGenerateRejectsUnsupportedProtocols(t *testing.T) {
	t.Parallel()
	m := loadTiny(t)
	m.Metadata.Protocol, m.Metadata.Protocols = "rest-xml", nil
	if _, _, err := Generate(m, Options{Package: "x"}); err == nil {
		t.Error("rest-xml: want an error")
	}
}

func TestLoadModel(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	plain, err := os.ReadFile(tinyModel)
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain)
	zw.Close()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name    string
		path    string
		wantErr string
	}{
		{"plain", write("plain.json", plain), ""},
		{"gzip", write("service-2.json.gz", gz.Bytes()), ""},
		{"undefined shape", write("bad.json", []byte(`{"shapes":{"A":{"type":"list","member":{"shape":"B"}}}}`)), `undefined shape "B"`},
		{"not JSON", write("junk.json", []byte("junk")), "invalid character"},
		{"empty", write("empty.json", nil), "EOF"},
		{"missing", filepath.Join(dir, "nope.json"), "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := LoadModel(tt.path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("got %v, want error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// Members keep the model's order.
			var names []string
			for _, mem := range m.Shapes["CreateWidgetRequest"].Members[:4] {
				names = append(names, mem.Name)
			}
			if got := strings.Join(names, ","); got != "name,size,count,enabled" {
				t.Errorf("member order %s", got)
			}
		})
	}
}

func TestExported(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"clusterArn", "ClusterArn"},
		{"DNSName", "DNSName"},
		{"widget-part", "WidgetPart"},
		{"a.b c", "ABC"},
		{"snake_case", "Snake_case"},
		{"9lives", "X9lives"},
		{"", "X"},
	}
	for _, tt := range tests {
		if got := exported(tt.in); got != tt.want {
			t.Errorf("exported(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNamesClaim(t *testing.T) {
	t.Parallel()
	n := newNames("Handlers")
	for _, tt := range []struct{ want, got string }{
		{"Handlers", "HandlersShape"},
		{"Cluster", "Cluster"},
		{"Cluster", "ClusterShape"},
		{"Cluster", "ClusterShapeShape"},
	} {
		if got := n.claim(tt.want, "Shape"); got != tt.got {
			t.Errorf("claim(%q) = %q, want %q", tt.want, got, tt.got)
		}
	}
}

func TestVersionLess(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want bool
	}{
		{"ecs@v1.9.0", "ecs@v1.10.0", true},
		{"ecs@v1.10.0", "ecs@v1.9.0", false},
		{"ecs@v1.104.1", "ecs@v2.0.0", true},
		{"ecs@v1.2.3", "ecs@v1.2.3", false},
	}
	for _, tt := range tests {
		if got := versionLess(tt.a, tt.b); got != tt.want {
			t.Errorf("versionLess(%s, %s) = %v", tt.a, tt.b, got)
		}
	}
}

func TestLoadSDK(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "types"), 0o755)
	os.WriteFile(filepath.Join(dir, "api_op_CreateWidget.go"), []byte(`package tiny
type CreateWidgetInput struct {
	Name *string
	Size int32
	Count *int32
}`), 0o644)
	os.WriteFile(filepath.Join(dir, "types", "types.go"), []byte(`package types
type WidgetPart struct{ Weight *float64 }`), 0o644)
	sdk, err := loadSDK(dir)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		structName, field string
		wantPtr, wantOK   bool
	}{
		{"CreateWidgetInput", "Size", false, true},
		{"CreateWidgetInput", "Count", true, true},
		{"CreateWidgetInput", "count", true, true},
		{"WidgetPart", "Weight", true, true},
		{"WidgetPart", "Other", false, false},
		{"Missing", "Size", false, false},
	}
	for _, tt := range tests {
		isPtr, ok := sdk.pointer(tt.structName, tt.field)
		if isPtr != tt.wantPtr || ok != tt.wantOK {
			t.Errorf("pointer(%s, %s) = %v, %v", tt.structName, tt.field, isPtr, ok)
		}
	}
	if _, err := loadSDK(t.TempDir()); err == nil {
		t.Error("empty directory: want an error")
	}
}
