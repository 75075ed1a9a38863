package doctor

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	osexec "os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cododemo/cododemo/pkg/exec"
	"github.com/cododemo/cododemo/pkg/termtable"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/doctor")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("..", "..", "testdata", "doctor", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden (run with -update and review the diff):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// fakeProbes answers from facts and records which probes ran. block makes
// the named probe hang, ignoring its context, like a stuck tool.
type fakeProbes struct {
	facts *Facts
	block map[string]bool
	mu    sync.Mutex
	calls []string
}

func (p *fakeProbes) call(ctx context.Context, name string) {
	p.mu.Lock()
	p.calls = append(p.calls, name)
	p.mu.Unlock()
	if p.block[name] {
		time.Sleep(time.Hour) // ignores ctx on purpose
	}
}

func (p *fakeProbes) HostOS() string           { return p.facts.HostOS }
func (p *fakeProbes) HostArch() string         { return p.facts.HostArch }
func (p *fakeProbes) VagrantHome() string      { return p.facts.VagrantHome }
func (p *fakeProbes) VMDir(prov string) string { return "/home/u/VirtualBox VMs" }
func (p *fakeProbes) VagrantVersion(ctx context.Context) (string, error) {
	p.call(ctx, "vagrant")
	return p.facts.Vagrant.Val, p.facts.Vagrant.Err
}
func (p *fakeProbes) VagrantPlugins(ctx context.Context) ([]Plugin, error) {
	p.call(ctx, "plugins")
	return p.facts.VagrantPlugins.Val, p.facts.VagrantPlugins.Err
}
func (p *fakeProbes) VirtualBox(ctx context.Context) (VirtualBox, error) {
	p.call(ctx, "vboxmanage")
	return p.facts.VirtualBox.Val, p.facts.VirtualBox.Err
}
func (p *fakeProbes) VirshVersion(ctx context.Context) (string, error) {
	p.call(ctx, "virsh")
	return p.facts.Virsh.Val, p.facts.Virsh.Err
}
func (p *fakeProbes) LibvirtConnect(ctx context.Context, uri string) (string, error) {
	p.call(ctx, "connect "+uri)
	return p.facts.Libvirt.Val, p.facts.Libvirt.Err
}
func (p *fakeProbes) Virtualization(ctx context.Context) (Virt, error) {
	p.call(ctx, "virt")
	return p.facts.Virt.Val, p.facts.Virt.Err
}
func (p *fakeProbes) Memory(ctx context.Context) (Memory, error) {
	p.call(ctx, "memory")
	return p.facts.Memory.Val, p.facts.Memory.Err
}
func (p *fakeProbes) Disk(ctx context.Context, path string) (Disk, error) {
	p.call(ctx, "disk "+path)
	for _, d := range p.facts.Disks {
		if d.Want == path {
			return d.Space.Val, d.Space.Err
		}
	}
	return Disk{Path: path, Device: 1, Free: 100 << 30}, nil
}
func (p *fakeProbes) PortFree(ctx context.Context, port int) error {
	p.call(ctx, "port")
	return p.facts.Ports[port].Err
}
func (p *fakeProbes) Interfaces(ctx context.Context) ([]Iface, error) {
	p.call(ctx, "interfaces")
	return p.facts.Interfaces.Val, p.facts.Interfaces.Err
}
func (p *fakeProbes) Routes(ctx context.Context) ([]Route, error) {
	p.call(ctx, "routes")
	return p.facts.Routes.Val, p.facts.Routes.Err
}
func (p *fakeProbes) VBoxNetworks(ctx context.Context) (NetworksConf, error) {
	p.call(ctx, "networks.conf")
	return p.facts.VBoxNetworks.Val, p.facts.VBoxNetworks.Err
}
func (p *fakeProbes) Box(ctx context.Context, home string, ref BoxRef) (BoxCache, error) {
	p.call(ctx, "box "+ref.Name)
	return p.facts.Box.Val, p.facts.Box.Err
}
func (p *fakeProbes) KeyFile(ctx context.Context, path string) (KeyInfo, error) {
	p.call(ctx, "key "+path)
	return p.facts.SSHKey.Val, p.facts.SSHKey.Err
}

func (p *fakeProbes) Kernel(ctx context.Context) (string, error) {
	p.call(ctx, "kernel")
	return p.facts.Kernel.Val, p.facts.Kernel.Err
}
func (p *fakeProbes) KVMModule(ctx context.Context) (KVMModule, error) {
	p.call(ctx, "kvm modules")
	return p.facts.KVMModule.Val, p.facts.KVMModule.Err
}
func (p *fakeProbes) SigningKey(ctx context.Context) (SigningKey, error) {
	p.call(ctx, "signing key")
	return p.facts.SigningKey.Val, p.facts.SigningKey.Err
}
func (p *fakeProbes) Now() time.Time { return p.facts.Now }

