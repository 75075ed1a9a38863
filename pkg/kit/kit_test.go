package kit

import (
	"bytes"
	"context"
	"debug/elf"
	"os"
	"testing"

	"github.com/cododemo/cododemo/pkg/kit/imagetar"
)

// TestBuildReproducibleStatic builds the kit's smallest program for both
// architectures twice: same sha256 each time, and the image holds a static
// binary for the right machine.
func TestBuildReproducibleStatic(t *testing.T) {
	o := Options{ModuleDir: "../..", Programs: []Program{Programs[0]}}
	machines := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}
	for _, arch := range Arches {
		a, err := Build(context.Background(), o, arch, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		b, err := Build(context.Background(), o, arch, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if a.SHA256 != b.SHA256 || a.Size != b.Size {
			t.Errorf("%s: two builds differ: %s %d, %s %d", arch, a.SHA256, a.Size, b.SHA256, b.Size)
		}
		t.Logf("%s: %d bytes, sha256 %s", arch, a.Size, a.SHA256)
		f, err := os.Open(a.Path)
		if err != nil {
			t.Fatal(err)
		}
		images, err := imagetar.Read(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(images) != 1 || images[0].Tags[0] != "cododemo/hello:1" || images[0].Arch != arch {
			t.Fatalf("%s: images %+v", arch, images)
		}
		bin := images[0].Files["hello"]
		if bin.Mode != 0o755 {
			t.Errorf("%s: mode %o", arch, bin.Mode)
		}
		e, err := elf.NewFile(bytes.NewReader(bin.Data))
		if err != nil {
			t.Fatalf("%s: not an ELF binary: %v", arch, err)
		}
		if e.Machine != machines[arch] {
			t.Errorf("%s: ELF machine %v", arch, e.Machine)
		}
		for _, p := range e.Progs {
			if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
				t.Errorf("%s: not static: has %v", arch, p.Type)
			}
		}
	}
}
