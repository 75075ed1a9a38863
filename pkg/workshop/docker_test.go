//go:build linux

package workshop

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cododemo/cododemo/pkg/health"
	"github.com/cododemo/cododemo/pkg/kit"
	"github.com/cododemo/cododemo/pkg/kit/kittest"
	"github.com/cododemo/cododemo/pkg/testnodes"
)

// TestLoadKitThenDockerHelloForReal: the kit is streamed over SSH into a
// real `docker load` on every stand-in node, then E6 runs for real (the
// nodes share one dockerd of the test's own, which E6 on one node does
// not mind) and its cleanup leaves no container.
func TestLoadKitThenDockerHelloForReal(t *testing.T) {
	arch, err := kittest.HostArch()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := kit.Build(context.Background(), kit.Options{ModuleDir: "../.."}, arch, dir); err != nil {
		t.Fatal(err)
	}
	d := kittest.Start(t)
	c := testnodes.Start(t, testnodes.Options{Nodes: 3})
	real, err := exec.LookPath("docker")
	if err != nil {
		t.Fatal(err)
	}
	// The nodes' docker is the real CLI talking to the test's daemon.
	wrapper := "#!/bin/sh\nexec " + real + " -H " + d.Host + " \"$@\"\n"
	if err := os.WriteFile(filepath.Join(c.Dir, "bin", "docker"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	e := engine(t, c, nil)
	for _, sr := range e.LoadKit(context.Background(), KitSource{Path: dir}) {
		if sr.Status != health.Pass {
			t.Fatalf("load-kit: %+v", sr)
		}
		t.Log(sr.Message)
	}
	if out, err := d.Docker("image", "ls", "--format", "{{.Repository}}:{{.Tag}}"); err != nil || !strings.Contains(out, "cododemo/hello:1") {
		t.Fatalf("images after load-kit: %v %q", err, out)
	}
	res := e.Run(context.Background(), builtIn(t, "docker-hello"))
	if res.Status != health.Pass {
		t.Fatalf("E6: %s: %+v", res.Status, res.Steps)
	}
	if s := stepByName(res, PhaseStep, "run hello"); !strings.Contains(s.Message, "hello World") {
		t.Errorf("run hello: %+v", s)
	}
	if out, _ := d.Docker("ps", "-a", "--quiet"); out != "" {
		t.Errorf("containers left behind: %q", out)
	}
}

// BenchmarkLoadKit is `workshop load-kit` of this machine's kit tarball
// onto three stand-in nodes sharing one real dockerd (so Docker's own work
// is done three times on one machine, one after another in effect): the
// time from the tarball on the host to every node having the images.
func BenchmarkLoadKit(b *testing.B) {
	arch, err := kittest.HostArch()
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	if _, err := kit.Build(context.Background(), kit.Options{ModuleDir: "../.."}, arch, dir); err != nil {
		b.Fatal(err)
	}
	d := kittest.Start(b)
	c := testnodes.Start(b, testnodes.Options{Nodes: 3})
	real, err := exec.LookPath("docker")
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.Dir, "bin", "docker"), []byte("#!/bin/sh\nexec "+real+" -H "+d.Host+" \"$@\"\n"), 0o755); err != nil {
		b.Fatal(err)
	}
	e := engine(b, c, nil)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		if out, err := d.Docker("image", "rm", "-f", "cododemo/hello:1", "cododemo/web:1", "cododemo/lb:1"); err != nil && otherFailure(out) {
			b.Fatal(out)
		}
		b.StartTimer()
		for _, sr := range e.LoadKit(context.Background(), KitSource{Path: dir}) {
			if sr.Status != health.Pass {
				b.Fatalf("%+v", sr)
			}
		}
	}
}

// otherFailure says an image removal failed for another reason than the image not
// being there (the first round).
func otherFailure(out string) bool { return !strings.Contains(out, "No such image") }
