package cache

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestIngestVerifiesBeforeCommit(t *testing.T) {
	c := Open(t.TempDir())
	src := filepath.Join(t.TempDir(), "f")
	os.WriteFile(src, []byte("hello"), 0o644)
	const helloSHA = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
	_, err := c.Ingest(src, strings.Repeat("a", 64), 0)
	var mm *MismatchError
	if !errors.As(err, &mm) || mm.Got != helloSHA {
		t.Fatalf("err = %v", err)
	}
	if _, err := c.Ingest(src, helloSHA, 4); !errors.As(err, &mm) || !strings.Contains(err.Error(), "size 5, want 4") {
		t.Fatalf("size: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(c.Dir, "tmp")); len(entries) != 0 {
		t.Errorf("staging left behind: %v", entries)
	}
	if _, ok := c.Path(helloSHA); ok {
		t.Fatal("mismatched file committed")
	}
	p, err := c.Ingest(src, helloSHA, 5)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := c.Path(helloSHA); !ok || got != p {
		t.Fatalf("Path = %s %v", got, ok)
	}
	if _, ok := c.Path("../../etc/passwd"); ok {
		t.Fatal("Path accepted a non-hash")
	}
}

func TestRefsAndPrune(t *testing.T) {
	c := Open(t.TempDir())
	keep, _ := c.PutBytes([]byte("keep"))
	drop, _ := c.PutBytes([]byte("drop"))
	orphan, _ := c.PutBytes([]byte("orphan"))
	if err := c.PutRef(Ref{Kind: KindBox, Name: "flatcar-stable", Version: "1.2.3", Provider: "virtualbox", SHA256: keep}); err != nil {
		t.Fatal(err)
	}
	if err := c.PutRef(Ref{Kind: KindBox, Name: "flatcar-stable", Version: "1.2.2", Provider: "virtualbox", SHA256: drop}); err != nil {
		t.Fatal(err)
	}
	if err := c.PutRef(Ref{Kind: KindArtifact, Name: "x", SHA256: strings.Repeat("b", 64)}); err == nil {
		t.Fatal("ref to a missing blob accepted")
	}
	os.MkdirAll(filepath.Join(c.Dir, "partial"), 0o755)
	os.WriteFile(filepath.Join(c.Dir, "partial", strings.Repeat("c", 64)), []byte("half"), 0o644)
	isOld := func(r Ref) bool { return r.Version != "1.2.2" }
	res, err := c.Prune(isOld, true)
	if err != nil || len(res.Refs) != 1 || len(res.Blobs) != 3 {
		t.Fatalf("dry run: %+v %v", res, err)
	}
	if _, ok := c.Path(drop); !ok {
		t.Fatal("dry run removed something")
	}
	if _, err := c.Prune(isOld, false); err != nil {
		t.Fatal(err)
	}
	for sha, want := range map[string]bool{keep: true, drop: false, orphan: false} {
		if _, ok := c.Path(sha); ok != want {
			t.Errorf("%s present=%v want %v", sha[:8], ok, want)
		}
	}
	refs, _ := c.Refs("")
	if len(refs) != 1 || refs[0].Version != "1.2.3" {
		t.Errorf("refs = %+v", refs)
	}
}

// A ref's kind names a directory: only the closed set may, and no name
// or key may climb out of refs/.
func TestPutRefStaysInRefs(t *testing.T) {
	parent := t.TempDir()
	c := Open(filepath.Join(parent, "cache"))
	sha, err := c.PutBytes([]byte("blob"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []Ref{
		{Kind: "../../victim", Name: "settings", SHA256: sha},
		{Kind: "box/../../x", Name: "n", Version: "1", Provider: "p", SHA256: sha},
		{Kind: KindArtifact, Name: "../../../x", SHA256: sha},
		{Kind: KindArtifact, Name: "..", SHA256: sha},
		{Kind: KindArtifact, Name: "ok", SHA256: "../x"},
		{Kind: KindCatalog, Channel: "stable", Arch: "amd64", Version: "1", SHA256: sha}, // no signature
	} {
		if err := c.PutRef(r); err == nil {
			t.Errorf("PutRef(%+v) accepted", r)
		}
	}
	if _, ok := c.GetRef(Ref{Kind: "../../victim", Name: "settings"}); ok {
		t.Error("GetRef read outside refs/")
	}
	entries, _ := os.ReadDir(parent)
	if len(entries) != 1 {
		t.Errorf("PutRef wrote next to the cache: %v", entries)
	}
	good := Ref{Kind: KindBox, Name: "flatcar/flatcar-stable", Version: "4593.2.5", Provider: "virtualbox", SHA256: sha}
	if err := c.PutRef(good); err != nil {
		t.Fatal(err)
	}
	if got, ok := c.GetRef(good); !ok || got.SHA256 != sha {
		t.Fatalf("GetRef = %+v %v", got, ok)
	}
}
