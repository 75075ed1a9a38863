package render

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/cododemo/cododemo/pkg/config"
	"github.com/cododemo/cododemo/pkg/fsutil"
	"github.com/cododemo/cododemo/pkg/labstate"
)

// A render killed midway leaves its journal, some of its files and
// temporary files; the next render, of another configuration, is not
// refused for "hand edits", completes, and leaves nothing behind.
func TestWriteCompletesInterruptedRender(t *testing.T) {
	dir := labstate.Dir{Path: t.TempDir()}
	a := renderCase(t, goldenCases[0])
	if _, err := Write(dir, a, false); err != nil {
		t.Fatal(err)
	}
	// What Write does up to a kill after two files: journal, files, temps.
	b := renderCase(t, goldenCase{name: "b", edit: func(l *config.Lab) { l.Nodes.Memory, l.Nodes.Count = 3072, 4 }})
	m, _ := dir.ReadManifest()
	j := m.Known()
	for _, f := range b.Files {
		j.Add(f.Path, labstate.Hash(f.Data))
	}
	if err := dir.WriteJournal(j); err != nil {
		t.Fatal(err)
	}
	for _, f := range b.Files[:2] {
		if err := fsutil.WriteFileAtomic(dir.Join(f.Path), f.Data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	last := b.Files[len(b.Files)-1] // a node the first render does not have
	temps := []string{dir.Join(".Vagrantfile.tmp-1"), dir.Join(filepath.Dir(last.Path), "."+filepath.Base(last.Path)+".tmp-2")}
	for _, p := range temps {
		if err := os.WriteFile(p, []byte("half"), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	c := renderCase(t, goldenCase{name: "c", edit: func(l *config.Lab) { l.Nodes.Memory = 4096 }})
	rep, err := Write(dir, c, false)
	if err != nil {
		t.Fatalf("the render after an interrupted one: %v", err)
	}
	if !rep.Resumed {
		t.Error("the report does not say an interrupted render was completed")
	}
	for _, p := range temps {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("temporary file %s left: %v", p, err)
		}
	}
	for _, p := range []string{labstate.JournalFile} {
		if _, err := os.Stat(dir.Join(p)); !os.IsNotExist(err) {
			t.Errorf("%s left after a complete render", p)
		}
	}
	for _, f := range c.Files {
		if got, err := os.ReadFile(dir.Join(f.Path)); err != nil || labstate.Hash(got) != labstate.Hash(f.Data) {
			t.Errorf("%s is not the last render's: %v", f.Path, err)
		}
	}
	if rep, err := Write(dir, c, false); err != nil || len(rep.Written) != 0 || rep.Resumed {
		t.Fatalf("a render after a complete one: %+v, %v", rep, err)
	}
}
