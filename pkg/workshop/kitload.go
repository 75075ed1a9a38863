package workshop

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/cododemo/cododemo/pkg/health"
	"github.com/cododemo/cododemo/pkg/kit"
	"github.com/cododemo/cododemo/pkg/kit/imagetar"
)

// KitSource is the kit to load: one tarball, or a directory holding one
// per architecture (kit.FileName), each node getting its own.
type KitSource struct {
	Path string
	// SHA256 pins a single tarball; empty trusts the file as given (a
	// directory is checked against its SHA256SUMS when there is one).
	SHA256 string
}

// kitLoadLimit bounds one node's `docker load` of the kit: the tarball
// streams over SSH into a node that may be emulated, and a stalled stream
// must not hang the workshop.
const kitLoadLimit = 10 * time.Minute

// cmdArch prints the node's architecture the way Go names it.
const cmdArch = `case "$(uname -m)" in x86_64|amd64) echo amd64 ;; aarch64|arm64) echo arm64 ;; *) uname -m ;; esac`

// LoadKit docker-loads the kit on every node, streaming the tarball over
// each node's SSH connection into `docker load` (nothing is written to
// the node's disk but Docker's own store), then checks every image of
// the kit is there. Nodes are loaded in parallel; a node that fails does
// not stop the others.
func (e *Engine) LoadKit(ctx context.Context, src KitSource) []StepResult {
	e.defaults()
	kits := map[string][]byte{} // arch ("" for a single file) -> tarball
	tags := map[string][]string{}
	load := func(arch, path, want string) error {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		if got := hex.EncodeToString(sum[:]); want != "" && !strings.EqualFold(got, want) {
			return fmt.Errorf("%s: sha256 %s, want %s", path, got, want)
		}
		images, err := imagetar.Read(bytes.NewReader(b))
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		for _, img := range images {
			if arch != "" && img.Arch != arch {
				return fmt.Errorf("%s: image %s is for %s", path, img.Tags[0], img.Arch)
			}
			tags[arch] = append(tags[arch], img.Tags...)
		}
		kits[arch] = b
		return nil
	}
	fail := func(err error) []StepResult {
		return []StepResult{{Phase: PhaseStep, Step: "kit", Node: "host", Status: health.Fail, Message: err.Error()}}
	}
	if fi, err := os.Stat(src.Path); err != nil {
		return fail(err)
	} else if fi.IsDir() {
		sums := map[string]string{}
		if b, err := os.ReadFile(filepath.Join(src.Path, "SHA256SUMS")); err == nil {
			for _, l := range lines(string(b)) {
				if f := strings.Fields(l); len(f) == 2 {
					sums[f[1]] = f[0]
				}
			}
		}
		for _, arch := range kit.Arches {
			name := kit.FileName(arch)
			if _, err := os.Stat(filepath.Join(src.Path, name)); err != nil {
				continue
			}
			if err := load(arch, filepath.Join(src.Path, name), sums[name]); err != nil {
				return fail(err)
			}
		}
		if len(kits) == 0 {
			return fail(fmt.Errorf("%s holds no %s", src.Path, kit.FileName("<arch>")))
		}
	} else if err := load("", src.Path, src.SHA256); err != nil {
		return fail(err)
	}

	results := make([]StepResult, len(e.Cluster.Nodes))
	var wg sync.WaitGroup
	for i, n := range e.Cluster.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = e.loadKitOn(ctx, n.Name, kits, tags)
		}()
	}
	wg.Wait()
	return results
}

func (e *Engine) loadKitOn(ctx context.Context, node string, kits map[string][]byte, tags map[string][]string) StepResult {
	t0 := e.Opts.Now()
	sr := StepResult{Phase: PhaseStep, Step: "load kit", Node: node, Status: health.Fail, Tries: 1}
	defer func() { sr.Duration = e.Opts.Now().Sub(t0) }()
	arch := ""
	if _, single := kits[""]; !single {
		cctx, cancel := context.WithTimeout(ctx, e.Opts.Timeout)
		o := e.remote(cctx, node, cmdArch, false, false)
		cancel()
		if o.err != nil {
			sr.Message = o.err.Error()
			return sr
		}
		arch = strings.TrimSpace(o.raw)
		if _, ok := kits[arch]; !ok {
			sr.Message = fmt.Sprintf("%s is %s; the kit has no %s", node, arch, kit.FileName(arch))
			return sr
		}
	}
	sess, err := e.session(ctx, node, false)
	if err != nil {
		sr.Message = fmt.Sprintf("%s: cannot log in: %v", node, err)
		return sr
	}
	sm, ok := sess.(streamer)
	if !ok {
		sr.Message = "this connection cannot stream a file"
		return sr
	}
	cctx, cancel := context.WithTimeout(ctx, kitLoadLimit)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code, err := sm.Stream(cctx, "docker load", bytes.NewReader(kits[arch]), &stdout, &stderr)
	switch {
	case err != nil:
		e.drop(node)
		sr.Message = fmt.Sprintf("%s: docker load: %v", node, err)
		return sr
	case code != 0:
		sr.Message = fmt.Sprintf("%s: docker load: exit %d: %s", node, code, strings.TrimSpace(stderr.String()))
		return sr
	}
	want := tags[arch]
	cctx2, cancel2 := context.WithTimeout(ctx, e.Opts.Timeout)
	defer cancel2()
	o := e.remote(cctx2, node, "docker image inspect --format '{{.Id}}' "+strings.Join(want, " "), false, false)
	if o.err != nil || o.exit != 0 {
		sr.Message = fmt.Sprintf("%s: after docker load, the images are not all there: %s%s", node, strings.Join(want, " "), stderrNote(o))
		return sr
	}
	sr.Status = health.Pass
	sr.Message = fmt.Sprintf("%s: loaded %s (%d bytes, %s)", node, strings.Join(want, ", "), len(kits[arch]), orDefault(arch, "one file"))
	return sr
}
