package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cododemo/cododemo/pkg/cmdutil"
	"github.com/cododemo/cododemo/pkg/config"
	"github.com/cododemo/cododemo/pkg/doctor"
	"github.com/cododemo/cododemo/pkg/exec"
)

// Tier 1: flags and config to options and errors.

func newFactory(t *testing.T, dir string) (*cmdutil.Factory, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	var out, errOut bytes.Buffer
	return &cmdutil.Factory{
		IO:      &cmdutil.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut},
		Runner:  &exec.Fake{Handler: func(c exec.Cmd) (string, error) { return "", errors.New("not in this test") }},
		Getenv:  func(string) string { return "" },
		WorkDir: dir,
	}, &out, &errOut
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "cododemo.yaml"), []byte("nodes:\n  count: 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-o", "junit"}, `--output "junit"`},
		{[]string{"--probe-timeout", "0s"}, "--probe-timeout 0s"},
		{nil, "cododemo.yaml:2:10"},
		{[]string{"--provider", "hyperv"}, `"hyperv" is not one of virtualbox, libvirt`},
	} {
		f, _, _ := newFactory(t, dir)
		cmd := NewCmdDoctor(f)
		cmd.SetArgs(tc.args)
		cmd.SetOut(&bytes.Buffer{})
		cmd.SetErr(&bytes.Buffer{})
		err := cmd.Execute()
		if !cmdutil.IsUsage(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err %v, want a usage error mentioning %q", tc.args, err, tc.want)
		}
		if calls := f.Runner.(*exec.Fake).Calls; len(calls) > 0 {
			t.Errorf("%v: probed the host before rejecting the config: %v", tc.args, calls)
		}
	}
}

func TestBadLockIsUsage(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "cododemo.lock"), []byte("version: 99\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := LoadTarget(configSource(dir))
	if !cmdutil.IsUsage(err) || !strings.Contains(err.Error(), "lock format version 99") {
		t.Errorf("bad lock: %v", err)
	}
}

// Tier 2: options to output and exit status, with stub probes.

type stubProbes struct {
	vagrant error
	arch    string
}

func (s stubProbes) HostOS() string        { return "linux" }
func (s stubProbes) HostArch() string      { return s.arch }
func (s stubProbes) VagrantHome() string   { return "/vh" }
func (s stubProbes) VMDir(p string) string { return "/vm" }
func (s stubProbes) VagrantVersion(context.Context) (string, error) {
	return "2.3.4", s.vagrant
}
func (s stubProbes) VagrantPlugins(context.Context) ([]doctor.Plugin, error) { return nil, nil }
func (s stubProbes) VirtualBox(context.Context) (doctor.VirtualBox, error) {
	return doctor.VirtualBox{Version: "7.0.14"}, nil
}
func (s stubProbes) VirshVersion(context.Context) (string, error)           { return "", nil }
func (s stubProbes) LibvirtConnect(context.Context, string) (string, error) { return "", nil }
func (s stubProbes) Virtualization(context.Context) (doctor.Virt, error) {
	return doctor.Virt{Known: true, CPUFlag: "vmx"}, nil
}
func (s stubProbes) Memory(context.Context) (doctor.Memory, error) {
	return doctor.Memory{Available: 32 << 30}, nil
}
func (s stubProbes) Disk(_ context.Context, p string) (doctor.Disk, error) {
	return doctor.Disk{Path: p, Free: 500 << 30}, nil
}
func (s stubProbes) PortFree(context.Context, int) error                { return nil }
func (s stubProbes) Interfaces(context.Context) ([]doctor.Iface, error) { return nil, nil }
func (s stubProbes) Routes(context.Context) ([]doctor.Route, error)     { return nil, nil }
func (s stubProbes) VBoxNetworks(context.Context) (doctor.NetworksConf, error) {
	return doctor.NetworksConf{Enforced: true}, nil
}
func (s stubProbes) KeyFile(context.Context, string) (doctor.KeyInfo, error) {
	return doctor.KeyInfo{}, nil
}
func (s stubProbes) Box(context.Context, string, doctor.BoxRef) (doctor.BoxCache, error) {
	return doctor.BoxCache{}, nil
}

func (s stubProbes) Kernel(context.Context) (string, error) { return "6.1.0-28-amd64", nil }
func (s stubProbes) KVMModule(context.Context) (doctor.KVMModule, error) {
	return doctor.KVMModule{}, nil
}
func (s stubProbes) SigningKey(context.Context) (doctor.SigningKey, error) {
	return doctor.SigningKey{ID: "32DA80F91EF52974", Expires: time.Date(2027, 3, 8, 0, 0, 0, 0, time.UTC), Refreshed: true}, nil
}
func (s stubProbes) Now() time.Time { return time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC) }

