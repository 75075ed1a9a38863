package vagrant

// Tests against the real vagrant (2.3.4 in CI). There is no hypervisor
// here, so they use what runs without one: status, ssh-config, validate,
// box add/list/remove, and up/halt/destroy through a provider written in
// the Vagrantfile (testdata/vagrant/Vagrantfile.fake-provider). They fail,
// not skip, when vagrant is missing: CI installs it.

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	osexec "os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cododemo/cododemo/pkg/exec"
	"github.com/cododemo/cododemo/pkg/hostos"
)

// realDriver returns a Driver for a temp lab dir holding the given
// testdata Vagrantfile, with its own VAGRANT_HOME.
func realDriver(t *testing.T, vagrantfile string, env ...string) *Driver {
	t.Helper()
	if _, err := osexec.LookPath("vagrant"); err != nil {
		t.Fatalf("vagrant is not installed (CI installs it: apt-get install vagrant): %v", err)
	}
	dir := t.TempDir()
	if vagrantfile != "" {
		if err := os.WriteFile(filepath.Join(dir, "Vagrantfile"), testdata(t, vagrantfile), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	home := t.TempDir()
	return &Driver{
		Runner: exec.OS{KillGrace: 3 * time.Second},
		Dir:    dir,
		Getenv: func(k string) string {
			if k == "VAGRANT_HOME" {
				return home
			}
			return ""
		},
		Env: env,
	}
}

func realCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestRealVersion(t *testing.T) {
	d := realDriver(t, "")
	v, err := d.Version(realCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if !v.AtLeast(2, 2, 0) {
		t.Fatalf("vagrant %s is older than 2.2", v)
	}
}

func TestRealStatusAndSSHConfigBeforeUp(t *testing.T) {
	d := realDriver(t, "Vagrantfile.fake-provider", "CODODEMO_FAKE_NODES=core-01,core-02,core-03")
	d.Provider = "cododemo_fake"
	ctx := realCtx(t)
	ms, err := d.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range ms {
		names = append(names, m.Name)
		if m.State != StateNotCreated || m.Provider != "cododemo_fake" {
			t.Errorf("%+v", m)
		}
	}
	if !reflect.DeepEqual(names, []string{"core-01", "core-02", "core-03"}) {
		t.Fatalf("machines %v", names)
	}
	_, err = d.SSHConfig(ctx, "core-02")
	if !IsType(err, "SSHNotReady") || !strings.Contains(err.Error(), "hint: the node is not running") {
		t.Fatalf("ssh-config before up: %v", err)
	}
	_, err = d.Status(ctx, "core-09")
	if !IsType(err, "MachineNotFound") {
		t.Fatalf("unknown machine: %v", err)
	}
}

func TestRealProviderNotUsable(t *testing.T) {
	// No VirtualBox on the test machine: exactly what an attendee without
	// it sees.
	if _, err := osexec.LookPath("VBoxManage"); err == nil {
		t.Fatal("VBoxManage is installed; this test needs a machine without VirtualBox")
	}
	d := realDriver(t, "Vagrantfile.multi")
	d.Provider = "virtualbox"
	_, err := d.Status(realCtx(t))
	if !IsType(err, "ProviderNotUsable") || !strings.Contains(err.Error(), "[ProviderNotUsable]\nhint: ") {
		t.Fatalf("got %v", err)
	}
}

func TestRealValidate(t *testing.T) {
	ctx := realCtx(t)
	if err := realDriver(t, "Vagrantfile.multi").Validate(ctx); err != nil {
		t.Fatalf("valid Vagrantfile: %v", err)
	}
	err := realDriver(t, "Vagrantfile.syntax-error").Validate(ctx)
	if !IsType(err, "VagrantfileSyntaxError") || !strings.Contains(err.Error(), "Vagrantfile:6: syntax error") {
		t.Fatalf("syntax error: %v", err)
	}
	err = realDriver(t, "Vagrantfile.config-invalid").Validate(ctx)
	if !IsType(err, "ConfigInvalid") || !strings.Contains(err.(*Error).Message, "bogus_setting") {
		t.Fatalf("config invalid: %v", err)
	}
}

// tinyBox writes a .box (gzipped tar with metadata.json) and a catalog
// that points at it with a file:// URL, as Flatcar's catalog does.
func tinyBox(t *testing.T, dir, name, version, provider string) string {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for fn, body := range map[string]string{
		"metadata.json": `{"provider":"` + provider + `","format":"qcow2","virtual_size":1}`,
		"Vagrantfile":   "Vagrant.configure(\"2\") { |c| }\n",
	} {
		_ = tw.WriteHeader(&tar.Header{Name: fn, Mode: 0o644, Size: int64(len(body))})
		_, _ = tw.Write([]byte(body))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	box := filepath.Join(dir, "test.box")
	if err := os.WriteFile(box, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(buf.Bytes())
	cat, _ := json.Marshal(map[string]any{
		"name": name,
		"versions": []any{map[string]any{"version": version, "providers": []any{map[string]any{
			"name": provider, "url": "file://" + box, "checksum_type": "sha256", "checksum": hex.EncodeToString(sum[:]),
		}}}},
	})
	path := filepath.Join(dir, "catalog-"+version+".json")
	if err := os.WriteFile(path, cat, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRealBoxAddListRemove(t *testing.T) {
	d := realDriver(t, "")
	ctx := realCtx(t)
	dir := t.TempDir()
	catalog := tinyBox(t, dir, "cododemo/test", "4593.2.5", "virtualbox")
	var out bytes.Buffer
	if err := d.BoxAdd(ctx, BoxAddOptions{Source: "file://" + catalog, Provider: "virtualbox", Version: "4593.2.5"}, &out); err != nil {
		t.Fatalf("box add: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "Successfully added box 'cododemo/test' (v4593.2.5) for 'virtualbox'!") {
		t.Fatalf("box add said:\n%s", out.String())
	}
	boxes, err := d.BoxList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []Box{{Name: "cododemo/test", Provider: "virtualbox", Version: "4593.2.5"}}
	if !reflect.DeepEqual(boxes, want) {
		t.Fatalf("box list %+v", boxes)
	}
	// A tampered box fails its checksum with advice.
	cat, _ := os.ReadFile(catalog)
	bad := filepath.Join(dir, "bad.json")
	_ = os.WriteFile(bad, bytes.Replace(bytes.Replace(cat, []byte("4593.2.5"), []byte("4593.2.6"), 1), []byte(`"checksum":"`), []byte(`"checksum":"00`), 1), 0o644)
	err = d.BoxAdd(ctx, BoxAddOptions{Source: "file://" + bad, Provider: "virtualbox"}, io.Discard)
	if err == nil || Advice(typeOf(err)) == "" {
		t.Fatalf("tampered box: %v", err)
	}
	if err := d.BoxRemove(ctx, want[0]); err != nil {
		t.Fatal(err)
	}
	if boxes, err := d.BoxList(ctx); err != nil || len(boxes) != 0 {
		t.Fatalf("after remove: %+v %v", boxes, err)
	}
	err = d.BoxRemove(ctx, want[0])
	if !IsType(err, "BoxRemoveNotFound") {
		t.Fatalf("removing a missing box: %v", err)
	}
}

func typeOf(err error) string {
	var ve *Error
	if errors.As(err, &ve) {
		return ve.Type
	}
	return ""
}

type fakeEvent struct {
	event, node string
	ms          int64
	pid         int
}

func readFakeLog(t *testing.T, path string) []fakeEvent {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []fakeEvent
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		ms, _ := strconv.ParseInt(f[2], 10, 64)
		e := fakeEvent{event: f[0], node: f[1], ms: ms}
		if len(f) > 3 {
			e.pid, _ = strconv.Atoi(f[3])
		}
		out = append(out, e)
	}
	return out
}

func TestRealUpHaltDestroy(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "fake.log")
	d := realDriver(t, "Vagrantfile.fake-provider",
		"CODODEMO_FAKE_NODES=core-01,core-02,core-03", "CODODEMO_FAKE_LOG="+logPath,
		"CODODEMO_FAKE_IMPORT_SECONDS=0.3", "CODODEMO_FAKE_FAIL=boot:core-03")
	d.Provider = "cododemo_fake"
	ctx := realCtx(t)
	var plans []UpPlan
	var mu = make(chan struct{}, 1)
	logs := map[string]*bytes.Buffer{}
	out := func(m string) io.Writer {
		mu <- struct{}{}
		defer func() { <-mu }()
		if logs[m] == nil {
			logs[m] = &bytes.Buffer{}
		}
		return lockedWriter{mu, logs[m]}
	}
	err := d.Up(ctx, UpOptions{Provider: "cododemo_fake", Out: out, OnPlan: func(p UpPlan) { plans = append(plans, p) }})
	// core-03 fails to boot; the others stay up.
	if err == nil || !strings.HasPrefix(err.Error(), "core-03: vagrant up: ") || !IsType(err, "VMBootTimeout") {
		t.Fatalf("up: %v", err)
	}
	if strings.Contains(err.Error(), "core-01") || strings.Contains(err.Error(), "core-02") {
		t.Fatalf("healthy nodes in the error: %v", err)
	}
	ms, err := d.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]State{}
	for _, m := range ms {
		states[m.Name] = m.State
	}
	if states["core-01"] != StateRunning || states["core-02"] != StateRunning || states["core-03"].Running() {
		t.Fatalf("states after up: %v", states)
	}
	// Imports never overlapped (the VirtualBox rule applies to unknown
	// providers), and came in order.
	var imports []fakeEvent
	for _, e := range readFakeLog(t, logPath) {
		if strings.HasPrefix(e.event, "import-") {
			imports = append(imports, e)
		}
	}
	var seq []string
	for _, e := range imports {
		seq = append(seq, e.event+" "+e.node)
	}
	wantSeq := []string{"import-start core-01", "import-end core-01", "import-start core-02", "import-end core-02", "import-start core-03", "import-end core-03"}
	if !reflect.DeepEqual(seq, wantSeq) {
		t.Fatalf("imports overlapped or out of order:\n%s", strings.Join(seq, "\n"))
	}
	if got := logs["core-01"].String(); !strings.Contains(got, "Importing base box 'cododemo-test'...\n") || strings.Contains(got, "==>") {
		t.Fatalf("core-01 output:\n%s", got)
	}

	// A second up brings up only core-03 (and it boots now).
	d.Env = d.Env[:len(d.Env)-1]
	if err := d.Up(ctx, UpOptions{Provider: "cododemo_fake", Out: out, OnPlan: func(p UpPlan) { plans = append(plans, p) }}); err != nil {
		t.Fatal(err)
	}
	wantPlan := UpPlan{Running: []string{"core-01", "core-02"}, Steps: []UpStep{{Name: "core-03"}}}
	if !reflect.DeepEqual(plans[1], wantPlan) {
		t.Fatalf("second plan %+v", plans[1])
	}

	if err := d.Halt(ctx, out, "core-02"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs["core-02"].String(), "Attempting graceful shutdown of VM...") {
		t.Fatalf("halt output:\n%s", logs["core-02"])
	}
	if err := d.Destroy(ctx, out); err != nil {
		t.Fatal(err)
	}
	ms, err = d.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.State != StateNotCreated {
			t.Fatalf("after destroy: %+v", m)
		}
	}
}

type lockedWriter struct {
	mu chan struct{}
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu <- struct{}{}
	defer func() { <-l.mu }()
	return l.w.Write(p)
}

func TestRealUpCancelLeavesNoProcess(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "fake.log")
	d := realDriver(t, "Vagrantfile.fake-provider",
		"CODODEMO_FAKE_NODES=core-01,core-02", "CODODEMO_FAKE_LOG="+logPath, "CODODEMO_FAKE_IMPORT_SECONDS=60")
	d.Provider = "cododemo_fake"
	ctx, cancel := context.WithCancel(realCtx(t))
	done := make(chan error)
	go func() { done <- d.Up(ctx, UpOptions{Provider: "cododemo_fake"}) }()
	var pid int
	for i := 0; i < 300 && pid == 0; i++ { // bounded: 30 s
		time.Sleep(100 * time.Millisecond)
		if b, _ := os.ReadFile(logPath); len(b) > 0 {
			for _, e := range readFakeLog(t, logPath) {
				if e.event == "import-start" {
					pid = e.pid
				}
			}
		}
	}
	if pid == 0 {
		cancel()
		t.Fatal("the import never started")
	}
	cancel()
	err := <-done
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("up after cancel: %v", err)
	}
	if hostos.ProcessAlive(pid) {
		t.Fatalf("vagrant (pid %d) survived the cancel", pid)
	}
	for _, e := range readFakeLog(t, logPath) {
		if e.node == "core-02" {
			t.Fatalf("core-02 started after the cancel: %+v", e)
		}
	}
}

// A node whose up dies of a Ruby exception, as vagrant-libvirt's does
// when the domain never gets an IP address: the real vagrant's output is
// classified, the node named with how far it came, and the backtrace goes
// to the log only.
func TestRealUpCrashIsClassified(t *testing.T) {
	d := realDriver(t, "Vagrantfile.fake-provider", "CODODEMO_FAKE_NODES=core-01", "CODODEMO_FAKE_FAIL=ip:core-01")
	d.Provider = "cododemo_fake"
	shown, log := &bytes.Buffer{}, &bytes.Buffer{}
	var mu = make(chan struct{}, 1)
	out := func(string) io.Writer { return logOnly{lockedWriter{mu, shown}, lockedWriter{mu, log}} }
	err := d.Up(realCtx(t), UpOptions{Provider: "cododemo_fake", Out: out})
	nes := NodeErrors(err)
	if len(nes) != 1 || nes[0].Node != "core-01" || nes[0].Reason() != ReasonIPTimeout || nes[0].Phase != PhaseBoot {
		t.Fatalf("up: %v (node errors %+v)", err, nes)
	}
	if strings.Contains(err.Error(), ".rb:") {
		t.Errorf("the error carries the backtrace:\n%v", err)
	}
	if strings.Contains(shown.String(), ".rb:") || !strings.Contains(shown.String(), "Waiting for domain to get an IP address") {
		t.Errorf("shown:\n%s", shown)
	}
	if !strings.Contains(log.String(), "wait_for.rb:9:in `block in wait_for'") || !strings.Contains(log.String(), "\tfrom ") {
		t.Errorf("the log lacks the backtrace:\n%s", log)
	}
}

// A reload halts every node at once, then boots them all at once (Vagrant's
// own reload does one node after the other: 3 x 3 minutes under emulation).
func TestRealReloadIsParallel(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "fake.log")
	d := realDriver(t, "Vagrantfile.fake-provider", "CODODEMO_FAKE_NODES=core-01,core-02,core-03")
	d.Provider = "cododemo_fake"
	ctx := realCtx(t)
	if err := d.Up(ctx, UpOptions{Provider: "cododemo_fake"}); err != nil {
		t.Fatal(err)
	}
	// Each halt and each boot waits for the other two machines to reach
	// it: one after the other, none would get past (in 60 s).
	d.Env = append(d.Env, "CODODEMO_FAKE_LOG="+logPath, "CODODEMO_FAKE_BARRIER=3")
	var mu = make(chan struct{}, 1)
	logs := map[string]*bytes.Buffer{"core-01": {}, "core-02": {}, "core-03": {}, "": {}}
	out := func(m string) io.Writer { return lockedWriter{mu, logs[m]} }
	if err := d.Reload(ctx, out); err != nil {
		t.Fatal(err)
	}
	first, last := map[string]int64{}, map[string]int64{}
	count := map[string]int{}
	for _, e := range readFakeLog(t, logPath) {
		if _, ok := first[e.event]; !ok {
			first[e.event] = e.ms
		}
		last[e.event] = e.ms
		count[e.event]++
	}
	for _, ev := range []string{"halt-start", "halt-end", "boot-start", "boot-end"} {
		if count[ev] != 3 {
			t.Fatalf("%d %s events, want 3: %v", count[ev], ev, readFakeLog(t, logPath))
		}
	}
	if count["halt-alone"]+count["boot-alone"] > 0 {
		t.Fatalf("halts or boots ran one after the other: %v", readFakeLog(t, logPath))
	}
	// The boots began once every halt was over.
	if first["boot-start"] < last["halt-end"] {
		t.Fatalf("a boot began before the halts were over: %v", readFakeLog(t, logPath))
	}
	for _, n := range []string{"core-01", "core-02", "core-03"} {
		if got := logs[n].String(); !strings.Contains(got, "Attempting graceful shutdown of VM...\n") || !strings.Contains(got, "Machine booted and ready!\n") {
			t.Errorf("%s output:\n%s", n, got)
		}
	}
	ms, err := d.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.State != StateRunning {
			t.Fatalf("after reload: %+v", m)
		}
	}
}

// A reload whose node does not boot again: the error names that node
// (only it), classified, with how far it came.
func TestRealReloadNamesTheNode(t *testing.T) {
	d := realDriver(t, "Vagrantfile.fake-provider", "CODODEMO_FAKE_NODES=core-01,core-02,core-03")
	d.Provider = "cododemo_fake"
	ctx := realCtx(t)
	if err := d.Up(ctx, UpOptions{Provider: "cododemo_fake", Serial: true}); err != nil {
		t.Fatal(err)
	}
	failing := *d
	failing.Env = append(slices.Clone(d.Env), "CODODEMO_FAKE_FAIL=boot:core-02")
	err := failing.Reload(ctx, nil)
	nes := NodeErrors(err)
	if len(nes) != 1 || nes[0].Node != "core-02" || nes[0].Op != "vagrant up --no-provision" || nes[0].Reason() != ReasonBootTimeout || nes[0].Phase != PhaseBoot {
		t.Fatalf("reload: %v (node errors %+v)", err, nes)
	}
	if err := d.Halt(ctx, nil); err != nil {
		t.Fatalf("halt: %v", err)
	}
}
