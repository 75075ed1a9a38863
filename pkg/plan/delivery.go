package plan

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/cododemo/cododemo/pkg/config"
)

// Delivery is how a node's first-boot configuration reaches it. Which one
// works depends on the box's generation and the provider (FACTS: "Flatcar
// box generations"); render, the Vagrantfile and up all follow this one
// decision.
type Delivery string

const (
	// GuestProperty: VirtualBox, Flatcar 4722 and later. Ignition reads the
	// /Ignition/Config guest property through /dev/vboxguest; VirtualBox
	// keeps at most 1024 bytes there, so the node gets a pointer config to
	// its full config on the first-boot server, verified by hash.
	GuestProperty Delivery = "ignition-guest-property"
	// FwCfg: QEMU/libvirt, every Flatcar version. Ignition reads fw_cfg
	// opt/org.flatcar-linux/config; no size limit.
	FwCfg Delivery = "ignition-fw-cfg"
	// Upload: cloud-config, for boxes whose Ignition cannot be reached
	// (VirtualBox before 4722: no vboxguest driver). Vagrant logs in with
	// its insecure key (the only one the box authorises), uploads the
	// node's user-data and moves it to the path the box's OEM watches
	// (UploadPath); coreos-cloudinit then installs the lab key in place of
	// the insecure one and configures the node.
	Upload Delivery = "cloud-config-upload"
)

// Format is the config format a delivery carries.
func (d Delivery) Format() string {
	if d == Upload {
		return "cloud-config"
	}
	return "ignition"
}

// VBoxGuestMajor is the first Flatcar major release whose kernel has the
// vboxguest driver (CONFIG_VBOXGUEST=m, flatcar/scripts 23f39ca4b0) and so
// the first whose Ignition reads the VirtualBox guest property.
const VBoxGuestMajor = 4722

// Upload paths: the file the box's OEM path unit waits for. Flatcar's
// oem-vagrant cloud-config starts coreos-cloudinit-vagrant-user.path
// (PathExists=/var/lib/flatcar-vagrant/vagrantfile-user-data); CoreOS
// Container Linux boxes watched /var/lib/coreos-vagrant the same way.
const (
	FlatcarUploadPath = "/var/lib/flatcar-vagrant/vagrantfile-user-data"
	CoreOSUploadPath  = "/var/lib/coreos-vagrant/vagrantfile-user-data"
)

// assumedMajor is each channel's major release when no exact version is
// known (no lock, version: current), as of the FACTS snapshot (2026-08).
// Only its side of VBoxGuestMajor matters; `cododemo lock` replaces the
// assumption with the exact version.
var assumedMajor = map[string]int{"alpha": 4790, "beta": 4757, "stable": 4593, "lts": 4081}

// Provisioning is the plan's one first-boot decision, made from the exact
// (locked) version and the provider.
type Provisioning struct {
	Delivery Delivery
	// Format is Delivery.Format(): what the lab renders per node.
	Format string
	// UploadPath is where the Upload delivery puts user-data on the node.
	UploadPath string
	// Version is the exact release the decision was made from, "" when
	// it was assumed from the channel (or unknown: a box of the user's).
	Version string
	// Generation names the box generation in user words, e.g. "4593.2.5
	// (before 4722: no vboxguest)".
	Generation string
	// Assumed says the generation came from the channel, not an exact
	// version: render says so.
	Assumed bool
	// Why explains the decision in one sentence.
	Why string
}

// GenerationError is an explicit format the box cannot read.
type GenerationError struct {
	Version string
	Msg     string
}

func (e *GenerationError) Error() string { return e.Msg }