func TestGatherRunsOnlyWhatTheProviderNeeds(t *testing.T) {
	p := &fakeProbes{facts: healthy()}
	f := Gather(context.Background(), p, target(t), time.Second)
	for _, c := range []string{"plugins", "virsh", "connect qemu:///system"} {
		if slices.Contains(p.calls, c) {
			t.Errorf("virtualbox lab ran the libvirt probe %q", c)
		}
	}
	for _, c := range []string{"vagrant", "vboxmanage", "networks.conf", "key /lab/.cododemo/id_ed25519", "disk /lab/.cododemo"} {
		if !slices.Contains(p.calls, c) {
			t.Errorf("virtualbox lab did not run %q (ran %v)", c, p.calls)
		}
	}
	if f.Libvirt.Ran || !f.VirtualBox.Ran || !f.Ports[8765].Ran {
		t.Errorf("Ran flags wrong: libvirt %v vbox %v port %v", f.Libvirt.Ran, f.VirtualBox.Ran, f.Ports[8765].Ran)
	}
}

// A probe that ignores its context entirely must not hold doctor up: it
// is abandoned shortly after its deadline and reported as timed out.
func TestGatherAbandonsStuckProbe(t *testing.T) {
	p := &fakeProbes{facts: healthy(), block: map[string]bool{"vagrant": true, "memory": true}}
	r := Run(context.Background(), p, target(t), Options{Timeout: 50 * time.Millisecond})
	for _, code := range []string{"CD001", "CD009"} {
		f := find(t, r, code)
		if !strings.Contains(f.Finding, "timed out after 50ms") {
			t.Errorf("%s: %s %q, want a timeout", code, f.Status, f.Finding)
		}
	}
	if f := find(t, r, "CD001"); f.Status != StatusFail {
		t.Errorf("stuck vagrant: %s", f.Status)
	}
	if f := find(t, r, "CD003"); f.Status != StatusOK {
		t.Errorf("one stuck probe spoiled another: CD003 %s %q", f.Status, f.Finding)
	}
}

func TestGatherCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p := &fakeProbes{facts: healthy(), block: map[string]bool{"vagrant": true}}
	f := Gather(ctx, p, target(t), time.Hour)
	if !errors.Is(f.Vagrant.Err, context.Canceled) {
		t.Errorf("cancelled gather: %v", f.Vagrant.Err)
	}
}

func TestReportOutput(t *testing.T) {
	f := healthy()
	f.HostArch = "arm64"
	f.VirtualBox = errResult[VirtualBox](&exec.RunError{Command: "VBoxManage --version",
		Err: &osexec.Error{Name: "VBoxManage", Err: osexec.ErrNotFound}})
	r := Judge(target(t), f)

	var js bytes.Buffer
	if err := WriteJSON(&js, r); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.json", js.Bytes())

	var tb bytes.Buffer
	if err := WriteTable(&tb, r, false, 0); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.txt", tb.Bytes())
	if bytes.Contains(tb.Bytes(), []byte("\x1b[")) {
		t.Error("colour without a terminal")
	}
	tb.Reset()
	if err := WriteTable(&tb, r, true, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(tb.Bytes(), []byte("\x1b[31mFAIL\x1b[0m")) {
		t.Errorf("no colour on a terminal:\n%s", tb.String())
	}
	// Colour takes no room: without its codes, the coloured table is the
	// plain one (the STATUS header was 9 columns off with text/tabwriter).
	plain, _ := os.ReadFile(filepath.Join("..", "..", "testdata", "doctor", "report.txt"))
	if got := termtable.Strip(tb.String()); got != string(plain) {
		t.Errorf("coloured table differs from the plain one once its codes are gone:\n%s", got)
	}
	// On an 80-column terminal every line fits, the fix under its finding.
	tb.Reset()
	if err := WriteTable(&tb, r, true, 80); err != nil {
		t.Fatal(err)
	}
	golden(t, "report-80.txt", []byte(termtable.Strip(tb.String())))
	for _, l := range strings.Split(tb.String(), "\n") {
		if termtable.Width(l) > 80 && len(strings.Fields(l)) > 1 { // a URL alone may run long
			t.Errorf("line of %d columns on an 80-column terminal: %q", termtable.Width(l), l)
		}
	}
}
