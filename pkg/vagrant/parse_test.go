package vagrant

import (
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// testdata returns a file captured from the real vagrant by
// testdata/vagrant/capture.sh.
func testdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "vagrant", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseRecordEscapes(t *testing.T) {
	r, ok := ParseRecord(`1795791643,core-01,ui,info,a%!(VAGRANT_COMMA) b\nc,extra`)
	if !ok {
		t.Fatal("not a record")
	}
	want := Record{Time: 1795791643, Target: "core-01", Type: "ui", Data: []string{"info", "a, b\nc", "extra"}}
	if !reflect.DeepEqual(r, want) {
		t.Fatalf("got %#v, want %#v", r, want)
	}
	for _, bad := range []string{"", "Host core-01", "  HostName 127.0.0.1", "abc,core-01,state", "12,core-01", "12,core-01,", "+1,a,b", "-1,a,b"} {
		if _, ok := ParseRecord(bad); ok {
			t.Errorf("%q parsed as a record", bad)
		}
	}
}

func TestParseStatusNotCreated(t *testing.T) {
	ms, err := ParseStatus(testdata(t, "status-libvirt-not-created.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 3 {
		t.Fatalf("got %d machines: %+v", len(ms), ms)
	}
	for i, m := range ms {
		want := Machine{Name: []string{"core-01", "core-02", "core-03"}[i], Provider: "libvirt", State: StateNotCreated,
			Short: "not created", Long: "The Libvirt domain is not created. Run `vagrant up` to create it."}
		if m != want {
			t.Errorf("machine %d: got %+v, want %+v", i, m, want)
		}
		if m.State.Created() || m.State.Running() {
			t.Errorf("%s: not_created reads as created or running", m.Name)
		}
	}
}

func TestParseStatusMixed(t *testing.T) {
	ms, err := ParseStatus(testdata(t, "status-fake-mixed.csv"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]State{}
	for _, m := range ms {
		got[m.Name] = m.State
	}
	if !reflect.DeepEqual(got, map[string]State{"core-01": StateRunning, "core-02": StatePoweroff}) {
		t.Fatalf("got %v", got)
	}
	if miss := Missing(ms, nil); !reflect.DeepEqual(miss, []string{"core-02"}) {
		t.Fatalf("Missing = %v", miss)
	}
}

func TestParseStatusErrors(t *testing.T) {
	for file, short := range map[string]string{
		"status-no-virtualbox.csv":   "ProviderNotUsable",
		"status-unknown-machine.csv": "MachineNotFound",
		"ssh-config-not-ready.csv":   "SSHNotReady",
	} {
		_, err := ParseStatus(testdata(t, file))
		if !IsType(err, short) {
			t.Errorf("%s: got %v, want %s", file, err, short)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, "hint: ") || strings.Contains(msg, "VAGRANT_COMMA") || strings.Contains(msg, `\n`) {
			t.Errorf("%s: message not plain or without advice:\n%s", file, msg)
		}
	}
}

func TestProviderNotUsableMessage(t *testing.T) {
	_, err := ParseStatus(testdata(t, "status-no-virtualbox.csv"))
	want := "The provider 'virtualbox' that was requested to back the machine 'core-01' is reporting that it isn't usable on this system. The reason is shown below: [ProviderNotUsable]\nhint: " + Advice("ProviderNotUsable")
	if err == nil || err.Error() != want {
		t.Fatalf("got\n%v\nwant\n%s", err, want)
	}
}

func TestParseSSHConfigCaptured(t *testing.T) {
	want := []SSHConfig{
		{Host: "core-01", HostName: "127.0.0.1", User: "core", Port: 2222},
		{Host: "core-02", HostName: "127.0.0.1", User: "core", Port: 2200},
	}
	plain, err := ParseSSHConfig(string(testdata(t, "ssh-config-fake.txt")))
	if err != nil {
		t.Fatal(err)
	}
	mr, err := ParseSSHConfigMachineReadable(testdata(t, "ssh-config-fake.csv"))
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string][]SSHConfig{"plain": plain, "machine-readable": mr} {
		if len(got) != len(want) {
			t.Fatalf("%s: got %d hosts, want 2", name, len(got))
		}
		for i, c := range got {
			w := want[i]
			if c.Host != w.Host || c.HostName != w.HostName || c.User != w.User || c.Port != w.Port {
				t.Errorf("%s: host %d: got %+v", name, i, c)
			}
			if !reflect.DeepEqual(c.IdentityFiles, []string{"/home/user/lab/.cododemo/id_ed25519", "/home/user/my lab/key"}) {
				t.Errorf("%s: identity files %q", name, c.IdentityFiles)
			}
			if c.StrictHostKeyChecking || !c.IdentitiesOnly || c.UserKnownHostsFile != "/dev/null" || c.Options["loglevel"] != "FATAL" {
				t.Errorf("%s: options %+v", name, c)
			}
		}
	}
}

func TestParseSSHConfigNotReady(t *testing.T) {
	_, err := ParseSSHConfigMachineReadable(testdata(t, "ssh-config-not-ready.csv"))
	if !IsType(err, "SSHNotReady") {
		t.Fatalf("got %v", err)
	}
}

func TestParseSSHConfigBad(t *testing.T) {
	for in, want := range map[string]string{
		"HostName x\n":                       "before any Host",
		"Host a\n  Port 99999\n  HostName x": "bad Port",
		"Host a\n  User core\n":              "has no HostName",
		"Host\n":                             "Host without a name",
	} {
		if _, err := ParseSSHConfig(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", in, err, want)
		}
	}
	got, err := ParseSSHConfig("Host a\n  hostname=10.0.0.1\n  PORT 2200\n")
	if err != nil || got[0].HostName != "10.0.0.1" || got[0].Port != 2200 {
		t.Fatalf("keyword case and '=': %+v %v", got, err)
	}
}

func TestParseVersion(t *testing.T) {
	v, err := ParseVersion(string(testdata(t, "version.txt")))
	if err != nil {
		t.Fatal(err)
	}
	if v.Raw != "2.3.4" || v.Major != 2 || v.Minor != 3 || v.Patch != 4 {
		t.Fatalf("got %+v", v)
	}
	if !v.AtLeast(2, 3, 0) || v.AtLeast(2, 4, 0) || !v.AtLeast(1, 9, 9) || v.AtLeast(3, 0, 0) {
		t.Fatal("AtLeast")
	}
	v, err = ParseVersion("==> vagrant: A new version of Vagrant is available: 2.4.1\nVagrant 2.4.0.dev\n")
	if err != nil || v.Raw != "2.4.0.dev" || v.Minor != 4 {
		t.Fatalf("with notice: %+v %v", v, err)
	}
	if _, err := ParseVersion("command not found"); err == nil {
		t.Fatal("no error for garbage")
	}
}

func TestParseBoxList(t *testing.T) {
	boxes, err := ParseBoxList(testdata(t, "box-list.csv"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Box{{"cododemo/test", "libvirt", "1.0.0"}, {"cododemo/test", "libvirt", "1.1.0"}}
	if !reflect.DeepEqual(boxes, want) {
		t.Fatalf("got %+v", boxes)
	}
	boxes, err = ParseBoxList(testdata(t, "box-list-empty.csv"))
	if err != nil || len(boxes) != 0 {
		t.Fatalf("empty: %+v %v", boxes, err)
	}
}

func TestClassifyCaptured(t *testing.T) {
	syntax := string(testdata(t, "validate-syntax-error.txt.stderr"))
	ve := ClassifyOutput(syntax)
	if ve == nil || ve.Short() != "VagrantfileSyntaxError" {
		t.Fatalf("syntax error: %+v", ve)
	}
	if msg := ve.Error(); !strings.Contains(msg, "Vagrantfile:6: syntax error, unexpected end-of-input") || !strings.Contains(msg, "hint: ") {
		t.Fatalf("syntax error message lacks the location or advice:\n%s", msg)
	}
	ve = ClassifyOutput(string(testdata(t, "validate-config-invalid.csv")))
	if ve == nil || ve.Short() != "ConfigInvalid" || !strings.Contains(ve.Message, "bogus_setting") {
		t.Fatalf("config invalid: %+v", ve)
	}
	ve = ClassifyOutput(string(testdata(t, "up-fake-import-failure.csv")))
	if ve == nil || ve.Short() != "VMImportFailure" || ve.Advice == "" {
		t.Fatalf("import failure: %+v", ve)
	}
	if ClassifyOutput(string(testdata(t, "validate-ok.txt"))) != nil {
		t.Fatal("validate ok classified as an error")
	}
}

// Every error class the advice table names must be a real Vagrant or
// provider class; the check keeps typos out of the table.
func TestAdviceTableNames(t *testing.T) {
	for k, v := range advice {
		if strings.Contains(k, ":") || v == "" || strings.HasSuffix(v, ".") {
			t.Errorf("%s: bad entry %q", k, v)
		}
	}
	for _, short := range []string{"NoDefaultProvider", "ProviderNotUsable", "SSHNotReady", "VagrantfileSyntaxError", "BoxNotFound", "VBoxManageError", "ConfigInvalid"} {
		if Advice("Vagrant::Errors::"+short) == "" {
			t.Errorf("%s has no advice", short)
		}
	}
}

func TestLineWriterRoutesCapturedUp(t *testing.T) {
	var got = map[string]*strings.Builder{}
	out := func(m string) *strings.Builder {
		if got[m] == nil {
			got[m] = &strings.Builder{}
		}
		return got[m]
	}
	lw := &lineWriter{out: func(m string) io.Writer { return out(m) }}
	data := testdata(t, "up-fake.csv")
	// Odd chunk sizes: lines arrive split across writes.
	for i := 0; i < len(data); i += 7 {
		_, _ = lw.Write(data[i:min(i+7, len(data))])
	}
	lw.Flush()
	want01 := "Importing base box 'cododemo-test'...\nMatching MAC address for NAT networking...\nBooting VM...\nWaiting for machine to boot. This may take a few minutes...\nMachine booted and ready!\n"
	if got["core-01"].String() != want01 {
		t.Fatalf("core-01:\n%s", got["core-01"])
	}
	if !strings.Contains(got[""].String(), "Bringing machine 'core-02' up") {
		t.Fatalf("lab lines: %q", got[""])
	}
}
