package vagrant

import "strings"

// Phase is how far a node has come in a vagrant up (or halt, destroy), as
// read from Vagrant's messages. Phases only move forward in an up, which is
// what the live view shows and what the creation gate waits for.
type Phase int

// Phases in the order `vagrant up` goes through them.
const (
	PhaseWaiting    Phase = iota // not started (waiting for its turn)
	PhaseStarting                // vagrant is loading
	PhaseBox                     // downloading or adding the box
	PhaseImport                  // copying the box into the hypervisor
	PhaseConfigure               // naming, networks, ports, disks
	PhaseBoot                    // VM started, waiting for the OS
	PhaseSSH                     // waiting for SSH
	PhaseSetup                   // hostname, networks, synced folders
	PhaseProvision               // provisioners
	PhaseHalting                 // halt
	PhaseDestroying              // destroy
	PhaseDone                    // the command finished
	PhaseFailed                  // the command failed
)

var phaseNames = [...]string{"waiting", "starting", "box", "import", "configure", "boot", "ssh", "setup", "provision", "halting", "destroying", "done", "failed"}

func (p Phase) String() string {
	if p >= 0 && int(p) < len(phaseNames) {
		return phaseNames[p]
	}
	return "unknown"
}

// phaseMarkers maps message fragments of Vagrant 2.3 core, its VirtualBox
// provider and vagrant-libvirt 0.11 to phases. First match wins, so more
// specific fragments come first.
var phaseMarkers = []struct {
	marker string
	phase  Phase
}{
	{"Box '", PhaseBox}, // Box 'x' could not be found. Attempting to find and install...
	{"Adding box", PhaseBox},
	{"Downloading:", PhaseBox},
	{"Loading metadata for box", PhaseBox},
	{"Successfully added box", PhaseBox},
	{"Importing base box", PhaseImport},                              // virtualbox
	{"Uploading base box image as volume", PhaseImport},              // libvirt
	{"Checking if box", PhaseStarting},                               // update check
	{"Matching MAC address", PhaseConfigure},                         // virtualbox, after import
	{"Setting the name of the VM", PhaseConfigure},                   // virtualbox
	{"Clearing any previously set", PhaseConfigure},                  // virtualbox
	{"Preparing network interfaces", PhaseConfigure},                 // virtualbox
	{"Forwarding ports", PhaseConfigure},                             // both
	{"Running 'pre-boot' VM customizations", PhaseConfigure},         // virtualbox
	{"Creating image (snapshot of base box volume)", PhaseConfigure}, // libvirt
	{"Creating domain with the following settings", PhaseConfigure},  // libvirt
	{"Booting VM", PhaseBoot},                                        // virtualbox
	{"Starting domain", PhaseBoot},                                   // libvirt
	{"Waiting for domain to get an IP address", PhaseBoot},           // libvirt
	{"Resuming suspended VM", PhaseBoot},
	{"Waiting for machine to boot", PhaseSSH},
	{"SSH address:", PhaseSSH},
	{"Machine booted and ready", PhaseSetup},
	{"Setting hostname", PhaseSetup},
	{"Configuring and enabling network interfaces", PhaseSetup},
	{"Rsyncing folder", PhaseSetup},
	{"Mounting shared folders", PhaseSetup},
	{"Installing rsync", PhaseSetup},
	{"Running provisioner", PhaseProvision},
	{"Machine not provisioned because `--no-provision`", PhaseProvision},
	{"Machine already provisioned", PhaseProvision},
	{"Attempting graceful shutdown", PhaseHalting},
	{"Halting domain", PhaseHalting},
	{"Forcing shutdown of VM", PhaseHalting},
	{"Destroying VM and associated drives", PhaseDestroying}, // virtualbox
	{"Removing domain", PhaseDestroying},                     // libvirt
	{"Deleting the machine folder", PhaseDestroying},
}

// PhaseOf classifies one human message line; ok is false for lines that
// say nothing about progress.
func PhaseOf(msg string) (Phase, bool) {
	for _, m := range phaseMarkers {
		if strings.Contains(msg, m.marker) {
			return m.phase, true
		}
	}
	return 0, false
}
