package up_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cododemo/cododemo/pkg/app"
	"github.com/cododemo/cododemo/pkg/bringup"
	"github.com/cododemo/cododemo/pkg/cmd/up"
	"github.com/cododemo/cododemo/pkg/cmdutil"
	"github.com/cododemo/cododemo/pkg/config"
	"github.com/cododemo/cododemo/pkg/exec"
	"github.com/cododemo/cododemo/pkg/image/releasetest"
	"github.com/cododemo/cododemo/pkg/inventory"
	"github.com/cododemo/cododemo/pkg/testnodes"
)

// fakeVagrant stands in for vagrant (the unit tier: no hypervisor here). It
// keeps each machine's state in files, and its `up` does what a booting
// Flatcar node does first: fetch its full Ignition config through the
// pointer config from cododemo's first-boot server (real HTTP on
// 127.0.0.1), checking the hash the pointer names.
const fakeVagrant = `#!/usr/bin/env bash
set -u
st=.fakevagrant; mkdir -p "$st"
log() { echo "$*" >> "$FAKE_LOG"; }
ts=1700000000
cmd=$1; shift
names=(); for a in "$@"; do case $a in --*) ;; *) names+=("$a");; esac; done
[ ${#names[@]} -eq 0 ] && names=($FAKE_ALL)
case $cmd in
--version) echo "Vagrant 2.3.4" ;;
status)
  for n in "${names[@]}"; do
    s=not_created; [ -f "$st/$n" ] && s=$(cat "$st/$n")
    echo "$ts,$n,metadata,provider,virtualbox"; echo "$ts,$n,state,$s"
  done ;;
up)
  n=${names[0]}; log "up $n"
  echo "$ts,$n,ui,info,==> $n: Importing base box 'cododemo-test'..."
  echo "$ts,$n,ui,info,==> $n: Booting VM..."
  if [ "${FAKE_FAIL:-}" = "$n" ]; then
    echo "$ts,,error-exit,Vagrant::Errors::VMBootTimeout,Timed out while waiting for the machine to boot."
    exit 1
  fi
  src=$(sed -n 's/.*"source":"\([^"]*\)".*/\1/p' "nodes/$n.vbox.ign")
  # VirtualBox NAT maps the guest's 10.0.2.2 to the host's loopback; do
  # the same here, so nothing is ever sent toward 10.0.2.2 itself.
  case $src in http://10.0.2.2:*) src="http://127.0.0.1:${src#http://10.0.2.2:}" ;; *) log "unexpected source $src"; exit 1 ;; esac
  want=$(sed -n 's/.*"hash":"sha256-\([0-9a-f]*\)".*/\1/p' "nodes/$n.vbox.ign")
  curl -fsS -o "$st/$n.fetched" "$src" || { log "fetch failed $n"; exit 1; }
  got=$(sha256sum "$st/$n.fetched" | cut -d' ' -f1)
  [ "$got" = "$want" ] && log "fetched $n ok" || log "fetched $n BAD HASH"
  # Ignition then fetches every remote file the full config names (fleet,
  # etcd), each checked against the hash its verification names; a remote
  # source with no verification is reported (inline files are data: URLs).
  flat=$(tr -d ' \t\n' < "$st/$n.fetched")
  nsrc=$(grep -o '"source":"http[^"]*"' <<<"$flat" | grep -c .)
  pairs=$(grep -o '"source":"http[^"]*","verification":{"hash":"sha256-[0-9a-f]*"}' <<<"$flat")
  [ "$(grep -c . <<<"$pairs")" = "$nsrc" ] || log "unverified source $n"
  while read -r p; do
    [ -n "$p" ] || continue
    url=$(sed 's/^"source":"\([^"]*\)".*/\1/' <<<"$p")
    want=$(sed 's/.*sha256-\([0-9a-f]*\).*/\1/' <<<"$p")
    case $url in http://10.0.2.2:*) ;; *) log "unexpected source $url"; exit 1 ;; esac
    curl -fsS -o "$st/$n.artifact" "http://127.0.0.1:${url#http://10.0.2.2:}" || { log "artifact failed $n $url"; exit 1; }
    got=$(sha256sum "$st/$n.artifact" | cut -d' ' -f1)
    [ "$got" = "$want" ] && log "artifact $n ${url##*/} $got ok" || log "artifact $n ${url##*/} $got BAD HASH"
  done <<<"$pairs"
  echo running > "$st/$n"
  echo "$ts,$n,ui,info,==> $n: Machine booted and ready!" ;;
ssh-config)
  for n in "${names[@]}"; do
    [ "$(cat "$st/$n" 2>/dev/null)" = running ] || continue
    ep=$(echo "$FAKE_ENDPOINTS" | tr ' ' '\n' | grep "^$n=" | cut -d= -f2)
    echo "$ts,$n,ssh-config,Host $n\n  HostName ${ep%:*}\n  User $FAKE_USER\n  Port ${ep#*:}\n  IdentityFile $FAKE_IDENTITY\n"
  done ;;
*) echo "fake vagrant: unsupported $cmd" >&2; exit 2 ;;
esac
`

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

