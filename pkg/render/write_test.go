package render

import (
	"os"
	"path/filepath"
	"runtime"
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

// Node configs carry the cluster token: on VirtualBox only their owner
// reads them, and so do the manifest and journal. A file of an earlier
// render with the right bytes but a looser mode is rewritten.
func TestWriteModes(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows has no Unix permission bits")
	}
	dir := labstate.Dir{Path: t.TempDir()}
	r := renderCase(t, goldenCases[0])
	if _, err := Write(dir, r, false); err != nil {
		t.Fatal(err)
	}
	var node string
	for _, f := range r.Files {
		if filepath.Dir(f.Path) == "nodes" && node == "" {
			node = f.Path
		}
	}
	if err := os.Chmod(dir.Join(node), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := Write(dir, r, false)
	if err != nil || len(rep.Written) != 1 || rep.Written[0] != node {
		t.Fatalf("a node config left 0644 must be rewritten, alone: %+v, %v", rep, err)
	}
	for _, f := range r.Files {
		fi, err := os.Stat(dir.Join(f.Path))
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Dir(f.Path) == "nodes" && fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: mode %v, readable by others", f.Path, fi.Mode().Perm())
		}
	}
	if fi, err := os.Stat(dir.Join(labstate.ManifestFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("manifest: %v %v", fi.Mode().Perm(), err)
	}
}