func runStub(t *testing.T, out cmdutil.Output, p stubProbes, tty bool) (string, string, error) {
	t.Helper()
	dir := t.TempDir()
	f, stdout, stderr := newFactory(t, dir)
	f.IO.OutTTY = tty
	err := runDoctor(context.Background(), &Options{
		IO: f.IO, Output: out, Timeout: time.Second, Probes: p,
		Load: func() (doctor.Target, []string, error) {
			tg, warns, err := LoadTarget(configSource(dir))
			return tg, append(warns, "a config warning"), err
		},
	})
	return stdout.String(), stderr.String(), err
}

func TestExitStatus(t *testing.T) {
	// Warnings only (the box is not cached): exit 0.
	out, errOut, err := runStub(t, cmdutil.OutputTable, stubProbes{arch: "amd64"}, false)
	if err != nil {
		t.Fatalf("warnings only: %v\n%s", err, out)
	}
	if !strings.Contains(out, "CD015  box") || !strings.Contains(out, "ready, with warnings") || strings.Contains(out, "\x1b[") {
		t.Errorf("table:\n%s", out)
	}
	if !strings.Contains(errOut, "warning: a config warning") {
		t.Errorf("config warnings not on stderr: %q", errOut)
	}

	// A fatal finding: the report, then a silent exit 1.
	out, _, err = runStub(t, cmdutil.OutputJSON, stubProbes{arch: "arm64"}, false)
	var silent *cmdutil.SilentError
	if !errors.As(err, &silent) || silent.Code != cmdutil.ExitFailure {
		t.Fatalf("arm64 host: err %v, want exit 1", err)
	}
	var r doctor.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("json: %v\n%s", err, out)
	}
	if r.SchemaVersion != doctor.SchemaVersion || r.OK || r.Summary.Fail != 1 || len(r.Findings) != len(doctor.Checks()) {
		t.Errorf("report: %+v", r)
	}

	out, _, _ = runStub(t, cmdutil.OutputTable, stubProbes{arch: "arm64"}, true)
	if !strings.Contains(out, "\x1b[31mFAIL") {
		t.Errorf("no colour on a terminal:\n%s", out)
	}
}

// Tier 3: the whole process, every probe real (see main_test.go).

func cli(t testing.TB, dir string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return cliIn(t, dir, env, nil, args...)
}

func cliIn(t testing.TB, dir string, env []string, prefix []string, args ...string) (string, string, int) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	argv := append(append(prefix, self), args...)
	cmd := osexec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), mainEnv+"=1"), env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	var ee *osexec.ExitError
	switch {
	case err == nil:
		return o.String(), e.String(), 0
	case errors.As(err, &ee):
		return o.String(), e.String(), ee.ExitCode()
	}
	t.Fatalf("%v: %v", argv, err)
	return "", "", -1
}

func decode(t *testing.T, out string) doctor.Report {
	t.Helper()
	var r doctor.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("json: %v\n%s", err, out)
	}
	return r
}

func finding(t *testing.T, r doctor.Report, code string) doctor.Finding {
	t.Helper()
	for _, f := range r.Findings {
		if f.Code == code {
			return f
		}
	}
	t.Fatalf("no %s", code)
	return doctor.Finding{}
}