type fixture struct {
	dir, log string
	cluster  *testnodes.Cluster
}

func setup(t *testing.T) *fixture {
	t.Helper()
	c := testnodes.Start(t, testnodes.Options{Nodes: 3})
	l := &fixture{dir: t.TempDir(), cluster: c}
	bin := filepath.Join(l.dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "vagrant"), []byte(fakeVagrant), 0o755); err != nil {
		t.Fatal(err)
	}
	l.log = filepath.Join(l.dir, "fake.log")
	var eps []string
	for _, n := range c.Nodes {
		eps = append(eps, fmt.Sprintf("%s=%s:%d", n.Name, n.Addr, n.SSHPort))
	}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	t.Setenv("FAKE_LOG", l.log)
	t.Setenv("FAKE_ALL", "core-01 core-02 core-03")
	t.Setenv("FAKE_ENDPOINTS", strings.Join(eps, " "))
	t.Setenv("FAKE_IDENTITY", c.IdentityFile)
	t.Setenv("FAKE_USER", c.User)
	t.Setenv("FAKE_FAIL", "")
	// A lab on a custom box (nothing to resolve) with its own etcd (as the
	// e2e box), fleet off (it cannot run on this machine), VirtualBox so
	// that nodes get pointer configs.
	cfg := fmt.Sprintf("name: uptest\nbox: {name: cododemo-test}\netcd: {from: box}\nfleet: {enabled: false}\nfirst_boot: {port: %d}\n", freePort(t))
	if err := os.WriteFile(filepath.Join(l.dir, "cododemo.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return l
}

func (l *fixture) run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	f := &cmdutil.Factory{
		IO:      &cmdutil.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut},
		Runner:  exec.OS{},
		Getenv:  os.Getenv,
		WorkDir: l.dir,
		Version: "test",
	}
	code := app.Run(context.Background(), f, args)
	return code, out.String(), errOut.String()
}

func (l *fixture) fakeLog(t *testing.T) string {
	b, _ := os.ReadFile(l.log)
	return string(b)
}

