package probe

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	osexec "os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cododemo/cododemo/pkg/config"
	"github.com/cododemo/cododemo/pkg/doctor"
	"github.com/cododemo/cododemo/pkg/exec"
	"github.com/cododemo/cododemo/pkg/plan"
)

// Unit tier: the probes' command lines and output handling, with a fake.

func TestVagrantProbesDisablePhoningHome(t *testing.T) {
	fake := &exec.Fake{Handler: func(c exec.Cmd) (string, error) {
		switch strings.Join(append([]string{c.Name}, c.Args...), " ") {
		case "vagrant --version":
			return "Vagrant 2.4.3\n", nil
		case "vagrant plugin list":
			return "vagrant-libvirt (0.12.2, global)\n  - Version Constraint: > 0\n", nil
		}
		return "", errors.New("unexpected")
	}}
	h := New(fake, func(k string) string {
		if k == "VAGRANT_HOME" {
			return "/tmp/vh"
		}
		return ""
	})
	ctx := context.Background()
	if v, err := h.VagrantVersion(ctx); err != nil || v != "2.4.3" {
		t.Errorf("version %q, %v", v, err)
	}
	if ps, err := h.VagrantPlugins(ctx); err != nil || len(ps) != 1 || ps[0].Version != "0.12.2" {
		t.Errorf("plugins %+v, %v", ps, err)
	}
	for _, c := range fake.Calls {
		for _, e := range []string{"VAGRANT_CHECKPOINT_DISABLE=1", "VAGRANT_BOX_UPDATE_CHECK_DISABLE=1", "VAGRANT_HOME=/tmp/vh"} {
			if !slices.Contains(c.Env, e) {
				t.Errorf("%s runs without %s", c, e)
			}
		}
	}
}

func TestVirtualBoxWarningOnStderr(t *testing.T) {
	warning := "WARNING: The vboxdrv kernel module is not loaded.\n"
	fake := &exec.Fake{Handler: func(c exec.Cmd) (string, error) {
		// Some releases print the warning on stderr, the version on stdout.
		_, _ = io.WriteString(c.Stderr, warning)
		return "7.0.14r161095\n", nil
	}}
	vb, err := New(fake, nil).VirtualBox(context.Background())
	if err != nil || vb.Version != "7.0.14" || len(vb.Warnings) != 1 {
		t.Errorf("%+v, %v", vb, err)
	}
}

// Real tier: the probes against this machine, and fake tools on PATH run
// by the real runner.

func realHost(t *testing.T) *Host {
	t.Helper()
	return New(exec.OS{KillGrace: 300 * time.Millisecond}, os.Getenv)
}

func labTarget(t *testing.T, stateDir string, mutate ...func(*config.Lab)) doctor.Target {
	t.Helper()
	lab := config.Default()
	for _, m := range mutate {
		m(&lab)
	}
	p, err := plan.New(lab, nil, plan.Secrets{})
	if err != nil {
		t.Fatal(err)
	}
	return doctor.NewTarget(p, stateDir)
}

func findingOf(t *testing.T, r doctor.Report, code string) doctor.Finding {
	t.Helper()
	for _, f := range r.Findings {
		if f.Code == code {
			return f
		}
	}
	t.Fatalf("no %s in report", code)
	return doctor.Finding{}
}

