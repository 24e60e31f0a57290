package main

import (
	"fmt"
	"strconv"
	"strings"
)

// form is how a value is held where a check looks at it.
type form int

const (
	// asField: a struct field; numbers and booleans may be pointers,
	// structures and timestamps are pointers.
	asField form = iota
	// asPlainField: a struct field holding a plain number or boolean,
	// where zero and absent look the same.
	asPlainField
	// asElement: an element of a list or map, always a value.
	asElement
)

// writeValidate declares the Validate method of a structure: required
// members first, then each member's constraints, recursing into nested
// structures, lists and maps.
func (g *generator) writeValidate(shapeName string, s *Shape) {
	typeName := g.types[shapeName]
	var body strings.Builder
	fields := fieldNames(s)
	for i, mem := range s.Members {
		field := "s." + fields[i]
		path := fmt.Sprintf("protocol.Join(path, %q)", g.pathName(mem))
		if s.IsRequired(mem.Name) {
			body.WriteString(g.required(shapeName, mem, field, path))
		}
		body.WriteString(g.memberChecks(shapeName, mem, field, path))
	}
	g.printf("// Validate records the constraints of the model that s breaks.\n")
	if body.Len() == 0 {
		g.printf("func (*%s) Validate(*protocol.Validator, string) {}\n\n", typeName)
		return
	}
	g.printf("func (s *%s) Validate(v *protocol.Validator, path string) {\n%s}\n\n", typeName, body.String())
}

// pathName is how validation messages name a member: lowerCamel whatever
// the wire spelling, as AWS does ('tableName' for DynamoDB's TableName).
func (g *generator) pathName(mem Member) string {
	return lowerFirst(mem.Name)
}

// memberChecks returns the checks of one member of a structure. A *string
// member is checked when present, "" included: that is a value.
func (g *generator) memberChecks(owner string, mem Member, field, path string) string {
	if g.emptyString(owner, mem) {
		return guard(field+" != nil", g.checks(mem.Shape, "*"+field, path, 0, asElement))
	}
	return g.checks(mem.Shape, field, path, 0, g.fieldForm(owner, mem))
}

// fieldForm tells whether a numeric or boolean field is a pointer.
func (g *generator) fieldForm(owner string, mem Member) form {
	if g.isValueField(owner, mem) {
		return asPlainField
	}
	return asField
}

// required checks that a required member is present. Plain numbers and
// booleans are always present; a *string is present when not nil.
func (g *generator) required(owner string, mem Member, expr, path string) string {
	if g.isValueField(owner, mem) {
		return ""
	}
	s := g.m.Shapes[mem.Shape]
	if s.Type == "string" && !g.emptyString(owner, mem) {
		return fmt.Sprintf("v.Required(%s != \"\", %s)\n", expr, path)
	}
	return fmt.Sprintf("v.Required(%s != nil, %s)\n", expr, path)
}

// checks returns the statements that check the value expr of shape at path.
// Absent values (nil, or "" for strings) are not checked: only required
// says anything about them. depth numbers the loop variables.
func (g *generator) checks(shape, expr, path string, depth int, f form) string {
	s := g.m.Shapes[shape]
	switch s.Type {
	case "structure":
		if s.Document {
			return ""
		}
		if f == asField {
			return fmt.Sprintf("if %s != nil {\n%s.Validate(v, %s)\n}\n", expr, expr, path)
		}
		return fmt.Sprintf("%s.Validate(v, %s)\n", expr, path)
	case "string":
		return g.stringChecks(shape, s, expr, path, f)
	case "blob":
		return guard(expr+" != nil", lengthCheck(s, expr, "len("+expr+")", path))
	case "list":
		return g.listChecks(s, expr, path, depth)
	case "map":
		return g.mapChecks(s, expr, path, depth)
	case "integer", "long", "float", "double", "byte", "short":
		return rangeCheck(s, expr, path, f)
	}
	return ""
}