// decideProvisioning picks the delivery. version is the exact release when
// known (lock, or an exact version: in the lab), "" otherwise.
func decideProvisioning(lab config.Lab, version string) (Provisioning, error) {
	if lab.Distro == "coreos" {
		// Legacy Container Linux boxes never read Ignition from Vagrant;
		// config.Validate refuses format: ignition for them.
		return Provisioning{Delivery: Upload, Format: "cloud-config", UploadPath: CoreOSUploadPath,
			Generation: "CoreOS Container Linux", Why: "CoreOS Container Linux boxes read only cloud-config"}, nil
	}
	pr := Provisioning{UploadPath: FlatcarUploadPath, Version: version}
	major, known := majorOf(version)
	if !known && lab.Box.Name == "" {
		major, known = assumedMajor[lab.Channel], false
		pr.Assumed = true
	}
	gen := func(m int) string {
		if m >= VBoxGuestMajor {
			return fmt.Sprintf("%d and later: vboxguest", VBoxGuestMajor)
		}
		return fmt.Sprintf("before %d: no vboxguest", VBoxGuestMajor)
	}
	switch {
	case version != "":
		pr.Generation = fmt.Sprintf("%s (%s)", version, gen(major))
	case pr.Assumed:
		pr.Generation = fmt.Sprintf("Flatcar %s assumed to be %d.x (%s)", lab.Channel, major, gen(major))
	default:
		pr.Generation = "unknown (box " + lab.Box.Name + ")"
	}

	if lab.Provider == "libvirt" {
		if lab.Format == "cloud-config" {
			// An explicit choice: the stable box's upload route, on any
			// Flatcar (and the e2e stand-in of a stable box).
			pr.Delivery, pr.Why = Upload, "format: cloud-config asks for it: uploaded after boot over SSH"
		} else {
			pr.Delivery, pr.Why = FwCfg, "libvirt hands Ignition to every Flatcar version through QEMU's fw_cfg"
		}
		pr.Format = pr.Delivery.Format()
		return pr, nil
	}

	canReadProperty := major >= VBoxGuestMajor
	switch lab.Format {
	case "cloud-config":
		pr.Delivery, pr.Why = Upload, "format: cloud-config asks for it: uploaded after boot over SSH"
	case "ignition":
		if !canReadProperty && (known || pr.Assumed) {
			what := "Flatcar " + version
			if pr.Assumed {
				what = fmt.Sprintf("Flatcar %s (assumed %d.x: no lock yet)", lab.Channel, major)
			}
			err := &GenerationError{Version: version, Msg: fmt.Sprintf(
				"format: ignition: %s on VirtualBox cannot read Ignition: releases before %d have no vboxguest driver, "+
					"so Ignition never sees the /Ignition/Config guest property and the node boots unconfigured; "+
					"fix: remove format (auto gives this box cloud-config), or use a %d+ release (channel alpha or beta), or provider: libvirt",
				what, VBoxGuestMajor, VBoxGuestMajor)}
			if known {
				return pr, err
			}
			// Only assumed: `cododemo lock` (which up runs) turns this into
			// the error above if the exact version is old.
			pr.Why = "format: ignition asks for it; warning: " + err.Msg
		} else {
			pr.Why = "format: ignition asks for it: a pointer config through the guest property"
		}
		pr.Delivery = GuestProperty
	default: // auto
		if !known && !pr.Assumed {
			// A box of the user's with no exact version: Ignition, as
			// every custom box cododemo knows of (the e2e box) reads it.
			pr.Delivery, pr.Why = GuestProperty, "a box of your own with no exact version: Ignition through the guest property (set format: cloud-config for an older box)"
		} else if canReadProperty {
			pr.Delivery, pr.Why = GuestProperty, fmt.Sprintf("Flatcar %d and later read Ignition from the guest property (a pointer config to the full one)", VBoxGuestMajor)
		} else {
			pr.Delivery, pr.Why = Upload, fmt.Sprintf("Flatcar before %d has no vboxguest driver, so Ignition cannot read the guest property", VBoxGuestMajor)
		}
	}
	pr.Format = pr.Delivery.Format()
	return pr, nil
}

// majorOf returns the major release of an exact version such as 4593.2.5.
func majorOf(v string) (int, bool) {
	head, _, _ := strings.Cut(v, ".")
	n, err := strconv.Atoi(head)
	if err != nil || n <= 0 {
		return 0, false
	}
	return n, true
}

// String says in user words how the config reaches the node.
func (d Delivery) String() string {
	switch d {
	case GuestProperty:
		return "Ignition through the /Ignition/Config guest property"
	case FwCfg:
		return "Ignition through QEMU's fw_cfg"
	case Upload:
		return "cloud-config uploaded over SSH after boot"
	}
	return string(d)
}
