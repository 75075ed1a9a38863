package probe

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/cododemo/cododemo/pkg/doctor"
)

func testdata(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "testdata", "doctor", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseVagrantVersion(t *testing.T) {
	v, err := ParseVagrantVersion(testdata(t, "vagrant-version.txt"))
	if err != nil || v != "2.3.4" {
		t.Errorf("got %q, %v", v, err)
	}
	if _, err := ParseVagrantVersion("Usage: vagrant [options]"); err == nil {
		t.Error("garbage parsed")
	}
}

func TestParsePluginList(t *testing.T) {
	for _, tc := range []struct {
		file string
		want []doctor.Plugin
	}{
		{"vagrant-plugin-list-none.txt", nil},
		{"vagrant-plugin-list-debian.txt", []doctor.Plugin{{Name: "vagrant-libvirt", Version: "0.11.2"}}},
		{"vagrant-plugin-list-libvirt.txt", []doctor.Plugin{{Name: "vagrant-libvirt", Version: "0.11.2"}, {Name: "vagrant-vbguest", Version: "0.32.0"}}},
	} {
		got, err := ParsePluginList(testdata(t, tc.file))
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %+v, %v", tc.file, got, err)
		}
	}
	if _, err := ParsePluginList("Vagrant failed to initialize at a very early stage:"); err == nil {
		t.Error("an error message parsed as plugins")
	}
}

func TestParseVBoxVersion(t *testing.T) {
	vb, err := ParseVBoxVersion(testdata(t, "vboxmanage-version.txt"))
	if err != nil || vb.Version != "7.0.14" || len(vb.Warnings) != 0 {
		t.Errorf("plain: %+v, %v", vb, err)
	}
	vb, err = ParseVBoxVersion(testdata(t, "vboxmanage-version-nodriver.txt"))
	if err != nil || vb.Version != "7.0.14" || len(vb.Warnings) == 0 || !strings.Contains(vb.Warnings[0], "vboxdrv kernel module is not loaded") {
		t.Errorf("no driver: %+v, %v", vb, err)
	}
	vb, err = ParseVBoxVersion("7.1.0_BETA1r123\n")
	if err != nil || vb.Version != "7.1.0" {
		t.Errorf("beta: %+v, %v", vb, err)
	}
	if _, err := ParseVBoxVersion("VBoxManage: error: something\n"); err == nil {
		t.Error("error text parsed as a version")
	}
}

func TestParseVirsh(t *testing.T) {
	v, err := ParseVirshVersion(testdata(t, "virsh-version.txt"))
	if err != nil || v != "9.0.0" {
		t.Errorf("virsh --version: %q, %v", v, err)
	}
	u, err := ParseVirshURI(testdata(t, "virsh-uri.txt"))
	if err != nil || u != "qemu:///system" {
		t.Errorf("virsh uri: %q, %v", u, err)
	}
	if _, err := ParseVirshURI("error: failed to connect to the hypervisor\n"); err == nil {
		t.Error("error text parsed as a URI")
	}
}

func TestParseCPUFlags(t *testing.T) {
	if got := ParseCPUFlags(testdata(t, "cpuinfo-amd-no-svm.txt")); got != "" {
		t.Errorf("captured cpuinfo has no svm, got %q", got)
	}
	if got := ParseCPUFlags("processor\t: 0\nflags\t\t: fpu vme vmx sse\n"); got != "vmx" {
		t.Errorf("intel: %q", got)
	}
	if got := ParseCPUFlags("flags\t\t: fpu svm\n"); got != "svm" {
		t.Errorf("amd: %q", got)
	}
	// The word must be a whole flag: "svm_lock" alone is not AMD-V.
	if got := ParseCPUFlags("flags\t\t: fpu svm_lock vmx_ept\n"); got != "" {
		t.Errorf("partial flags matched: %q", got)
	}
}

func TestParseMeminfo(t *testing.T) {
	m, err := ParseMeminfo(testdata(t, "meminfo.txt"))
	if err != nil || m.Available == 0 || m.Total < m.Available {
		t.Errorf("captured meminfo: %+v, %v", m, err)
	}
	m, err = ParseMeminfo("MemTotal:       16000000 kB\nMemFree: 100 kB\nMemAvailable:    8000000 kB\n")
	if err != nil || m.Available != 8000000*1024 || m.Total != 16000000*1024 {
		t.Errorf("%+v, %v", m, err)
	}
	if _, err := ParseMeminfo("MemTotal: 1 kB\n"); err == nil {
		t.Error("no MemAvailable accepted")
	}
}

func TestParseRoutes(t *testing.T) {
	rs, err := ParseRoutes(testdata(t, "route-laptop.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := []doctor.Route{
		{Iface: "wlan0", Dst: netip.MustParsePrefix("0.0.0.0/0")},
		{Iface: "wlan0", Dst: netip.MustParsePrefix("192.168.1.0/24")},
		{Iface: "docker0", Dst: netip.MustParsePrefix("172.17.0.0/16")},
		{Iface: "tun0", Dst: netip.MustParsePrefix("192.168.0.0/16")},
		{Iface: "vboxnet0", Dst: netip.MustParsePrefix("192.168.56.0/24")},
	}
	if !reflect.DeepEqual(rs, want) {
		t.Errorf("got %v\nwant %v", rs, want)
	}
	rs, err = ParseRoutes(testdata(t, "route.txt"))
	if err != nil || len(rs) == 0 {
		t.Errorf("captured routes: %v, %v", rs, err)
	}
}

func TestParseNetworksConf(t *testing.T) {
	got, err := ParseNetworksConf(testdata(t, "networks.conf"))
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.0.0/16")}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, %v", got, err)
	}
	if _, err := ParseNetworksConf("10.0.0.0/8\n"); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("line without * accepted: %v", err)
	}
	if _, err := ParseNetworksConf("* 10.0.0.0/33\n"); err == nil {
		t.Error("bad CIDR accepted")
	}
}

func TestParseVMStat(t *testing.T) {
	out := "Mach Virtual Memory Statistics: (page size of 16384 bytes)\nPages free:                               10.\nPages active:                            99.\nPages inactive:                           20.\nPages speculative:                         5.\n"
	got, err := ParseVMStat(out)
	if err != nil || got != 35*16384 {
		t.Errorf("got %d, %v", got, err)
	}
}

// Fuzz every parser of outside input: none may panic, whatever a tool or
// a kernel prints.
func FuzzParsers(f *testing.F) {
	for _, name := range []string{"vagrant-version.txt", "vagrant-plugin-list-libvirt.txt", "vboxmanage-version-nodriver.txt",
		"virsh-uri.txt", "meminfo.txt", "route-laptop.txt", "networks.conf", "cpuinfo-amd-no-svm.txt"} {
		f.Add(testdata(f, name))
	}
	f.Add("Iface\tDestination\nx\tZZ\t0\t0\t0\t0\t0\tFFFFFFFF\n")
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = ParseVagrantVersion(s)
		_, _ = ParsePluginList(s)
		_, _ = ParseVBoxVersion(s)
		_, _ = ParseVirshVersion(s)
		_, _ = ParseVirshURI(s)
		_ = ParseCPUFlags(s)
		_, _ = ParseMeminfo(s)
		rs, err := ParseRoutes(s)
		for _, r := range rs {
			if err == nil && (!r.Dst.IsValid() || r.Dst != r.Dst.Masked()) {
				t.Fatalf("route %v not a masked prefix", r)
			}
		}
		_, _ = ParseNetworksConf(s)
		_, _ = ParseVMStat(s)
	})
}
