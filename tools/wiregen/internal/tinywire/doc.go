// Package tinywire is wiregen's output for the hand-written model
// testdata/tiny.json, checked in so that its tests prove the generated code
// compiles and behaves; wiregen's TestGolden keeps it in step with the
// generator. Do not edit wire_gen.go; regenerate it.
package tinywire

//go:generate go run ../.. -model ../../testdata/tiny.json -empty-strings widget-part.note -package tinywire -out wire_gen.go
