package vagrant

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

var vagrantfileLine = regexp.MustCompile(`Vagrantfile:\d+:`)

// Error is a failure Vagrant explained: its error class, its own message
// and cododemo's advice for it.
type Error struct {
	// Type is Vagrant's error class as printed in error-exit records, such
	// as Vagrant::Errors::SSHNotReady, or one of the classes cododemo
	// recognises from stderr (early failures print no record).
	Type string
	// Message is Vagrant's explanation, unescaped.
	Message string
	// Advice is what to do about it, "" when cododemo has none.
	Advice string
	// Err is the failed command (*exec.RunError), when there was one.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Summary())
	if e.Advice != "" {
		b.WriteString("\nhint: ")
		b.WriteString(e.Advice)
	}
	return b.String()
}

// Summary is Vagrant's explanation on one line with the error class, as
// Error gives it without the advice.
func (e *Error) Summary() string {
	var b strings.Builder
	b.WriteString(firstParagraph(e.Message))
	// A syntax error's location sits in a later paragraph; it is the one
	// line the user needs.
	for _, line := range strings.Split(e.Message, "\n") {
		if m := vagrantfileLine.FindString(line); m != "" && !strings.Contains(b.String(), m) {
			b.WriteString(": ")
			b.WriteString(strings.TrimSpace(line))
			break
		}
	}
	if s := e.Short(); s != "" {
		fmt.Fprintf(&b, " [%s]", s)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Short is the error class without its module path: SSHNotReady.
func (e *Error) Short() string { return shortType(e.Type) }

func shortType(t string) string {
	if i := strings.LastIndex(t, "::"); i >= 0 {
		return t[i+2:]
	}
	return t
}

// IsType says whether err is (or wraps) a Vagrant error of the class whose
// short name is short (SSHNotReady, ProviderNotUsable, ...).
// It looks through errors.Join trees, where errors.As would stop at the
// first node's error.
func IsType(err error, short string) bool {
	switch e := err.(type) {
	case nil:
		return false
	case *Error:
		if e.Short() == short {
			return true
		}
	}
	switch u := err.(type) {
	case interface{ Unwrap() []error }:
		for _, x := range u.Unwrap() {
			if IsType(x, short) {
				return true
			}
		}
	case interface{ Unwrap() error }:
		return IsType(u.Unwrap(), short)
	}
	return false
}

// ErrorFromRecords returns the *Error of the first error-exit record, nil
// when there is none.
func ErrorFromRecords(recs []Record) error {
	for _, r := range recs {
		if r.Type == "error-exit" {
			return NewError(r.Datum(0), r.Datum(1))
		}
	}
	return nil
}

// NewError builds an Error and looks its advice up.
func NewError(typ, msg string) *Error {
	return &Error{Type: typ, Message: strings.TrimSpace(msg), Advice: Advice(typ)}
}

// Advice returns cododemo's advice for a Vagrant error class (full or
// short name), "" when it has none.
func Advice(typ string) string { return advice[shortType(typ)] }

// advice is the one table that turns Vagrant's error classes into plain
// words. Keys are short class names; Vagrant core, its VirtualBox provider
// and vagrant-libvirt share one namespace of short names without clashes.
var advice = map[string]string{
	// The host is missing something.
	"NoDefaultProvider":               "no Vagrant provider works on this machine: install VirtualBox (https://www.virtualbox.org/wiki/Downloads) or, on Linux, libvirt with the vagrant-libvirt plugin; `cododemo doctor` checks both",
	"ProviderNotUsable":               "the lab's provider is not usable here: install it, or choose another with `provider:` in cododemo.yaml (virtualbox or libvirt); `cododemo doctor` says what is missing",
	"ProviderNotFound":                "Vagrant does not know this provider: for libvirt install the vagrant-libvirt plugin (`vagrant plugin install vagrant-libvirt`, or your distribution's package)",
	"VirtualBoxNotDetected":           "VirtualBox is not installed or VBoxManage is not on PATH: install it from https://www.virtualbox.org/wiki/Downloads",
	"VBoxManageNotFoundError":         "VBoxManage is not on PATH: reinstall VirtualBox or add its directory to PATH",
	"VirtualBoxKernelModuleNotLoaded": "VirtualBox's kernel module is not loaded: run `sudo /sbin/vboxconfig` (Linux) or allow the Oracle extension in System Settings (macOS), then retry",
	"VirtualBoxInvalidVersion":        "this VirtualBox version is not supported by this Vagrant: upgrade Vagrant or install a VirtualBox version it lists",
	"VirtualBoxInstallIncomplete":     "the VirtualBox installation is incomplete: reinstall VirtualBox",
	"VirtualBoxInvalidHostSubnet":     "VirtualBox >= 6.1.28 only allows host-only networks in 192.168.56.0/21: set network.cidr inside it, or add the range to /etc/vbox/networks.conf",
	"NetworkAddressInvalid":           "the private network's address is not usable: check network.cidr in cododemo.yaml",
	"NetworkCollision":                "the lab's private network overlaps a network the host already has: choose another network.cidr",
	"VBoxManageError":                 "VirtualBox's VBoxManage failed: often a VM of the same name is left over (remove it in the VirtualBox GUI or run `cododemo destroy -f`), or the network is outside 192.168.56.0/21",
	"VMImportFailure":                 "VirtualBox could not import the box: free disk space, remove half-imported VMs in the VirtualBox GUI, then run `cododemo up` again (it brings up only what is missing)",
	"VMNameExists":                    "a VirtualBox VM with this name already exists: remove it in the VirtualBox GUI, or change `name:` in cododemo.yaml",
	"VirtualBoxNameExists":            "a VirtualBox VM with this name already exists: remove it in the VirtualBox GUI, or change `name:` in cododemo.yaml",
	"VMBootTimeout":                   "the VM did not finish booting in time: its console (the state dir's console/NODE.log) shows how far it came; give it more memory or CPU, then `cododemo up` again",
	"TimeoutError":                    "the node never asked libvirt's DHCP for an address, so it did not boot as far as its network: its console (the state dir's console/NODE.log) shows how far it came; a host short of CPU (software emulation) can be this slow: `cododemo up` again brings up only what is missing",
	"VMBootBadState":                  "the VM stopped while booting: check the hypervisor (VT-x/AMD-V enabled, no other hypervisor holding it), then `cododemo up` again",
	"ForwardPortCollision":            "a forwarded host port is already in use: stop what uses it or change forwarded_ports in cododemo.yaml",
	"DomainNameExists":                "a libvirt domain with this name already exists: `virsh undefine` it, or change `name:` in cododemo.yaml",
	"NoIpAddressError":                "the libvirt domain got no IP address: check that libvirt's network is active (`virsh net-list --all`)",
	"FogLibvirtConnectionError":       "cannot reach libvirtd: start it (`sudo systemctl start libvirtd`) and make sure your user is in the libvirt group",
	"NoStoragePool":                   "libvirt has no storage pool named 'default': create one (`virsh pool-define-as default dir --target /var/lib/libvirt/images && virsh pool-start default`)",
	"CreateNetworkError":              "libvirt could not create the lab's private network: check for a network with the same range (`virsh net-list --all`)",

	// The lab's files.
	"VagrantfileSyntaxError": "the lab's Vagrantfile does not parse: if you use custom templates (--templates) fix them; otherwise run `cododemo render` again and report a bug",
	"VagrantfileLoadError":   "the lab's Vagrantfile failed to load: run `cododemo render` again; with custom templates check them",
	"ConfigInvalid":          "Vagrant rejected a setting in the lab's Vagrantfile: with custom templates check the named setting; otherwise run `cododemo render` again and report a bug",
	"NoEnvironmentError":     "there is no Vagrantfile in the lab's state dir: run `cododemo up` (or `cododemo render`) first",
	"MachineNotFound":        "no node of that name in this lab: `cododemo status` lists them",
	"MultiVMTargetRequired":  "name the node: `cododemo status` lists them",

	// Boxes.
	"BoxNotFound":                       "the box is not installed: run `cododemo box fetch` (or `cododemo bundle import` when the network is slow)",
	"BoxNotFoundWithProvider":           "the box is not installed for this provider: run `cododemo box fetch`",
	"BoxNotFoundWithProviderAndVersion": "the locked box version is not installed: run `cododemo box fetch`",
	"BoxAddNoMatchingProvider":          "the box catalog has no box for this provider (Flatcar publishes virtualbox boxes only): switch provider or use a box built for it",
	"BoxAddNoMatchingVersion":           "the box catalog does not list the locked version: it may have been removed upstream; import a bundle or run `cododemo lock` again",
	"BoxAddShortNotFound":               "the box name is not known locally or in the catalog: run `cododemo box fetch`",
	"BoxAlreadyExists":                  "this box version is already installed: nothing to do (use --force to replace it)",
	"BoxChecksumMismatch":               "the downloaded box does not match its checksum: the download is damaged or tampered with; delete it and fetch again",
	"DownloaderChecksumError":           "the downloaded box does not match its checksum: the download is damaged or tampered with; delete it and fetch again",
	"BoxMetadataDownloadError":          "the box catalog could not be downloaded: check the network or the mirror setting, or import a bundle",
	"DownloaderError":                   "a download failed: check the network or the mirror setting, or import a bundle (`cododemo bundle import`)",
	"BoxUnpackageFailure":               "the box file is not a valid box archive: fetch it again",
	"BoxRemoveNotFound":                 "no such box is installed: `cododemo box list` shows what is",

	// SSH and running machines.
	"SSHNotReady":             "the node is not running or has not booted far enough for SSH: run `cododemo up` and check `cododemo status`",
	"SSHConnectionTimeout":    "the node did not answer SSH in time: it may still be booting; check `cododemo status`",
	"SSHConnectionRefused":    "the node refused SSH: it may still be booting; wait and retry, or `cododemo reload` it",
	"SSHAuthenticationFailed": "SSH rejected the lab's key: the node may have been provisioned by another lab; `cododemo destroy` and `up` again",
	"SSHKeyBadPermissions":    "the lab's private key is readable by others: `chmod 600` it (in the state dir)",
	"VMNotCreatedError":       "the node does not exist yet: run `cododemo up`",
	"VMNotRunningError":       "the node is not running: run `cododemo up`",

	// Concurrency and interruption.
	"EnvironmentLockedError":     "another vagrant command is working on this lab: wait for it to finish (or stop it), then retry",
	"MachineActionLockedError":   "another vagrant command is working on this node: wait for it to finish (or stop it), then retry",
	"MachineLocked":              "the node is locked by another vagrant process: wait for it to finish, then retry",
	"VagrantInterrupt":           "interrupted: run the same command again to continue; `cododemo up` brings up only what is missing",
	"DestroyRequiresForce":       "destroy needs confirmation: use `cododemo destroy -f`",
	"UIExpectsTTY":               "Vagrant wanted to ask a question without a terminal: use -f where the command offers it",
	"HomeDirectoryNotAccessible": "VAGRANT_HOME is not writable: fix its permissions or point VAGRANT_HOME elsewhere",
}

// earlyFailures recognises failures Vagrant prints only to stderr, before
// its machine-readable UI exists (a Vagrantfile that does not parse).
var earlyFailures = []struct{ marker, typ string }{
	{"There is a syntax error in the following Vagrantfile", "Vagrant::Errors::VagrantfileSyntaxError"},
	{"There was an error loading a Vagrantfile", "Vagrant::Errors::VagrantfileLoadError"},
	{"A Vagrant environment or target machine is required", "Vagrant::Errors::NoEnvironmentError"},
}

// ClassifyOutput finds Vagrant's error in the output of a failed command:
// an error-exit record, else a known early failure. nil when neither.
func ClassifyOutput(out string) *Error {
	var ve *Error
	if errors.As(ErrorFromRecords(ParseMachineReadable([]byte(out))), &ve) {
		return ve
	}
	for _, f := range earlyFailures {
		if i := strings.Index(out, f.marker); i >= 0 {
			return NewError(f.typ, out[i:])
		}
	}
	return nil
}

func firstParagraph(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, "\n\n"); i >= 0 {
		s = s[:i]
	}
	return strings.Join(strings.Fields(s), " ")
}
