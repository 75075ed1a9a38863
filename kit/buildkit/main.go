// Command buildkit builds the workshop's image kit: one docker-load-able
// tarball per architecture of the demo programs (hello, web, lb), and a
// SHA256SUMS file beside them. Run from the repository root:
//
//	go run ./kit/buildkit -o dist/kit
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/cododemo/cododemo/pkg/kit"
)

func main() {
	out := flag.String("o", "dist/kit", "output directory")
	arches := flag.String("arch", strings.Join(kit.Arches, ","), "architectures, comma-separated")
	flag.Parse()
	if err := run(*out, strings.Split(*arches, ",")); err != nil {
		fmt.Fprintln(os.Stderr, "buildkit:", err)
		os.Exit(1)
	}
}

func run(out string, arches []string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	var sums strings.Builder
	for _, arch := range arches {
		b, err := kit.Build(context.Background(), kit.Options{ModuleDir: wd}, arch, out)
		if err != nil {
			return err
		}
		fmt.Printf("%s  %s  %d bytes\n", b.SHA256, b.Path, b.Size)
		fmt.Fprintf(&sums, "%s  %s\n", b.SHA256, filepath.Base(b.Path))
	}
	return os.WriteFile(filepath.Join(out, "SHA256SUMS"), []byte(sums.String()), 0o644)
}