func (g *generator) stringChecks(shape string, s *Shape, expr, path string, f form) string {
	var c string
	if s.Min != nil && *s.Min > 1 || s.Max != nil {
		g.usesUTF8 = true
		c += lengthCheck(s, expr, "utf8.RuneCountInString("+expr+")", path)
	}
	if values, ok := g.enums[shape]; ok {
		c += fmt.Sprintf("v.Enum(%s, %s, %s)\n", expr, path, values)
	}
	if f == asField {
		return guard(expr+` != ""`, c)
	}
	return c
}

func (g *generator) listChecks(s *Shape, expr, path string, depth int) string {
	i := "i" + strconv.Itoa(depth)
	c := guard(expr+" != nil", lengthCheck(s, expr, "len("+expr+")", path))
	elem := g.checks(s.Member.Shape, expr+"["+i+"]", "protocol.Index("+path+", "+i+")", depth+1, asElement)
	if elem != "" {
		c += fmt.Sprintf("for %s := range %s {\n%s}\n", i, expr, elem)
	}
	return c
}

func (g *generator) mapChecks(s *Shape, expr, path string, depth int) string {
	k, e := "k"+strconv.Itoa(depth), "e"+strconv.Itoa(depth)
	c := guard(expr+" != nil", lengthCheck(s, expr, "len("+expr+")", path))
	entryPath := "protocol.Join(" + path + ", " + k + ")"
	keyChecks := g.checks(s.Key.Shape, k, entryPath, depth+1, asElement)
	valueChecks := g.checks(s.Value.Shape, e, entryPath, depth+1, asElement)
	switch {
	case keyChecks != "" && valueChecks != "":
		c += fmt.Sprintf("for %s, %s := range %s {\n%s%s}\n", k, e, expr, keyChecks, valueChecks)
	case keyChecks != "":
		c += fmt.Sprintf("for %s := range %s {\n%s}\n", k, expr, keyChecks)
	case valueChecks != "":
		c += fmt.Sprintf("for %s, %s := range %s {\n%s}\n", k, e, expr, valueChecks)
	}
	return c
}

// lengthCheck checks n, the length of expr, against the shape's min and max.
// Messages leave out the values of sensitive members and of blobs.
func lengthCheck(s *Shape, expr, n, path string) string {
	if s.Min == nil && s.Max == nil || s.Min != nil && *s.Min <= 0 && s.Max == nil {
		return ""
	}
	if s.Sensitive || s.Type == "blob" {
		expr = "protocol.Redacted"
	}
	min, max := -1, -1
	if s.Min != nil {
		min = int(*s.Min)
	}
	if s.Max != nil {
		max = int(*s.Max)
	}
	return fmt.Sprintf("v.Length(%s, %s, %s, %d, %d)\n", expr, n, path, min, max)
}

// rangeCheck checks a number against the shape's min and max. A plain
// (non-pointer) field is only checked when not zero, since zero is also
// what an absent member decodes to.
func rangeCheck(s *Shape, expr, path string, f form) string {
	if s.Min == nil && s.Max == nil {
		return ""
	}
	bound := func(b *float64) string {
		if b == nil {
			return "nil"
		}
		return "protocol.Bound(" + strconv.FormatFloat(*b, 'g', -1, 64) + ")"
	}
	check := func(value string) string {
		return fmt.Sprintf("v.Range(float64(%s), %s, %s, %s)\n", value, path, bound(s.Min), bound(s.Max))
	}
	switch f {
	case asField:
		return guard(expr+" != nil", check("*"+expr))
	case asPlainField:
		return guard(expr+" != 0", check(expr))
	}
	return check(expr)
}

// guard wraps checks in an if statement, or returns "" when there are none.
func guard(cond, checks string) string {
	if checks == "" {
		return ""
	}
	return "if " + cond + " {\n" + checks + "}\n"
}
