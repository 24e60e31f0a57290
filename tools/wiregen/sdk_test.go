package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"testing"
)

// TestRealModelsMatchSDK generates the wire types of services whose SDK
// this module requires and checks every number and boolean field against
// the SDK: a pointer exactly where the SDK has one. It is skipped where
// botocore or the SDK is not installed.
func TestRealModelsMatchSDK(t *testing.T) {
	t.Parallel()
	services := []struct{ model, sdk string }{
		{"ecs", "github.com/aws/aws-sdk-go-v2/service/ecs"},
		{"ecr", "github.com/aws/aws-sdk-go-v2/service/ecr"},
		{"logs", "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"},
		{"elbv2", "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"},
	}
	for _, svc := range services {
		t.Run(svc.model, func(t *testing.T) {
			t.Parallel()
			path, err := modelPath(svc.model, "")
			if err != nil {
				t.Skip(err)
			}
			dir, err := resolveSDK(svc.sdk)
			if err != nil {
				t.Skip(err)
			}
			m, err := LoadModel(path)
			if err != nil {
				t.Fatal(err)
			}
			sdk, err := loadSDK(dir)
			if err != nil {
				t.Fatal(err)
			}
			src, notInSDK, err := Generate(m, Options{Package: "x", SDK: sdk})
			if err != nil {
				t.Fatal(err)
			}
			if len(notInSDK) > 0 {
				t.Errorf("members not found in the SDK: %v", notInSDK)
			}
			f, err := parser.ParseFile(token.NewFileSet(), "gen.go", src, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			generated := scalarFields(f)
			// The SDK names operation shapes <Op>Input and <Op>Output.
			sdkNameOf := map[string]string{}
			for name, op := range m.Operations {
				if op.Input != nil {
					sdkNameOf[exported(op.Input.Shape)] = exported(name) + "Input"
				}
				if op.Output != nil {
					sdkNameOf[exported(op.Output.Shape)] = exported(name) + "Output"
				}
			}
			checked := 0
			for structName, fields := range generated {
				sdkName := structName
				if n, ok := sdkNameOf[structName]; ok {
					sdkName = n
				}
				for field, isPtr := range fields {
					sdkPtr, ok := sdk.pointer(sdkName, field)
					if !ok {
						continue
					}
					checked++
					if isPtr != sdkPtr {
						t.Errorf("%s.%s: pointer %v, SDK %s.%s pointer %v", structName, field, isPtr, sdkName, field, sdkPtr)
					}
				}
			}
			if checked < 20 {
				t.Errorf("only %d fields compared", checked)
			}
		})
	}
}

// scalarFields returns the number and boolean fields of the structs in f,
// with whether each is a pointer.
func scalarFields(f *ast.File) sdkStructs {
	structs := sdkStructs{}
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok {
			return true
		}
		st, ok := ts.Type.(*ast.StructType)
		if !ok {
			return false
		}
		fields := map[string]bool{}
		for _, fld := range st.Fields.List {
			typ := fld.Type
			star, isPtr := typ.(*ast.StarExpr)
			if isPtr {
				typ = star.X
			}
			if id, ok := typ.(*ast.Ident); ok && len(fld.Names) == 1 {
				switch id.Name {
				case "bool", "int8", "int16", "int32", "int64", "float32", "float64":
					fields[fld.Names[0].Name] = isPtr
				}
			}
		}
		structs[ts.Name.Name] = fields
		return false
	})
	return structs
}
