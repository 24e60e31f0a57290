package ecr

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/kumo-project/kumo/internal/wire/ecrwire"
)

// advisory is the part of an OSV record (https://ossf.github.io/osv-schema/)
// the scanner uses.
type advisory struct {
	ID         string    `json:"id"`
	Modified   time.Time `json:"modified"`
	Summary    string    `json:"summary"`
	Details    string    `json:"details"`
	Aliases    []string  `json:"aliases"`
	References []struct {
		URL string `json:"url"`
	} `json:"references"`
	Affected         []osvAffected   `json:"affected"`
	DatabaseSpecific osvSpecific     `json:"database_specific"`
	Severity         []osvSeverityIn `json:"severity"`
}

type osvAffected struct {
	Package struct {
		Ecosystem string `json:"ecosystem"`
		Name      string `json:"name"`
	} `json:"package"`
	Ranges []struct {
		Type   string     `json:"type"`
		Events []osvEvent `json:"events"`
	} `json:"ranges"`
	Versions          []string    `json:"versions"`
	EcosystemSpecific osvSpecific `json:"ecosystem_specific"`
	DatabaseSpecific  osvSpecific `json:"database_specific"`
}

type osvEvent struct {
	Introduced   string `json:"introduced,omitempty"`
	Fixed        string `json:"fixed,omitempty"`
	LastAffected string `json:"last_affected,omitempty"`
}

type osvSpecific struct {
	Severity string `json:"severity"`
}

type osvSeverityIn struct {
	Type  string `json:"type"`
	Score string `json:"score"`
}

// advisoryDB is the advisories of a directory, and when they last changed.
type advisoryDB struct {
	Advisories []advisory
	UpdatedAt  time.Time
}

// loadAdvisories reads every *.json file under dir (recursively) as an OSV
// record. An empty dir gives an empty database.
func loadAdvisories(dir string) (advisoryDB, error) {
	var db advisoryDB
	if dir == "" {
		return db, nil
	}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var a advisory
		if err := json.Unmarshal(data, &a); err != nil {
			return fmt.Errorf("advisory %s: %w", p, err)
		}
		db.Advisories = append(db.Advisories, a)
		if info, err := d.Info(); err == nil && info.ModTime().After(db.UpdatedAt) {
			db.UpdatedAt = info.ModTime().UTC()
		}
		if a.Modified.After(db.UpdatedAt) {
			db.UpdatedAt = a.Modified.UTC()
		}
		return nil
	})
	return db, err
}