func TestRealProbesVirtualBoxLab(t *testing.T) {
	if _, err := osexec.LookPath("vagrant"); err != nil {
		t.Fatalf("vagrant must be installed for this test (apt-get install vagrant): %v", err)
	}
	t.Setenv("VAGRANT_HOME", t.TempDir())
	r := doctor.Run(context.Background(), realHost(t), labTarget(t, t.TempDir()), realTools)
	if len(r.Findings) != len(doctor.Checks()) {
		t.Fatalf("%d findings", len(r.Findings))
	}
	for _, f := range r.Findings {
		t.Logf("%s %-18s %-4s %s | %s", f.Code, f.Check, f.Status, f.Finding, f.Fix)
		if f.Finding == "" {
			t.Errorf("%s: empty finding", f.Code)
		}
	}

	if f := findingOf(t, r, "CD001"); f.Status != doctor.StatusOK || !strings.HasPrefix(f.Finding, "Vagrant 2.") {
		t.Errorf("real vagrant: %s %q", f.Status, f.Finding)
	}
	if f := findingOf(t, r, "CD002"); f.Status != doctor.StatusOK {
		t.Errorf("real vagrant version: %s %q", f.Status, f.Finding)
	}
	vb := findingOf(t, r, "CD003")
	if _, err := osexec.LookPath("VBoxManage"); err != nil {
		if vb.Status != doctor.StatusFail || !strings.Contains(vb.Finding, "VirtualBox is not installed") ||
			!strings.Contains(vb.Fix, "install VirtualBox") {
			t.Errorf("no VirtualBox here, got %s %q fix %q", vb.Status, vb.Finding, vb.Fix)
		}
		if r.OK {
			t.Error("report ok without VirtualBox")
		}
	} else if vb.Status == doctor.StatusSkip {
		t.Errorf("VirtualBox installed but check skipped: %q", vb.Finding)
	}

	// The CPU check agrees with the CPU flags read here independently.
	cpuinfo, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		t.Fatal(err)
	}
	virt := findingOf(t, r, "CD007")
	if hasVT := strings.Contains(string(cpuinfo), " vmx") || strings.Contains(string(cpuinfo), " svm"); hasVT {
		if virt.Status == doctor.StatusFail {
			t.Errorf("CPU has VT but CD007 fails: %q", virt.Finding)
		}
	} else if virt.Status != doctor.StatusFail || !strings.Contains(virt.Finding, "neither vmx nor svm") {
		t.Errorf("no VT flags here, got %s %q", virt.Status, virt.Finding)
	}
	if f := findingOf(t, r, "CD009"); !strings.Contains(f.Finding, "available") || f.Status == doctor.StatusSkip {
		t.Errorf("memory: %s %q", f.Status, f.Finding)
	}
	if f := findingOf(t, r, "CD010"); !strings.Contains(f.Finding, "free for") || f.Status == doctor.StatusSkip {
		t.Errorf("disk: %s %q", f.Status, f.Finding)
	}
	if f := findingOf(t, r, "CD014"); !strings.Contains(f.Finding, "192.168.56.0/24") {
		t.Errorf("subnet: %s %q", f.Status, f.Finding)
	}
	if f := findingOf(t, r, "CD015"); f.Status != doctor.StatusWarn || !strings.Contains(f.Finding, "not cached; `cododemo box fetch` will download it") {
		t.Errorf("empty VAGRANT_HOME: %s %q", f.Status, f.Finding)
	}
}

// libvirt may or may not be installed and running on the machine: the
// real probes must say which, consistently, with the fix when it is not.
// realTools is the probe bound for tests that run the real vagrant, virsh
// and VBoxManage and then compare with what the tools print. The product's
// 10 s bound is for a laptop; on a CI machine running every test package at
// once, Ruby's start-up alone has taken longer, and a probe cut off there
// is a timeout finding, not the fact the test compares (TestStuckToolTimesOut
// tests the bound itself).
var realTools = doctor.Options{Timeout: 2 * time.Minute}

func TestRealProbesLibvirtLab(t *testing.T) {
	tg := labTarget(t, t.TempDir(), func(l *config.Lab) { l.Provider = "libvirt" })
	h := realHost(t)
	run := func() doctor.Report { return doctor.Run(context.Background(), h, tg, realTools) }
	r1, r2 := run(), run()
	lv := findingOf(t, r1, "CD005")
	t.Logf("CD005 %s %q | %q", lv.Status, lv.Finding, lv.Fix)
	if again := findingOf(t, r2, "CD005"); again.Status != lv.Status {
		t.Errorf("libvirt check flips: %s then %s", lv.Status, again.Status)
	}
	switch _, err := osexec.LookPath("virsh"); {
	case err != nil:
		if lv.Status != doctor.StatusFail || !strings.Contains(lv.Finding, "virsh not found") || !strings.Contains(lv.Fix, "apt-get install libvirt-clients") {
			t.Errorf("no virsh: %s %q %q", lv.Status, lv.Finding, lv.Fix)
		}
	case lv.Status == doctor.StatusOK:
		if !strings.Contains(lv.Finding, "qemu:///system answers") {
			t.Errorf("libvirt up: %q", lv.Finding)
		}
	case lv.Status == doctor.StatusFail:
		if !strings.Contains(lv.Finding, "cannot connect to qemu:///system") || !strings.Contains(lv.Fix, "libvirtd") {
			t.Errorf("libvirtd down: %q %q", lv.Finding, lv.Fix)
		}
	default:
		t.Errorf("libvirt lab: CD005 %s", lv.Status)
	}

	plug := findingOf(t, r1, "CD006")
	out, err := osexec.Command("vagrant", "plugin", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "vagrant-libvirt") != (plug.Status == doctor.StatusOK) {
		t.Errorf("plugin list says %q but CD006 is %s %q", out, plug.Status, plug.Finding)
	}
	if plug.Status == doctor.StatusFail && !strings.Contains(plug.Fix, "vagrant plugin install vagrant-libvirt") {
		t.Errorf("no fix: %q", plug.Fix)
	}
	if f := findingOf(t, r1, "CD003"); f.Status != doctor.StatusSkip {
		t.Errorf("libvirt lab ran the VirtualBox check: %s", f.Status)
	}
}

