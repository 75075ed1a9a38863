package vagrant

import (
	"errors"
	"fmt"
	"strings"
)

// Reason is why a node did not come up, in the user's words: the kind of
// failure, whichever of Vagrant, its providers or Ruby reported it.
type Reason int

// Reasons, from the host to the guest.
const (
	ReasonUnknown     Reason = iota
	ReasonBoxMissing         // the box is not installed and could not be added
	ReasonHypervisor         // VirtualBox or libvirt is missing or not working
	ReasonPermission         // the user may not use the hypervisor or a file
	ReasonMemory             // the host is out of memory
	ReasonDisk               // the host is out of disk space
	ReasonBootTimeout        // the machine did not finish booting in time
	ReasonIPTimeout          // the machine never got an IP address
	ReasonSSH                // SSH never answered
	ReasonSSHKey             // SSH answered but refused the lab's key
)

var reasonWords = [...]string{
	ReasonUnknown:     "Vagrant failed",
	ReasonBoxMissing:  "the box is missing: it is not installed and Vagrant could not add it",
	ReasonHypervisor:  "the hypervisor is not usable on this machine",
	ReasonPermission:  "permission denied",
	ReasonMemory:      "the host is out of memory",
	ReasonDisk:        "the host is out of disk space",
	ReasonBootTimeout: "timed out waiting for the machine to boot",
	ReasonIPTimeout:   "timed out waiting for the machine to get an IP address",
	ReasonSSH:         "SSH never answered",
	ReasonSSHKey:      "SSH answered but refused the lab's key",
}

func (r Reason) String() string {
	if r >= 0 && int(r) < len(reasonWords) {
		return reasonWords[r]
	}
	return reasonWords[ReasonUnknown]
}

// Started says whether a failure of this kind happens once the machine
// runs: its console then shows how far it came. For the others the
// console, if any, is an earlier boot's.
func (r Reason) Started() bool {
	switch r {
	case ReasonBootTimeout, ReasonIPTimeout, ReasonSSH, ReasonSSHKey:
		return true
	}
	return false
}

// textReasons are found in the message whatever the error class: the
// host's own errno texts, which libvirt, QEMU, VBoxManage and Ruby all pass
// on. First match wins.
var textReasons = []struct {
	marker string
	reason Reason
}{
	{"cannot allocate memory", ReasonMemory},
	{"out of memory", ReasonMemory},
	{"not enough memory", ReasonMemory},
	{"insufficient memory", ReasonMemory},
	{"no space left on device", ReasonDisk},
	{"not enough free space", ReasonDisk},
	{"disk quota exceeded", ReasonDisk},
	{"could not access kvm kernel module", ReasonHypervisor},
	{"/dev/kvm", ReasonHypervisor},
	{"permission denied", ReasonPermission},
	{"authentication unavailable", ReasonPermission},
	{"access denied", ReasonPermission},
}

// typeReasons maps error classes (short names) to reasons.
var typeReasons = map[string]Reason{
	"BoxNotFound":                       ReasonBoxMissing,
	"BoxNotFoundWithProvider":           ReasonBoxMissing,
	"BoxNotFoundWithProviderAndVersion": ReasonBoxMissing,
	"BoxAddNoMatchingProvider":          ReasonBoxMissing,
	"BoxAddNoMatchingVersion":           ReasonBoxMissing,
	"BoxAddShortNotFound":               ReasonBoxMissing,
	"BoxAddDirectVersion":               ReasonBoxMissing,
	"BoxMetadataDownloadError":          ReasonBoxMissing,
	"BoxUnpackageFailure":               ReasonBoxMissing,
	"BoxChecksumMismatch":               ReasonBoxMissing,
	"DownloaderChecksumError":           ReasonBoxMissing,
	"DownloaderError":                   ReasonBoxMissing,

	"NoDefaultProvider":               ReasonHypervisor,
	"ProviderNotUsable":               ReasonHypervisor,
	"ProviderNotFound":                ReasonHypervisor,
	"VirtualBoxNotDetected":           ReasonHypervisor,
	"VBoxManageNotFoundError":         ReasonHypervisor,
	"VirtualBoxKernelModuleNotLoaded": ReasonHypervisor,
	"VirtualBoxInvalidVersion":        ReasonHypervisor,
	"VirtualBoxInstallIncomplete":     ReasonHypervisor,
	"VBoxManageError":                 ReasonHypervisor,
	"VMBootBadState":                  ReasonHypervisor,
	"FogLibvirtConnectionError":       ReasonHypervisor,
	"NoStoragePool":                   ReasonHypervisor,
	"DomainStartError":                ReasonHypervisor,

	"VMBootTimeout": ReasonBootTimeout,

	"NoIpAddressError": ReasonIPTimeout,
	// fog's wait_for, re-raised by vagrant-libvirt's wait for a DHCP lease.
	"Fog::Errors::TimeoutError": ReasonIPTimeout,

	"SSHConnectionTimeout": ReasonSSH,
	"SSHConnectionRefused": ReasonSSH,
	"SSHConnectionReset":   ReasonSSH,
	"SSHDisconnected":      ReasonSSH,
	"SSHHostDown":          ReasonSSH,
	"SSHNoRoute":           ReasonSSH,
	"SSHNotReady":          ReasonSSH,

	"SSHAuthenticationFailed": ReasonSSHKey,
}

// Classify says why a run failed from the error class (full or short
// name) and message Vagrant or Ruby gave.
func Classify(typ, msg string) Reason {
	r, ok := typeReasons[typ]
	if !ok {
		r = typeReasons[shortType(typ)]
	}
	if r == ReasonSSHKey {
		return r // "permission denied (publickey)" is the key, not the host
	}
	low := strings.ToLower(msg)
	for _, t := range textReasons {
		if strings.Contains(low, t.marker) {
			return t.reason
		}
	}
	return r
}

// Reason classifies the error.
func (e *Error) Reason() Reason { return Classify(e.Type, e.Message) }

// NodeError is one node's failure in a run over several.
type NodeError struct {
	Node string
	// Op is what failed: "vagrant up".
	Op string
	// Phase is how far the node came; PhaseWaiting when unknown.
	Phase Phase
	Err   error
}

func (e *NodeError) Error() string { return fmt.Sprintf("%s: %s: %v", e.Node, e.Op, e.Err) }

func (e *NodeError) Unwrap() error { return e.Err }

// Reason classifies the node's failure: ReasonUnknown when Vagrant did
// not say (or it was not Vagrant's).
func (e *NodeError) Reason() Reason {
	var ve *Error
	if errors.As(e.Err, &ve) {
		return ve.Reason()
	}
	return ReasonUnknown
}

// NodeErrors returns the per-node errors in err (an errors.Join tree).
func NodeErrors(err error) []*NodeError {
	var out []*NodeError
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case nil:
			return
		case *NodeError:
			out = append(out, e)
			return
		case interface{ Unwrap() []error }:
			for _, x := range e.Unwrap() {
				walk(x)
			}
		case interface{ Unwrap() error }:
			walk(e.Unwrap())
		}
	}
	walk(err)
	return out
}
