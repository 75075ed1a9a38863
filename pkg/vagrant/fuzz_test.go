package vagrant

import (
	"io"
	"strings"
	"testing"
)

func addCaptured(f *testing.F, names ...string) {
	for _, n := range names {
		f.Add(testdata(f, n))
	}
}

var capturedCSV = []string{
	"status-libvirt-not-created.csv", "status-no-virtualbox.csv", "status-unknown-machine.csv",
	"status-fake-mixed.csv", "ssh-config-not-ready.csv", "ssh-config-fake.csv", "box-list.csv",
	"up-fake.csv", "validate-config-invalid.csv",
}

func FuzzParseMachineReadable(f *testing.F) {
	addCaptured(f, capturedCSV...)
	f.Add([]byte("1,,ui,info,%!(VAGRANT_COMMA)\\n\\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, r := range ParseMachineReadable(data) {
			if r.Type == "" || r.Time < 0 {
				t.Fatalf("bad record %+v", r)
			}
			for _, d := range r.Data {
				if strings.Contains(d, "%!(VAGRANT_COMMA)") {
					t.Fatalf("escape left in %q", d)
				}
			}
		}
		_, _ = ParseStatus(data)
		_, _ = ParseBoxList(data)
		_, _ = ParseSSHConfigMachineReadable(data)
		if ve := ClassifyOutput(string(data)); ve != nil {
			_ = ve.Error()
		}
	})
}

func FuzzParseSSHConfig(f *testing.F) {
	f.Add(string(testdata(f, "ssh-config-fake.txt")))
	f.Add("Host a\n  HostName=b\n  Port \"22\"\n  IdentityFile \"x\n")
	f.Fuzz(func(t *testing.T, s string) {
		cs, err := ParseSSHConfig(s)
		if err != nil {
			return
		}
		for _, c := range cs {
			if c.Host == "" || c.HostName == "" || c.Port < 1 || c.Port > 65535 {
				t.Fatalf("accepted bad stanza %+v", c)
			}
		}
	})
}

func FuzzParseVersion(f *testing.F) {
	f.Add(string(testdata(f, "version.txt")))
	f.Add("Vagrant 2.4.0.dev\n")
	f.Add("Vagrant -1.2.3")
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseVersion(s)
		if err == nil && (v.Major < 0 || v.Minor < 0 || v.Patch < 0 || v.Raw == "") {
			t.Fatalf("accepted %+v", v)
		}
	})
}

func FuzzLineWriter(f *testing.F) {
	addCaptured(f, "up-fake.csv", "up-fake-import-failure.csv", "up-fake-ip-timeout.csv.stderr")
	f.Fuzz(func(t *testing.T, data []byte) {
		var n int
		lw := &lineWriter{machine: "core-01", out: func(string) io.Writer { return ioDiscard{&n} }}
		_, _ = lw.Write(data)
		lw.Flush()
		if c := lw.Crash(); c != nil && c.Class == "" {
			t.Fatalf("a crash without its class: %+v", c)
		}
	})
}

func FuzzParseCrash(f *testing.F) {
	f.Add(string(testdata(f, "up-fake-ip-timeout.csv.stderr")))
	f.Add(string(testdata(f, "up-fake.csv")))
	f.Add("/a.rb:1:in `x': line one\nline two (Libvirt::Error)\n\tfrom /b.rb:2:in `y'\n")
	f.Fuzz(func(t *testing.T, s string) {
		if c := ParseCrash(s); c != nil && (c.Class == "" || strings.Contains(c.Message, "\tfrom ")) {
			t.Fatalf("ParseCrash(%q) = %+v", s, c)
		}
	})
}

type ioDiscard struct{ n *int }

func (d ioDiscard) Write(p []byte) (int, error) { *d.n += len(p); return len(p), nil }
