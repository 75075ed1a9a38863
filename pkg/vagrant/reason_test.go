package vagrant

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/cododemo/cododemo/pkg/exec"
)

// Each captured failure of a real vagrant (testdata/vagrant/capture.sh)
// gets its reason in plain words.
func TestReasonOfCaptured(t *testing.T) {
	tests := []struct {
		file   string
		typ    string
		reason Reason
	}{
		{"up-box-missing.csv", "DownloaderError", ReasonBoxMissing},
		{"up-libvirt-unreachable.csv", "FogLibvirtConnectionError", ReasonHypervisor},
		{"up-fake-domain-start.csv", "DomainStartError", ReasonMemory},
		{"up-fake-boot-timeout.csv", "VMBootTimeout", ReasonBootTimeout},
		{"up-fake-import-failure.csv", "VMImportFailure", ReasonUnknown},
		{"ssh-config-not-ready.csv", "SSHNotReady", ReasonSSH},
		{"status-no-virtualbox.csv", "ProviderNotUsable", ReasonHypervisor},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			ve := ClassifyOutput(string(testdata(t, tt.file)))
			if ve == nil || ve.Short() != tt.typ {
				t.Fatalf("ClassifyOutput = %v, want a %s", ve, tt.typ)
			}
			if got := ve.Reason(); got != tt.reason {
				t.Errorf("reason %q, want %q", got, tt.reason)
			}
		})
	}
}

// vagrant-libvirt's wait for an IP address dies of fog's timeout, which
// Vagrant does not catch: no error-exit record, only a Ruby backtrace on
// stderr. The failure is still classified, from the exception alone.
func TestClassifyRubyCrash(t *testing.T) {
	stderr := string(testdata(t, "up-fake-ip-timeout.csv.stderr"))
	c := ParseCrash(stderr)
	if c == nil || c.Class != "Fog::Errors::TimeoutError" || c.Message != "The specified wait_for timeout (0 seconds) was exceeded" {
		t.Fatalf("ParseCrash = %+v", c)
	}
	run := &exec.RunError{Command: "vagrant up", Output: stderr, Err: errors.New("exit status 1")}
	err := classify(run, testdata(t, "up-fake-ip-timeout.csv"), nil)
	var ve *Error
	if !errors.As(err, &ve) || ve.Reason() != ReasonIPTimeout {
		t.Fatalf("classify = %v", err)
	}
	if strings.Contains(err.Error(), "warden.rb") || !strings.Contains(err.Error(), "[TimeoutError]") {
		t.Errorf("the error carries the backtrace or lacks the class:\n%v", err)
	}
	if !errors.Is(err, run) {
		t.Error("the failed command is not wrapped")
	}
}

func TestParseCrashForms(t *testing.T) {
	tests := []struct{ name, in, class, msg string }{
		{"ruby 3.4 quotes", "/g/lib/x.rb:3:in 'Libvirt::Connect#lookup': Call to virDomainLookup failed (Libvirt::RetrieveError)\n\tfrom /g/lib/y.rb:1:in 'call'\n",
			"Libvirt::RetrieveError", "Call to virDomainLookup failed"},
		{"message of several lines", "/g/lib/x.rb:3:in `start': Call to virDomainCreateWithFlags failed: internal error:\nqemu: cannot set up guest memory 'pc.ram': Cannot allocate memory (Libvirt::Error)\n\tfrom /g/lib/y.rb:1:in `call'\n",
			"Libvirt::Error", "Call to virDomainCreateWithFlags failed: internal error:\nqemu: cannot set up guest memory 'pc.ram': Cannot allocate memory"},
		{"after other lines", "INFO something\n/g/a.rb:1:in `x': boom (RuntimeError)\n", "RuntimeError", "boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ParseCrash(tt.in)
			if c == nil || c.Class != tt.class || c.Message != tt.msg {
				t.Fatalf("ParseCrash = %+v, want %s %q", c, tt.class, tt.msg)
			}
		})
	}
	for _, in := range []string{"", "Bringing machine 'core-01' up...", "==> core-01: Booting VM...\n", "a.rb:1: warning: already initialized constant X"} {
		if c := ParseCrash(in); c != nil {
			t.Errorf("ParseCrash(%q) = %+v, want none", in, c)
		}
	}
}

func TestClassifyText(t *testing.T) {
	tests := []struct {
		typ, msg string
		want     Reason
	}{
		{"VBoxManageError", "VBoxManage: error: ... VERR_DISK_FULL: No space left on device", ReasonDisk},
		{"DomainStartError", "Failed to start domain: Could not access KVM kernel module: No such file or directory", ReasonHypervisor},
		{"FogLibvirtConnectionError", "Call to virConnectOpen failed: Failed to connect socket to '/var/run/libvirt/libvirt-sock': Permission denied", ReasonPermission},
		{"SSHAuthenticationFailed", "SSH authentication failed! Permission denied (publickey).", ReasonSSHKey},
		{"SSHConnectionTimeout", "Vagrant timed out while attempting to connect via SSH.", ReasonSSH},
		{"Vagrant::Errors::NoSuchClass", "", ReasonUnknown},
	}
	for _, tt := range tests {
		if got := Classify(tt.typ, tt.msg); got != tt.want {
			t.Errorf("Classify(%s, %q) = %q, want %q", tt.typ, tt.msg, got, tt.want)
		}
	}
}

// logOnly is an Output writer that also keeps a log.
type logOnly struct{ shown, log io.Writer }

func (l logOnly) Write(p []byte) (int, error) { l.log.Write(p); return l.shown.Write(p) }
func (l logOnly) LogOnly() io.Writer          { return l.log }

// The backtrace of a crash reaches the log, not the screen; the lines
// before it are shown as usual.
func TestLineWriterKeepsBacktraceInLog(t *testing.T) {
	shown, log := &bytes.Buffer{}, &bytes.Buffer{}
	lw := &lineWriter{out: func(string) io.Writer { return logOnly{shown, log} }, machine: "core-02"}
	_, _ = lw.Write(testdata(t, "up-fake-ip-timeout.csv"))
	_, _ = lw.Write(testdata(t, "up-fake-ip-timeout.csv.stderr"))
	lw.Flush()
	if !strings.Contains(shown.String(), "Waiting for domain to get an IP address...") {
		t.Errorf("the progress lines are not shown:\n%s", shown)
	}
	if strings.Contains(shown.String(), ".rb:") {
		t.Errorf("backtrace shown:\n%s", shown)
	}
	if n := strings.Count(log.String(), "\tfrom "); n != 14 {
		t.Errorf("the log has %d frames, want 14:\n%s", n, log)
	}
	if c := lw.Crash(); c == nil || c.Class != "Fog::Errors::TimeoutError" {
		t.Errorf("crash %+v", c)
	}
}
