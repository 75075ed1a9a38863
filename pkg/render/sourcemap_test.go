package render

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cododemo/cododemo/pkg/config"
	"github.com/cododemo/cododemo/pkg/plan"
	"github.com/cododemo/cododemo/templates"
)

// The instrumented templates render exactly the real output, and every
// output line that comes from a plain text line of a template names that
// very line.
func TestSourceLinesExact(t *testing.T) {
	for _, c := range goldenCases {
		r := renderCase(t, c)
		tmpl := r.tmpl
		name, data, out := templates.Vagrantfile, any(r.vagrant), r.Files[0].Data
		locs := tmpl.sourceLines(name, data, out)
		if locs == nil {
			t.Fatalf("%s: the instrumented %s renders other output", c.name, name)
		}
		checked := 0
		for i, line := range strings.Split(string(out), "\n") {
			l := locs[min(i, len(locs)-1)]
			src := strings.Split(tmpl.sources[l.File], "\n")
			if l.Line == 0 || l.Line > len(src) || strings.Contains(src[l.Line-1], "{{") {
				continue
			}
			checked++
			if src[l.Line-1] != line {
				t.Errorf("%s: output line %d %q is placed at %s: %q", c.name, i+1, line, l, src[l.Line-1])
			}
		}
		if checked < 20 {
			t.Errorf("%s: only %d lines placed", c.name, checked)
		}
	}
}

// A strict-Butane error in a user's node.bu.tmpl points at that file and
// line, not at the rendered nodes/core-01.bu (which holds the last render).
func TestButaneErrorPointsAtTemplate(t *testing.T) {
	src, err := templates.FS.ReadFile(templates.Butane)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(src), "\n")
	// An unknown key right after the "storage:" line.
	at := -1
	for i, l := range lines {
		if l == "storage:" {
			at = i + 1
		}
	}
	if at < 0 {
		t.Fatal("no storage: line in node.bu.tmpl")
	}
	lines = append(lines[:at], append([]string{"  filez: []"}, lines[at:]...)...)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, templates.Butane), []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	tmpl, err := LoadTemplates(dir)
	if err != nil {
		t.Fatal(err)
	}
	lab := config.Default()
	lab.Format = "ignition"
	p, _ := plan.New(lab, nil, fixedSecrets)
	_, err = Render(p, Options{Templates: tmpl})
	want := filepath.Join(dir, templates.Butane) + ":" + strconv.Itoa(at+1) + ": "
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "filez") {
		t.Fatalf("want an error at %s, got %v", want, err)
	}
}