func TestUpServesFirstBootAndWritesInventory(t *testing.T) {
	l := setup(t)
	code, out, errOut := l.run(t, "up", "--skip-preflight", "--no-verify")
	if code != 0 {
		t.Fatalf("up exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "lab uptest is up (not verified)") {
		t.Fatalf("stdout: %s", out)
	}
	for _, want := range []string{"WARNING: --skip-preflight", "first boot: serving 3 file(s) on 127.0.0.1:", "core-02 | Booting VM"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	log := l.fakeLog(t)
	for _, n := range []string{"core-01", "core-02", "core-03"} {
		if !strings.Contains(log, "fetched "+n+" ok") {
			t.Errorf("%s did not fetch its Ignition with the right hash:\n%s", n, log)
		}
	}
	inv, err := inventory.Load(filepath.Join(l.dir, ".cododemo", "inventory.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Nodes) != 3 || inv.Nodes[1].SSH.Port != l.cluster.Node("core-02").SSHPort || inv.Nodes[1].Address != "192.168.56.102" {
		t.Fatalf("inventory %+v", inv.Nodes)
	}
	if _, err := os.Stat(filepath.Join(l.dir, "cododemo.lock")); !os.IsNotExist(err) {
		t.Errorf("a custom-box lab must not write a lock: %v", err)
	}
	// The inventory up wrote is what verify, ssh and exec use. The checks
	// that map etcd's advertised URLs to nodes are left out: the stand-in
	// nodes advertise loopback addresses, not the planned 192.168.56.x.
	code, out, errOut = l.run(t, "verify", "--only", "ssh,os,systemd,docker,etcd-member")
	if code != 0 {
		t.Fatalf("verify exit %d\n%s\n%s", code, out, errOut)
	}
	if kh, _ := os.ReadFile(filepath.Join(l.dir, ".cododemo", "known_hosts")); strings.Count(string(kh), "\n") < 3 {
		t.Fatalf("host keys not pinned: %q", kh)
	}
	code, out, _ = l.run(t, "exec", "--all", "--", "echo", "hello")
	if code != 0 || strings.Count(out, "| hello") != 3 {
		t.Fatalf("exec exit %d: %s", code, out)
	}
}

// up hands the running lab to its verify step and reports its verdict.
func TestUpRunsVerify(t *testing.T) {
	l := setup(t)
	var got, gotTimeout time.Duration
	verifyErr := errors.New("etcd-health failed on core-02")
	// All of up's steps, with a stand-in for the last: verify.
	stub := func(ctx context.Context, s *bringup.State) error {
		steps := bringup.Steps()
		if last := steps[len(steps)-1]; last.Name != "verify" {
			t.Fatalf("the last step is %s, want verify", last.Name)
		}
		steps[len(steps)-1] = bringup.Step{Name: "verify", Run: func(_ context.Context, s *bringup.State) error {
			got, gotTimeout = s.Opts.Wait, s.Opts.CheckTimeout
			if len(s.Lab.Plan.Nodes) != 3 {
				t.Errorf("verify got %d nodes", len(s.Lab.Plan.Nodes))
			}
			s.Verified = verifyErr == nil
			return verifyErr
		}}
		return bringup.Run(ctx, s, steps)
	}
	var out, errOut bytes.Buffer
	f := &cmdutil.Factory{IO: &cmdutil.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut},
		Runner: exec.OS{}, Getenv: os.Getenv, WorkDir: l.dir, Version: "test"}
	cmd := up.NewCmdUp(f, stub)
	cmd.SetArgs([]string{"--skip-preflight", "--wait", "42s", "--timeout", "40s"})
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	err := cmd.ExecuteContext(context.Background())
	if !errors.Is(err, verifyErr) || got != 42*time.Second || gotTimeout != 40*time.Second {
		t.Fatalf("err %v wait %v timeout %v\n%s", err, got, gotTimeout, errOut.String())
	}
	verifyErr = nil
	cmd = up.NewCmdUp(f, stub)
	cmd.SetArgs([]string{"--skip-preflight"})
	if err := cmd.ExecuteContext(context.Background()); err != nil || !strings.Contains(out.String(), "is up and healthy") {
		t.Fatalf("err %v out %s", err, out.String())
	}
}

func TestUpKeepsGoodNodesAndResumes(t *testing.T) {
	l := setup(t)
	t.Setenv("FAKE_FAIL", "core-02")
	code, _, errOut := l.run(t, "up", "--skip-preflight", "--no-verify")
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, errOut)
	}
	for _, want := range []string{"core-02", "VMBootTimeout", "run `cododemo up` again to bring up only what is missing"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	t.Setenv("FAKE_FAIL", "")
	if err := os.Truncate(l.log, 0); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := l.run(t, "up", "--skip-preflight", "--no-verify")
	if code != 0 {
		t.Fatalf("second up: exit %d\n%s\n%s", code, out, errOut)
	}
	if log := l.fakeLog(t); strings.Count(log, "up ") != 1 || !strings.Contains(log, "up core-02") {
		t.Fatalf("second up should start only core-02:\n%s", log)
	}
}

// A lab on its own box still gets fleet pinned (from the mirror, trust on
// first use: no upstream hash is known) and etcd's release tarball (here a
// build of the room's own, pinned by etcd.release_sha256), cached, and
// served to the nodes by the first-boot server with the pinned hashes in
// their Ignition, which the fake guest checks.
func TestUpServesArtifactsForCustomBox(t *testing.T) {
	l := setup(t)
	fleet := []byte("fleet tarball stand-in")
	etcd := releasetest.EtcdTarball(t, "v3.5.21", "amd64")
	var requests atomic.Int32
	mirror := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		switch r.URL.Path {
		case "/artifacts/fleet-v1.0.0-linux-amd64.tar.gz":
			_, _ = w.Write(fleet)
		case "/artifacts/etcd-v3.5.21-linux-amd64.tar.gz":
			_, _ = w.Write(etcd)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(mirror.Close)
	t.Setenv("CODODEMO_CACHE_DIR", t.TempDir())
	cfg, _ := os.ReadFile(filepath.Join(l.dir, "cododemo.yaml"))
	cfg = bytes.Replace(cfg, []byte("fleet: {enabled: false}"), []byte("mirror: "+mirror.URL), 1)
	cfg = bytes.Replace(cfg, []byte("etcd: {from: box}"), []byte("etcd: {release_sha256: "+releasetest.SHA256(etcd)+"}"), 1)
	if err := os.WriteFile(filepath.Join(l.dir, "cododemo.yaml"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := l.run(t, "up", "--skip-preflight", "--no-verify")
	if code != 0 {
		t.Fatalf("up exit %d\n%s\n%s", code, out, errOut)
	}
	lock, err := config.ReadLock(filepath.Join(l.dir, config.LockFile))
	if err != nil || lock == nil {
		t.Fatalf("lock: %v %v", lock, err)
	}
	wantFleet, wantEtcd := releasetest.SHA256(fleet), releasetest.SHA256(etcd)
	if lock.Artifacts["fleet"].SHA256 != wantFleet || lock.Artifacts["etcd"].SHA256 != wantEtcd || lock.OS.Version != "" {
		t.Fatalf("lock %+v", lock)
	}
	for _, w := range []string{"pinned what", "warning: etcd: etcd.release_sha256 replaces cododemo's built-in pin", "serving 5 file(s)"} {
		if !strings.Contains(errOut, w) {
			t.Errorf("stderr lacks %q:\n%s", w, errOut)
		}
	}
	log := l.fakeLog(t)
	for _, n := range []string{"core-01", "core-02", "core-03"} {
		for _, w := range []string{
			"artifact " + n + " fleet-v1.0.0-linux-amd64.tar.gz " + wantFleet + " ok",
			"artifact " + n + " etcd-v3.5.21-linux-amd64.tar.gz " + wantEtcd + " ok",
		} {
			if !strings.Contains(log, w) {
				t.Errorf("fake guest log lacks %q", w)
			}
		}
	}
	if strings.Contains(log, "BAD HASH") || strings.Contains(log, "unverified") || strings.Count(log, "artifact core-0") != 6 {
		t.Fatalf("nodes did not all get the pinned, verified artifacts:\n%s", log)
	}
	// A second up resolves nothing: the cache and the lock have it all.
	before := requests.Load()
	if code, _, errOut := l.run(t, "up", "--skip-preflight", "--no-verify"); code != 0 {
		t.Fatalf("second up: %d\n%s", code, errOut)
	}
	if requests.Load() != before {
		t.Fatalf("second up asked the mirror again (%d requests)", requests.Load()-before)
	}
}

// With the built-in pin, a mirror serving other bytes than etcd's upstream
// tarball stops up before any VM starts.
func TestUpRefusesEtcdNotMatchingBuiltinPin(t *testing.T) {
	l := setup(t)
	mirror := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/artifacts/etcd-v3.5.21-linux-amd64.tar.gz" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(releasetest.EtcdTarball(t, "v3.5.21", "amd64"))
	}))
	t.Cleanup(mirror.Close)
	t.Setenv("CODODEMO_CACHE_DIR", t.TempDir())
	cfg, _ := os.ReadFile(filepath.Join(l.dir, "cododemo.yaml"))
	cfg = bytes.Replace(cfg, []byte("etcd: {from: box}"), []byte("mirror: "+mirror.URL), 1)
	if err := os.WriteFile(filepath.Join(l.dir, "cododemo.yaml"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := l.run(t, "up", "--skip-preflight", "--no-verify")
	if code == 0 || !strings.Contains(errOut, "artifact etcd") || !strings.Contains(errOut, "adddda4b06718e68671ffabff2f8cee48488ba61ad82900e639d108f2148501c") {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	if log := l.fakeLog(t); strings.Contains(log, "up core-") {
		t.Fatalf("a VM was started:\n%s", log)
	}
}

func TestUpRejectsNonPositiveCheckTimeout(t *testing.T) {
	l := setup(t)
	code, _, errOut := l.run(t, "up", "--timeout", "0s")
	if code != 2 || !strings.Contains(errOut, "--timeout must be positive") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}

func TestUpRejectsUnknownNode(t *testing.T) {
	l := setup(t)
	code, _, errOut := l.run(t, "up", "core-09")
	if code != 2 || !strings.Contains(errOut, `core-09: not a node of this lab (nodes: core-01, core-02, core-03)`) {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}
