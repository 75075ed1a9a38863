package workshop

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/cododemo/cododemo/pkg/health"
	"github.com/cododemo/cododemo/pkg/kit"
	"github.com/cododemo/cododemo/pkg/kit/imagetar"
	"github.com/cododemo/cododemo/pkg/testnodes"
)

// fakeDocker stands in for docker on the stand-in nodes, which have none:
// `docker load` keeps what it was sent under the node root, `docker image
// inspect` finds the tags in the kept tarball's manifest. The real docker
// load runs in the e2e tier.
const fakeDocker = `#!/bin/sh
case "$1 $2" in
"load "*) cat > "$CODODEMO_ROOT/kit.tar" && echo "Loaded" ;;
"image inspect")
	shift 4
	m=$(tar -xOf "$CODODEMO_ROOT/kit.tar" manifest.json) || exit 1
	for img in "$@"; do case "$m" in *"\"$img\""*) echo sha256:x ;; *) echo "No such image: $img" >&2; exit 1 ;; esac; done ;;
*) exit 2 ;;
esac
`

func kitTar(t *testing.T, arch string) []byte {
	var b bytes.Buffer
	err := imagetar.Write(&b, []imagetar.Image{{Tags: []string{"cododemo/web:1"}, Arch: arch, Entrypoint: []string{"/web"},
		Files: []imagetar.File{{Path: "/web", Mode: 0o755, Data: []byte("binary for " + arch)}}}})
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestLoadKitStreamsToEveryNode(t *testing.T) {
	c := testnodes.Start(t, testnodes.Options{Nodes: 2})
	if err := os.WriteFile(filepath.Join(c.Dir, "bin", "docker"), []byte(fakeDocker), 0o755); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// The stand-ins run on this machine: its architecture is theirs.
	here, other := runtime.GOARCH, "arm64"
	if here == "arm64" {
		other = "amd64"
	}
	amd := kitTar(t, here)
	if err := os.WriteFile(filepath.Join(dir, kit.FileName(here)), amd, 0o644); err != nil {
		t.Fatal(err)
	}
	e := engine(t, c, nil)
	for _, sr := range e.LoadKit(context.Background(), KitSource{Path: dir}) {
		if sr.Status != health.Pass {
			t.Fatalf("%+v", sr)
		}
	}
	for _, n := range c.Nodes {
		got, err := os.ReadFile(filepath.Join(n.Root, "kit.tar"))
		if err != nil || !bytes.Equal(got, amd) {
			t.Errorf("%s: the node got %d bytes, want the %d of the kit", n.Name, len(got), len(amd))
		}
	}

	// A pinned single file with the wrong sha256 is refused before any node.
	one := filepath.Join(dir, "one.tar")
	if err := os.WriteFile(one, amd, 0o644); err != nil {
		t.Fatal(err)
	}
	srs := e.LoadKit(context.Background(), KitSource{Path: one, SHA256: strings.Repeat("0", 64)})
	if len(srs) != 1 || srs[0].Status != health.Fail || !strings.Contains(srs[0].Message, "sha256") {
		t.Errorf("wrong pin: %+v", srs)
	}
	sum := sha256.Sum256(amd)
	if srs := e.LoadKit(context.Background(), KitSource{Path: one, SHA256: hex.EncodeToString(sum[:])}); srs[0].Status != health.Pass {
		t.Errorf("right pin: %+v", srs)
	}

	// Only a kit for the other architecture: said per node.
	arm := t.TempDir()
	if err := os.WriteFile(filepath.Join(arm, kit.FileName(other)), kitTar(t, other), 0o644); err != nil {
		t.Fatal(err)
	}
	srs = e.LoadKit(context.Background(), KitSource{Path: arm})
	if srs[0].Status != health.Fail || !strings.Contains(srs[0].Message, "the kit has no "+kit.FileName(here)) {
		t.Errorf("wrong arch: %+v", srs)
	}
}