// fakeTools puts scripts named after real tools first on PATH.
func fakeTools(t *testing.T, scripts map[string]string) {
	t.Helper()
	dir := t.TempDir()
	for name, body := range scripts {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

// A stuck tool (one that even ignores SIGINT) is cut off by its timeout
// and reported as such; the other checks still report.
func TestStuckToolTimesOut(t *testing.T) {
	fakeTools(t, map[string]string{
		"vagrant":    "trap '' INT TERM\nsleep 30",
		"VBoxManage": "echo 7.0.14r161095",
	})
	r := doctor.Run(context.Background(), realHost(t), labTarget(t, t.TempDir()), doctor.Options{Timeout: 500 * time.Millisecond})
	f := findingOf(t, r, "CD001")
	if f.Status != doctor.StatusFail || !strings.Contains(f.Finding, "`vagrant --version` timed out after 500ms") {
		t.Errorf("stuck vagrant: %s %q", f.Status, f.Finding)
	}
	if vb := findingOf(t, r, "CD003"); vb.Status != doctor.StatusOK || vb.Finding != "VirtualBox 7.0.14" {
		t.Errorf("VBoxManage beside a stuck vagrant: %s %q", vb.Status, vb.Finding)
	}
}

// Fake VBoxManage, real vagrant: the driver warning and the version pair.
func TestFakeVirtualBoxRealVagrant(t *testing.T) {
	out, err := osexec.Command("vagrant", "--version").Output()
	if err != nil {
		t.Fatalf("vagrant must be installed: %v", err)
	}
	vagrantVer, err := ParseVagrantVersion(string(out))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		script, code string
		status       doctor.Status
		want         string
	}{
		{"echo 'WARNING: The vboxdrv kernel module is not loaded. Either there is no module' >&2\necho 7.0.14r161095",
			"CD003", doctor.StatusFail, "kernel driver is not loaded"},
		{"echo 7.0.14r161095", "CD004", doctor.StatusOK, "supports VirtualBox 7.0"},
		{"echo 7.2.2r170484", "CD004", doctor.StatusFail, "Vagrant " + vagrantVer + " refuses VirtualBox 7.2.2"},
		{"echo 'VBoxManage: error: Failed to create the VirtualBox object!' >&2; exit 1", "CD003", doctor.StatusFail, "VBoxManage failed"},
	} {
		fakeTools(t, map[string]string{"VBoxManage": tc.script})
		r := doctor.Run(context.Background(), realHost(t), labTarget(t, t.TempDir()), realTools)
		f := findingOf(t, r, tc.code)
		if strings.Contains(tc.want, "refuses") && doctor.CompareVersions(vagrantVer, "2.4.9") >= 0 {
			tc.status, tc.want = doctor.StatusOK, "supports"
		}
		if f.Status != tc.status || !strings.Contains(f.Finding, tc.want) {
			t.Errorf("%q: %s %s %q, want %s %q", tc.script, tc.code, f.Status, f.Finding, tc.status, tc.want)
		}
	}
}

func TestRealPortProbe(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	busy := l.Addr().(*net.TCPAddr).Port
	tg := labTarget(t, t.TempDir(), func(lab *config.Lab) {
		lab.FirstBoot.Port = busy
		lab.ForwardPorts = []config.ForwardPort{{Node: "core-01", Guest: 2379, Host: busy}}
	})
	h := realHost(t)
	facts := doctor.Gather(context.Background(), h, tg, time.Second)
	r := doctor.Judge(tg, facts)
	for _, code := range []string{"CD011", "CD012"} {
		if f := findingOf(t, r, code); f.Status != doctor.StatusFail || !strings.Contains(f.Finding, "is in use") {
			t.Errorf("%s on a busy port: %s %q", code, f.Status, f.Finding)
		}
	}
	l.Close()
	if err := h.PortFree(context.Background(), busy); err != nil {
		t.Errorf("freed port still busy: %v", err)
	}
}

// The box cache layout is read as Vagrant reads it: real `vagrant box
// list` over the same directory must list what the probe found.
func TestBoxCacheMatchesVagrant(t *testing.T) {
	home := t.TempDir()
	for _, p := range []string{
		"boxes/flatcar-stable/4593.2.5/virtualbox",     // Vagrant <= 2.3 layout
		"boxes/flatcar-beta/4600.1.0/amd64/virtualbox", // Vagrant >= 2.4 layout
		"boxes/flatcar-stable/4459.2.4/libvirt",
	} {
		dir := filepath.Join(home, p)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		prov := filepath.Base(p)
		if err := os.WriteFile(filepath.Join(dir, "metadata.json"), []byte(`{"provider":"`+prov+`"}`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	h := realHost(t)
	bc, err := h.Box(context.Background(), home, doctor.BoxRef{Name: "flatcar-stable", Provider: "virtualbox", Arch: "amd64"})
	if err != nil || !slices.Equal(bc.Versions, []string{"4593.2.5"}) {
		t.Errorf("stable/virtualbox: %+v, %v", bc, err)
	}
	bc, err = h.Box(context.Background(), home, doctor.BoxRef{Name: "flatcar-beta", Provider: "virtualbox", Arch: "amd64"})
	if err != nil || !slices.Equal(bc.Versions, []string{"4600.1.0"}) {
		t.Errorf("beta (2.4 layout): %+v, %v", bc, err)
	}
	bc, err = h.Box(context.Background(), filepath.Join(home, "nope"), doctor.BoxRef{Name: "flatcar-stable", Provider: "virtualbox"})
	if err != nil || len(bc.Versions) != 0 {
		t.Errorf("missing cache: %+v, %v", bc, err)
	}

	cmd := osexec.Command("vagrant", "box", "list")
	cmd.Env = append(os.Environ(), "VAGRANT_HOME="+home, "VAGRANT_CHECKPOINT_DISABLE=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("vagrant box list: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "flatcar-stable (virtualbox, 4593.2.5") {
		t.Errorf("vagrant does not see the box the probe found:\n%s", out)
	}
}

func TestRealKeyDiskAndNetworksConf(t *testing.T) {
	state := t.TempDir()
	key := filepath.Join(state, doctor.KeyFileName)
	if err := os.WriteFile(key, []byte("key"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(key, 0o644); err != nil { // whatever the umask
		t.Fatal(err)
	}
	conf := filepath.Join(t.TempDir(), "networks.conf")
	if err := os.WriteFile(conf, []byte("* 10.42.0.0/16\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := realHost(t)
	h.NetworksConf = conf
	tg := labTarget(t, state, func(l *config.Lab) { l.Network.CIDR = "10.42.7.0/24" })
	r := doctor.Run(context.Background(), h, tg, realTools)
	if f := findingOf(t, r, "CD016"); f.Status != doctor.StatusFail || f.Fix != "chmod 600 "+key {
		t.Errorf("0644 key: %s %q %q", f.Status, f.Finding, f.Fix)
	}
	if f := findingOf(t, r, "CD013"); f.Status != doctor.StatusOK || !strings.Contains(f.Finding, conf) {
		t.Errorf("allowed by networks.conf: %s %q", f.Status, f.Finding)
	}
	if err := os.Chmod(key, 0o600); err != nil {
		t.Fatal(err)
	}
	h.NetworksConf = filepath.Join(t.TempDir(), "absent")
	r = doctor.Run(context.Background(), h, tg, realTools)
	if f := findingOf(t, r, "CD016"); f.Status != doctor.StatusOK {
		t.Errorf("0600 key: %s %q", f.Status, f.Finding)
	}
	if f := findingOf(t, r, "CD013"); f.Status != doctor.StatusFail || !strings.Contains(f.Fix, "`* 10.42.7.0/24`") {
		t.Errorf("no networks.conf: %s %q", f.Status, f.Fix)
	}

	d, err := h.Disk(context.Background(), filepath.Join(state, "not", "yet"))
	if err != nil || d.Path != state || d.Free == 0 {
		t.Errorf("disk of a path to be created: %+v, %v", d, err)
	}
}