func TestProcessRealProbes(t *testing.T) {
	dir := t.TempDir()
	out, stderr, code := cli(t, dir, []string{"VAGRANT_HOME=" + t.TempDir()}, "doctor", "-o", "json")
	r := decode(t, out)
	_, vboxErr := osexec.LookPath("VBoxManage")
	if vboxErr != nil && (code != 1 || r.OK) {
		t.Errorf("no VirtualBox on this machine: exit %d ok %v, want exit 1\n%s", code, r.OK, stderr)
	}
	if f := finding(t, r, "CD001"); f.Status != doctor.StatusOK {
		t.Errorf("real vagrant: %+v", f)
	}
	if vboxErr != nil {
		if f := finding(t, r, "CD003"); f.Status != doctor.StatusFail || !strings.Contains(f.Fix, "install VirtualBox") {
			t.Errorf("no VirtualBox: %+v", f)
		}
	}

	// The table says the same, and the exit status agrees.
	tbl, _, code2 := cli(t, dir, []string{"VAGRANT_HOME=" + t.TempDir(), "NO_COLOR=1"}, "doctor")
	if code2 != code || !strings.Contains(tbl, "CODE   CHECK") || strings.Contains(tbl, "\x1b[") {
		t.Errorf("table run: exit %d (json run %d)\n%s", code2, code, tbl)
	}

	// Bad configuration: exit 2 before any probe.
	if err := os.WriteFile(filepath.Join(dir, "cododemo.yaml"), []byte("nodes:\n  memory: 10\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code = cli(t, dir, nil, "doctor")
	if code != 2 || !strings.Contains(stderr, "nodes.memory") {
		t.Errorf("bad config: exit %d\n%s", code, stderr)
	}
}

// A stuck vagrant on PATH: the whole command still finishes, and says which
// tool timed out.
func TestProcessStuckTool(t *testing.T) {
	bin := t.TempDir()
	script := "#!/bin/sh\ntrap '' INT TERM\nsleep 60\n"
	if err := os.WriteFile(filepath.Join(bin, "vagrant"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := cli(t, t.TempDir(), []string{"PATH=" + bin + ":" + os.Getenv("PATH")},
		"doctor", "-o", "json", "--probe-timeout", "1s")
	r := decode(t, out)
	f := finding(t, r, "CD001")
	if code != 1 || f.Status != doctor.StatusFail || !strings.Contains(f.Finding, "`vagrant --version` timed out after 1s") {
		t.Errorf("stuck vagrant: exit %d %+v\n%s", code, f, stderr)
	}
}

// docker0 on the lab's subnet, for real: a network namespace with a
// docker0 (a bridge, as Docker makes it) holding 192.168.56.1/24 and a VPN
// route on tun0 (a veth: no tun/dummy modules in containers), doctor run
// inside it. No packet is sent.
func TestProcessSubnetClashInNetns(t *testing.T) {
	ns := fmt.Sprintf("cododemo-doctor-%d", os.Getpid())
	ip := func(args ...string) {
		t.Helper()
		if out, err := osexec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v\n%s (this test needs root and iproute2)", args, err, out)
		}
	}
	ip("netns", "add", ns)
	t.Cleanup(func() { _ = osexec.Command("ip", "netns", "del", ns).Run() })
	ip("-n", ns, "link", "set", "lo", "up")
	ip("-n", ns, "link", "add", "docker0", "type", "bridge")
	ip("-n", ns, "addr", "add", "192.168.56.1/24", "dev", "docker0")
	ip("-n", ns, "link", "set", "docker0", "up")
	ip("-n", ns, "link", "add", "tun0", "type", "veth", "peer", "name", "tun0p")
	ip("-n", ns, "addr", "add", "10.8.0.2/24", "dev", "tun0")
	ip("-n", ns, "link", "set", "tun0", "up")
	ip("-n", ns, "route", "add", "192.168.57.0/24", "dev", "tun0")

	out, stderr, code := cliIn(t, t.TempDir(), []string{"VAGRANT_HOME=" + t.TempDir()}, []string{"ip", "netns", "exec", ns},
		"doctor", "-o", "json")
	r := decode(t, out)
	f := finding(t, r, "CD014")
	want := []string{"docker0 has 192.168.56.1/24 (Docker)"}
	if f.Status != doctor.StatusFail || code != 1 || !strings.Contains(f.Finding, want[0]) ||
		strings.Contains(f.Finding, "192.168.57.0/24") || !strings.Contains(f.Fix, "network.cidr: 192.168.58.0/24") {
		t.Errorf("docker0 clash: exit %d %+v\n%s", code, f, stderr)
	}

	// A lab on the VPN's routed subnet clashes with the route.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "cododemo.yaml"), []byte("network:\n  cidr: 192.168.57.0/24\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, _ = cliIn(t, dir, []string{"VAGRANT_HOME=" + t.TempDir()}, []string{"ip", "netns", "exec", ns}, "doctor", "-o", "json")
	if f := finding(t, decode(t, out), "CD014"); f.Status != doctor.StatusFail || !strings.Contains(f.Finding, "route to 192.168.57.0/24 via tun0 (a VPN)") {
		t.Errorf("VPN route clash: %+v", f)
	}
}

// BenchmarkDoctorProcess times `cododemo doctor` as a user runs it: a
// fresh process, every probe real.
func BenchmarkDoctorProcess(b *testing.B) {
	dir, home := b.TempDir(), b.TempDir()
	for b.Loop() {
		if out, stderr, code := cli(b, dir, []string{"VAGRANT_HOME=" + home}, "doctor", "-o", "json"); code > 1 {
			b.Fatalf("exit %d\n%s%s", code, out, stderr)
		}
	}
}

func configSource(dir string) config.Source {
	return config.Source{Dir: dir, Getenv: func(string) string { return "" }}
}
