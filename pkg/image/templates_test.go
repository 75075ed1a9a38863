package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cododemo/cododemo/pkg/image/releasetest"
)

func tgz(t *testing.T, files map[string]string) []byte {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for n, c := range files {
		tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(c))})
		tw.Write([]byte(c))
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

func TestTemplatesFromHTTPArchivePinnedByContent(t *testing.T) {
	srv := releasetest.New(t)
	files := map[string]string{"Vagrantfile.tmpl": "# v\n", "ignition/node.bu.tmpl": "variant: flatcar\n"}
	srv.Put("/t/templates.tar.gz", tgz(t, files))
	svc, err := New(Options{CacheDir: t.TempDir(), Keyring: releasetest.NewSigner(t, "k").Keyring, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	src := srv.URL + "/t/templates.tar.gz"
	dir, sha, err := svc.Templates(ctx, src, "")
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "ignition", "node.bu.tmpl")); string(b) != "variant: flatcar\n" {
		t.Fatalf("fetched tree wrong: %q", b)
	}
	// Pinned and cached: no request.
	n := srv.Total()
	if d2, _, err := svc.Templates(ctx, src, sha); err != nil || d2 != dir || srv.Total() != n {
		t.Fatalf("pinned fetch: %v", err)
	}
	// The source changes under the pin: refused, nothing cached.
	files["Vagrantfile.tmpl"] = "# changed\n"
	srv.Put("/t/templates.tar.gz", tgz(t, files))
	svc2, _ := New(Options{CacheDir: t.TempDir(), Keyring: svc.Keyring, Getenv: func(string) string { return "" }})
	if _, _, err := svc2.Templates(ctx, src, sha); err == nil || !strings.Contains(err.Error(), "but the lock pins "+sha) {
		t.Fatalf("moved source: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(svc2.Cache.Dir, "trees")); len(entries) != 0 {
		t.Errorf("tree cached despite mismatch")
	}
}

func TestTemplatesFromGit(t *testing.T) {
	git, err := osexec.LookPath("git")
	if err != nil {
		t.Fatal("git is required (apt-get install git)")
	}
	repo := t.TempDir()
	run := func(args ...string) {
		t.Helper()
		c := osexec.Command(git, args...)
		c.Dir = repo
		c.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@x", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@x")
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	run("init", "-q")
	os.WriteFile(filepath.Join(repo, "Vagrantfile.tmpl"), []byte("# from git\n"), 0o644)
	run("add", ".")
	run("commit", "-q", "-m", "t")
	dst := filepath.Join(t.TempDir(), "t")
	sha, err := FetchTemplates(context.Background(), "git::file://"+repo, dst, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dst, ".git")); err == nil {
		t.Error(".git kept")
	}
	want, _ := TreeHash(dst)
	if sha != want || len(sha) != 64 {
		t.Errorf("sha %s want %s", sha, want)
	}
}