// findings matches packages against the advisories: one finding per
// advisory and affected package.
func (db advisoryDB) findings(pkgs []pkg) []ecrwire.ImageScanFinding {
	var out []ecrwire.ImageScanFinding
	for _, a := range db.Advisories {
		for _, p := range pkgs {
			if aff, ok := a.affects(p); ok {
				out = append(out, a.finding(p, aff))
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		ri, rj := severityRank(out[i].Severity), severityRank(out[j].Severity)
		if ri != rj {
			return ri < rj
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// affects reports whether p is in a version the advisory affects.
func (a advisory) affects(p pkg) (osvAffected, bool) {
	for _, aff := range a.Affected {
		eco, _, _ := strings.Cut(aff.Package.Ecosystem, ":")
		if eco != p.Ecosystem || aff.Package.Name != p.Name {
			continue
		}
		for _, v := range aff.Versions {
			if compareVersions(p.Ecosystem, v, p.Version) == 0 {
				return aff, true
			}
		}
		for _, r := range aff.Ranges {
			if r.Type != "GIT" && inRange(p.Ecosystem, r.Events, p.Version) {
				return aff, true
			}
		}
	}
	return osvAffected{}, false
}

// inRange applies OSV's range evaluation: events in version order; an
// introduced event at or below v opens the range, a fixed event at or
// below v (or a last_affected event below v) closes it.
func inRange(eco string, events []osvEvent, v string) bool {
	evs := append([]osvEvent(nil), events...)
	at := func(e osvEvent) string { return e.Introduced + e.Fixed + e.LastAffected }
	sort.SliceStable(evs, func(i, j int) bool { return compareVersions(eco, at(evs[i]), at(evs[j])) < 0 })
	affected := false
	for _, e := range evs {
		switch {
		case e.Introduced != "":
			if e.Introduced == "0" || compareVersions(eco, v, e.Introduced) >= 0 {
				affected = true
			}
		case e.Fixed != "":
			if compareVersions(eco, v, e.Fixed) >= 0 {
				affected = false
			}
		case e.LastAffected != "":
			if compareVersions(eco, v, e.LastAffected) > 0 {
				affected = false
			}
		}
	}
	return affected
}

// finding renders the match of advisory a for p as ECR's basic scan does:
// the CVE name when the advisory has one, severity, package attributes.
func (a advisory) finding(p pkg, aff osvAffected) ecrwire.ImageScanFinding {
	name := a.ID
	for _, al := range a.Aliases {
		if strings.HasPrefix(al, "CVE-") {
			name = al
			break
		}
	}
	desc := a.Summary
	if desc == "" {
		desc = a.Details
	}
	f := ecrwire.ImageScanFinding{
		Name: name, Description: desc, Severity: a.severity(aff),
		Attributes: []ecrwire.Attribute{
			{Key: "package_name", Value: p.Name}, {Key: "package_version", Value: p.Version},
			{Key: "package_ecosystem", Value: p.Ecosystem}, {Key: "advisory_id", Value: a.ID},
		},
	}
	if len(a.References) > 0 {
		f.Uri = a.References[0].URL
	}
	return f
}

// severity is the advisory's severity label in ECR's terms; UNDEFINED when
// the advisory gives only a CVSS vector or nothing.
func (a advisory) severity(aff osvAffected) string {
	for _, s := range []string{aff.EcosystemSpecific.Severity, aff.DatabaseSpecific.Severity, a.DatabaseSpecific.Severity} {
		switch strings.ToUpper(s) {
		case "CRITICAL":
			return "CRITICAL"
		case "HIGH", "IMPORTANT":
			return "HIGH"
		case "MEDIUM", "MODERATE":
			return "MEDIUM"
		case "LOW":
			return "LOW"
		case "NEGLIGIBLE", "UNIMPORTANT", "INFORMATIONAL":
			return "INFORMATIONAL"
		}
	}
	return "UNDEFINED"
}

var severityOrder = []string{"CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED"}

func severityRank(s string) int {
	for i, v := range severityOrder {
		if v == s {
			return i
		}
	}
	return len(severityOrder)
}

// severityCounts counts findings per severity.
func severityCounts(fs []ecrwire.ImageScanFinding) map[string]int32 {
	out := map[string]int32{}
	for _, f := range fs {
		out[f.Severity]++
	}
	return out
}

// compareVersions orders versions of an ecosystem: semantic versions for
// Go, Debian's dpkg ordering for Debian and Alpine (close enough for apk's
// numeric-dotted versions with -rN revisions).
func compareVersions(eco, a, b string) int {
	if eco == ecoGo {
		return compareSemver(a, b)
	}
	return compareDebian(a, b)
}

// compareSemver compares MAJOR.MINOR.PATCH[-PRERELEASE] versions.
func compareSemver(a, b string) int {
	a, b = strings.TrimPrefix(a, "v"), strings.TrimPrefix(b, "v")
	a, _, _ = strings.Cut(a, "+")
	b, _, _ = strings.Cut(b, "+")
	ac, apre, _ := strings.Cut(a, "-")
	bc, bpre, _ := strings.Cut(b, "-")
	ap, bp := strings.Split(ac, "."), strings.Split(bc, ".")
	for i := 0; i < 3; i++ {
		if c := compareNum(part(ap, i), part(bp, i)); c != 0 {
			return c
		}
	}
	switch {
	case apre == bpre:
		return 0
	case apre == "":
		return 1
	case bpre == "":
		return -1
	}
	return strings.Compare(apre, bpre)
}

func part(ps []string, i int) string {
	if i < len(ps) {
		return ps[i]
	}
	return "0"
}

func compareNum(a, b string) int {
	x, _ := strconv.ParseUint(a, 10, 64)
	y, _ := strconv.ParseUint(b, 10, 64)
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// compareDebian is dpkg's version comparison: epoch, then upstream version
// and revision by alternating non-digit and digit runs, '~' before all.
func compareDebian(a, b string) int {
	ae, arest := splitEpoch(a)
	be, brest := splitEpoch(b)
	if c := compareNum(ae, be); c != 0 {
		return c
	}
	au, ar := splitRevision(arest)
	bu, brv := splitRevision(brest)
	if c := compareDebianPart(au, bu); c != 0 {
		return c
	}
	return compareDebianPart(ar, brv)
}

func splitEpoch(v string) (string, string) {
	if e, rest, ok := strings.Cut(v, ":"); ok {
		return e, rest
	}
	return "0", v
}

func splitRevision(v string) (string, string) {
	if i := strings.LastIndex(v, "-"); i >= 0 {
		return v[:i], v[i+1:]
	}
	return v, ""
}

func compareDebianPart(a, b string) int {
	for a != "" || b != "" {
		var an, bn string
		an, a = span(a, func(r rune) bool { return !unicode.IsDigit(r) })
		bn, b = span(b, func(r rune) bool { return !unicode.IsDigit(r) })
		if c := compareLexical(an, bn); c != 0 {
			return c
		}
		an, a = span(a, unicode.IsDigit)
		bn, b = span(b, unicode.IsDigit)
		if c := compareNum(an, bn); c != 0 {
			return c
		}
	}
	return 0
}

func span(s string, f func(rune) bool) (string, string) {
	i := strings.IndexFunc(s, func(r rune) bool { return !f(r) })
	if i < 0 {
		return s, ""
	}
	return s[:i], s[i:]
}

// compareLexical compares non-digit runs with dpkg's character order:
// '~' first, then the end of the run, then letters, then other characters.
func compareLexical(a, b string) int {
	order := func(s string, i int) int {
		if i >= len(s) {
			return 0
		}
		c := s[i]
		switch {
		case c == '~':
			return -1
		case unicode.IsLetter(rune(c)):
			return int(c)
		}
		return int(c) + 256
	}
	for i := 0; i < len(a) || i < len(b); i++ {
		if x, y := order(a, i), order(b, i); x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}
