package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/cododemo/cododemo/pkg/labstate"
)

// The crash and concurrency tests run the real binary: a render is killed
// (SIGKILL on unix) at random points, or two run at once, and whatever is
// left on disk must be whole and consistent, and the next render succeed.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// cododemoBin builds cmd/cododemo once per test binary.
// CODODEMO_TEST_BIN replaces it with a given binary: to measure another
// build (an older release) with the same tests.
func cododemoBin(t *testing.T) string {
	t.Helper()
	if b := os.Getenv("CODODEMO_TEST_BIN"); b != "" {
		return b
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "cododemo-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "cododemo")
		if runtime.GOOS == "windows" {
			binPath += ".exe"
		}
		// The go command that runs this test is on PATH (go test puts its
		// own GOROOT/bin first).
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/cododemo/cododemo/cmd/cododemo").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// newLab makes a lab directory with the default cododemo.yaml.
func newLab(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := command(t, dir, "init").CombinedOutput(); err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	return dir
}

func command(t *testing.T, dir string, args ...string) *exec.Cmd {
	cmd := exec.Command(cododemoBin(t), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	return cmd
}

func renderIn(t *testing.T, dir string, args ...string) (string, error) {
	out, err := command(t, dir, append([]string{"render"}, args...)...).CombinedOutput()
	return string(out), err
}

// damage counts what is wrong in a state dir.
type damage struct {
	torn       []string // files not whole
	mismatched []string // secrets that do not belong together
	leftover   []string // temporary files, a journal
}

func (d damage) String() string {
	return fmt.Sprintf("torn %v, mismatched %v, leftover %v", d.torn, d.mismatched, d.leftover)
}

// inspect checks the state dir of lab. Every file present must be whole
// and the key pair must match, whatever point a render was killed at;
// complete (after a render that exited 0) adds: every rendered file is the
// manifest's, carries the lab's public key and token, and nothing is left
// over.
func inspect(t *testing.T, lab string, complete bool) damage {
	t.Helper()
	state := labstate.Dir{Path: filepath.Join(lab, ".cododemo")}
	var d damage
	pubB, pubErr := os.ReadFile(state.Join(labstate.PublicKeyFile))
	privB, privErr := os.ReadFile(state.Join(labstate.PrivateKeyFile))
	tokenB, tokenErr := os.ReadFile(state.Join(labstate.ClusterTokenFile))
	pub, token := strings.TrimSpace(string(pubB)), strings.TrimSpace(string(tokenB))
	if pubErr == nil && privErr == nil {
		signer, err1 := ssh.ParsePrivateKey(privB)
		key, _, _, _, err2 := ssh.ParseAuthorizedKey(pubB)
		switch {
		case err1 != nil:
			d.torn = append(d.torn, labstate.PrivateKeyFile)
		case err2 != nil:
			d.torn = append(d.torn, labstate.PublicKeyFile)
		case !bytes.Equal(signer.PublicKey().Marshal(), key.Marshal()):
			d.mismatched = append(d.mismatched, "id_ed25519 does not match id_ed25519.pub")
		}
	} else if pubErr == nil {
		d.mismatched = append(d.mismatched, "id_ed25519.pub without id_ed25519")
	}
	if tokenErr == nil && !strings.HasPrefix(token, "cododemo-") {
		d.torn = append(d.torn, labstate.ClusterTokenFile)
	}
	if complete && (pubErr != nil || privErr != nil || tokenErr != nil) {
		d.mismatched = append(d.mismatched, fmt.Sprintf("secrets missing: %v %v %v", pubErr, privErr, tokenErr))
	}

	m, err := state.ReadManifest()
	if err != nil {
		d.torn = append(d.torn, labstate.ManifestFile)
	}
	_ = filepath.WalkDir(state.Path, func(p string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(state.Path, p)
		rel = filepath.ToSlash(rel)
		b, err := os.ReadFile(p)
		if err != nil {
			d.torn = append(d.torn, rel)
			return nil
		}
		switch {
		case strings.Contains(rel, ".tmp-"):
			if complete {
				d.leftover = append(d.leftover, rel)
			}
			return nil
		case rel == labstate.JournalFile:
			if complete {
				d.leftover = append(d.leftover, rel)
			}
			return nil
		case strings.HasSuffix(rel, ".ign"):
			if !json.Valid(b) {
				d.torn = append(d.torn, rel)
			}
		case strings.HasSuffix(rel, ".bu"):
			if !strings.HasPrefix(string(b), "variant: flatcar") || !strings.HasSuffix(string(b), "\n") {
				d.torn = append(d.torn, rel)
			}
		case rel == "Vagrantfile":
			if !strings.HasSuffix(string(b), "\nend\n") {
				d.torn = append(d.torn, rel)
			}
		}
		if strings.HasPrefix(rel, "nodes/") && !strings.HasSuffix(rel, ".vbox.ign") {
			// Every full node config carries this lab's key and token.
			if pub != "" && !strings.Contains(string(b), strings.Fields(pub)[1]) {
				d.mismatched = append(d.mismatched, rel+" carries another public key")
			}
			if token != "" && !strings.Contains(string(b), token) {
				d.mismatched = append(d.mismatched, rel+" carries another cluster token")
			}
		}
		if complete && strings.HasPrefix(rel, "nodes/") || rel == "Vagrantfile" {
			if complete && m.Files[rel] != labstate.Hash(b) {
				d.torn = append(d.torn, rel+" (not the manifest's)")
			}
		}
		return nil
	})
	return d
}

// TestKillLoop kills `cododemo render` at random points, 30 times, with
// the lab's size changing between renders (so files of two renders mix)
// and a fresh lab every fifth time (so keys are being created). After
// every kill the files on disk are whole and the keys match; the next
// render succeeds and completes the lab.
func TestKillLoop(t *testing.T) {
	const runs = 30
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("CODODEMO_KILL_SEED"); s != "" {
		fmt.Sscan(s, &seed)
	}
	t.Logf("seed %d (CODODEMO_KILL_SEED=%d repeats this run)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	lab := newLab(t)
	// How long a render takes here: kills land anywhere in it.
	start := time.Now()
	if out, err := renderIn(t, lab); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	span := time.Since(start)
	aim := span * 9 / 10
	var killed, midWrite, torn, mismatched, refused int
	for i := range runs {
		if i%5 == 4 {
			if err := os.RemoveAll(filepath.Join(lab, ".cododemo")); err != nil {
				t.Fatal(err)
			}
		}
		cmd := command(t, lab, "render", "--nodes", fmt.Sprint(2+rng.IntN(3)))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Half the kills anywhere; half aimed at the few milliseconds in
		// which files are written, at the end: the aim moves earlier when
		// the render had finished, later when it had written nothing yet.
		at := time.Duration(rng.Int64N(int64(span)))
		if i%2 == 1 {
			at = aim + time.Duration(rng.Int64N(int64(aim/10))) - aim/20
		}
		time.Sleep(at)
		_ = cmd.Process.Kill()
		exited := cmd.Wait() == nil
		if !exited {
			killed++
		}
		_, jerr := os.Stat(filepath.Join(lab, ".cododemo", labstate.JournalFile))
		if jerr == nil {
			midWrite++
		}
		if i%2 == 1 {
			switch {
			case exited:
				aim -= aim / 8
			case jerr != nil:
				aim += aim / 8
			}
		}
		d := inspect(t, lab, false)
		torn += len(d.torn)
		mismatched += len(d.mismatched)
		if len(d.torn)+len(d.mismatched) > 0 {
			t.Errorf("run %d, after the kill: %v", i, d)
		}
		out, err := renderIn(t, lab, "--nodes", fmt.Sprint(2+rng.IntN(3)))
		if err != nil {
			refused++
			t.Errorf("run %d: the render after a kill failed: %v\n%s", i, err, out)
			continue
		}
		d = inspect(t, lab, true)
		torn += len(d.torn)
		mismatched += len(d.mismatched)
		if len(d.torn)+len(d.mismatched)+len(d.leftover) > 0 {
			t.Errorf("run %d, after the next render: %v", i, d)
		}
	}
	t.Logf("kill loop: %d runs, %d killed before exit (%d while writing files), %d torn files, %d mismatched secrets, %d next renders refused",
		runs, killed, midWrite, torn, mismatched, refused)
}

// TestConcurrentRenders starts two renders at once on a fresh lab, 25
// times: both succeed (one waits for the other's lock), and the lab is
// whole, with one key pair and one token everywhere.
func TestConcurrentRenders(t *testing.T) {
	const trials = 25
	var failed, torn, mismatched int
	for i := range trials {
		lab := newLab(t)
		var wg sync.WaitGroup
		outs, errs := make([]string, 2), make([]error, 2)
		for j := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				outs[j], errs[j] = renderIn(t, lab, "--nodes", fmt.Sprint(2+(i+j)%2))
			}()
		}
		wg.Wait()
		for j := range 2 {
			if errs[j] != nil {
				failed++
				t.Errorf("trial %d, render %d: %v\n%s", i, j, errs[j], outs[j])
			}
		}
		d := inspect(t, lab, true)
		torn += len(d.torn)
		mismatched += len(d.mismatched)
		if len(d.torn)+len(d.mismatched)+len(d.leftover) > 0 {
			t.Errorf("trial %d: %v", i, d)
		}
		if out, err := renderIn(t, lab, "--nodes", "3"); err != nil {
			failed++
			t.Errorf("trial %d: the next render: %v\n%s", i, err, out)
		} else if d := inspect(t, lab, true); len(d.torn)+len(d.mismatched)+len(d.leftover) > 0 {
			t.Errorf("trial %d, after the next render: %v", i, d)
		}
	}
	t.Logf("concurrent renders: %d trials of 2, %d failed, %d torn files, %d mismatched secrets", trials, failed, torn, mismatched)
}
