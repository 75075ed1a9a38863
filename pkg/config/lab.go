// Package config defines the lab's configuration (Lab), loads it from
// cododemo.yaml, CODODEMO_* environment variables and flags, and validates
// it with errors that name the key and where it was set (file:line:col,
// variable or flag).
package config

// Lab is the typed configuration of one lab. Every field's yaml tag is its
// key in the file, from which its CODODEMO_* variable is named too. (The
// mapstructure tags, the same names, are left from an earlier loader.)
type Lab struct {
	// Name identifies the lab; it prefixes VM names so two labs coexist.
	Name string `yaml:"name" mapstructure:"name"`
	// Distro is flatcar (default) or coreos (legacy boxes from a local cache).
	Distro string `yaml:"distro" mapstructure:"distro"`
	// Channel is alpha, beta, stable or lts (flatcar only).
	Channel string `yaml:"channel" mapstructure:"channel"`
	// Version is "current" or an exact release such as 4593.2.5.
	Version string `yaml:"version" mapstructure:"version"`
	// Arch is the box architecture: amd64 or arm64.
	Arch string `yaml:"arch" mapstructure:"arch"`
	// Provider is the Vagrant provider: virtualbox (default) or libvirt.
	Provider string `yaml:"provider" mapstructure:"provider"`
	// Format is the first-boot provisioning: auto (decided per box
	// generation and provider by the plan), ignition or cloud-config.
	Format string `yaml:"format" mapstructure:"format"`
	// StateDir holds the rendered Vagrantfile, node configs, keys and logs,
	// relative to the config file's directory.
	StateDir string `yaml:"state_dir" mapstructure:"state_dir"`
	// Templates overrides the embedded templates with a directory.
	Templates string `yaml:"templates" mapstructure:"templates"`
	// Mirror replaces the release server's base URL (a room's local mirror).
	Mirror string `yaml:"mirror" mapstructure:"mirror"`

	// Box overrides the Vagrant box (a custom or legacy box already in
	// Vagrant, or at a URL): nothing is resolved or locked for it.
	Box BoxOverride `yaml:"box" mapstructure:"box"`

	Nodes         Nodes          `yaml:"nodes" mapstructure:"nodes"`
	Network       Network        `yaml:"network" mapstructure:"network"`
	Etcd          Etcd           `yaml:"etcd" mapstructure:"etcd"`
	Fleet         Fleet          `yaml:"fleet" mapstructure:"fleet"`
	Docker        Docker         `yaml:"docker" mapstructure:"docker"`
	Kit           Kit            `yaml:"kit" mapstructure:"kit"`
	Updates       Updates        `yaml:"updates" mapstructure:"updates"`
	FirstBoot     FirstBoot      `yaml:"first_boot" mapstructure:"first_boot"`
	Libvirt       Libvirt        `yaml:"libvirt" mapstructure:"libvirt"`
	ForwardPorts  []ForwardPort  `yaml:"forwarded_ports" mapstructure:"forwarded_ports"`
	SharedFolders []SharedFolder `yaml:"shared_folders" mapstructure:"shared_folders"`
}

// BoxOverride names a box of the user's choosing.
type BoxOverride struct {
	Name string `yaml:"name" mapstructure:"name"`
	// URL is a catalog or .box Vagrant adds the box from when missing.
	URL string `yaml:"url" mapstructure:"url"`
}

// Nodes sizes the cluster.
type Nodes struct {
	Count  int    `yaml:"count" mapstructure:"count"`
	Prefix string `yaml:"prefix" mapstructure:"prefix"`
	CPUs   int    `yaml:"cpus" mapstructure:"cpus"`
	Memory int    `yaml:"memory" mapstructure:"memory"` // MiB
}

// Network is the private network the nodes share.
type Network struct {
	// CIDR of the private network; VirtualBox >= 6.1.28 allows only
	// 192.168.56.0/21 unless /etc/vbox/networks.conf says otherwise.
	CIDR string `yaml:"cidr" mapstructure:"cidr"`
	// FirstHost is the host number of the first node (core-01 gets .101).
	FirstHost int `yaml:"first_host" mapstructure:"first_host"`
}

// Etcd configures the etcd member on each node.
type Etcd struct {
	Enabled    bool `yaml:"enabled" mapstructure:"enabled"`
	ClientPort int  `yaml:"client_port" mapstructure:"client_port"`
	PeerPort   int  `yaml:"peer_port" mapstructure:"peer_port"`
	// ImageTag is etcd's version: the container Flatcar's etcd-wrapper
	// runs (from: box), and the release tarball cododemo serves (from:
	// release).
	ImageTag string `yaml:"image_tag" mapstructure:"image_tag"`
	// From says where a Flatcar node's etcd comes from: release (etcd's
	// upstream tarball, served by cododemo at first boot and verified by
	// Ignition: no internet inside the VMs) or box (whatever
	// etcd-member.service the box has; Flatcar's pulls a container image).
	From string `yaml:"from" mapstructure:"from"`
	// ReleaseSHA256 replaces cododemo's built-in pin of the release
	// tarball: for a mirror serving a tarball of the user's own build.
	ReleaseSHA256 string `yaml:"release_sha256" mapstructure:"release_sha256"`
}

// EtcdSources are the values of etcd.from.
var EtcdSources = []string{"release", "box"}

// EtcdFromRelease says whether the nodes install etcd from the release
// tarball cododemo serves. Legacy CoreOS boxes run their built-in etcd2.
func (l Lab) EtcdFromRelease() bool {
	return l.Etcd.Enabled && l.Etcd.From == "release" && l.Distro == "flatcar"
}

// Fleet configures fleet, which the classic demo uses to schedule units.
type Fleet struct {
	Enabled bool   `yaml:"enabled" mapstructure:"enabled"`
	Version string `yaml:"version" mapstructure:"version"`
}

// Docker says whether the lab uses Docker and configures its TCP socket.
type Docker struct {
	// Enabled: every node runs Docker (Flatcar always does) and verify
	// checks it. Off for a custom box without Docker.
	Enabled bool `yaml:"enabled" mapstructure:"enabled"`
	// TCP exposes the API unauthenticated on the private address only.
	TCP  bool `yaml:"tcp" mapstructure:"tcp"`
	Port int  `yaml:"port" mapstructure:"port"`
}

// Kit is the workshop's offline image kit (cododemo/hello, web and lb in
// one `docker load`-able tarball per architecture): pinned in the lock,
// served to the nodes at first boot and docker-loaded on every node.
//
// Off by default, even with Docker on: cododemo's kit has no public
// download to fall back on (it is built from this repository's sources
// with scripts/build-kit.sh), so turning it on needs a mirror serving it
// at <mirror>/artifacts/cododemo-kit-<arch>.tar, or url; a lab that never
// asks for it locks, boots and verifies as before, online or offline.
type Kit struct {
	Enabled bool `yaml:"enabled" mapstructure:"enabled"`
	// SHA256 pins the tarball (the hash scripts/build-kit.sh printed for
	// the lab's arch). Empty: `cododemo lock` pins what the mirror serves
	// on first use, and says so.
	SHA256 string `yaml:"sha256" mapstructure:"sha256"`
	// URL fetches the kit from somewhere other than the mirror (http,
	// https or file); it needs SHA256, so nothing unpinned comes from an
	// address of one lab file's choosing.
	URL string `yaml:"url" mapstructure:"url"`
}

// KitEnabled says whether the nodes load the image kit: only Flatcar
// nodes with Docker, since the kit is served like fleet and etcd.
func (l Lab) KitEnabled() bool {
	return l.Kit.Enabled && l.Docker.Enabled && l.Distro == "flatcar"
}

// Updates configures Flatcar's update engine on the nodes.
type Updates struct {
	// Enabled lets nodes download OS updates. Off by default: a lab on a
	// room's wifi must not pull hundreds of MiB per node, and update.conf's
	// SERVER=disabled is the only setting that stops the download
	// (REBOOT_STRATEGY=off alone still downloads). Reboots stay off either way.
	Enabled bool `yaml:"enabled" mapstructure:"enabled"`
}

// FirstBoot configures the HTTP server that hands nodes their full Ignition
// config when it is too big to inline (VirtualBox's 1024-byte limit) and
// serves the artifacts (fleet, etcd) the nodes install.
type FirstBoot struct {
	Port int `yaml:"port" mapstructure:"port"`
}

// Libvirt holds libvirt-only settings.
type Libvirt struct {
	// Driver is kvm (default) or qemu (software emulation, no /dev/kvm).
	Driver string `yaml:"driver" mapstructure:"driver"`
	// ManagementCIDR is vagrant-libvirt's management network (DHCP, SSH).
	// Nodes reach the first-boot server at its gateway: in the initramfs,
	// where Ignition fetches, only this network has an address.
	ManagementCIDR string `yaml:"management_cidr" mapstructure:"management_cidr"`
	// ManagementMode is nat (default: guests reach the internet) or none
	// (isolated: nothing leaves the host, as the e2e tests need).
	ManagementMode string `yaml:"management_mode" mapstructure:"management_mode"`
}

// ForwardPort forwards a host port to a guest port on one node (or all
// nodes, with the host port incremented per node, when Node is empty).
type ForwardPort struct {
	Node  string `yaml:"node" mapstructure:"node"`
	Guest int    `yaml:"guest" mapstructure:"guest"`
	Host  int    `yaml:"host" mapstructure:"host"`
}

// SharedFolder syncs a host directory into every node.
type SharedFolder struct {
	Host  string `yaml:"host" mapstructure:"host"`
	Guest string `yaml:"guest" mapstructure:"guest"`
	Type  string `yaml:"type" mapstructure:"type"` // rsync (default) or nfs
}

// Supported values, in the order help texts list them.
var (
	Distros   = []string{"flatcar", "coreos"}
	Providers = []string{"virtualbox", "libvirt"}
	Formats   = []string{"auto", "ignition", "cloud-config"}
	Arches    = []string{"amd64", "arm64"}
	// Channels per distro; CoreOS Container Linux never had lts.
	Channels = map[string][]string{
		"flatcar": {"alpha", "beta", "stable", "lts"},
		"coreos":  {"alpha", "beta", "stable"},
	}
)

// MaxNodes is the largest lab cododemo renders: etcd clusters beyond 9
// members only get slower, and a laptop does not hold more VMs.
const MaxNodes = 9

// MinMemory is the least memory per node (MiB) Flatcar boots with Docker.
const MinMemory = 1024

// Default returns the embedded default lab: three Flatcar stable nodes on
// VirtualBox's default host-only range.
func Default() Lab {
	return Lab{
		Name:     "cododemo",
		Distro:   "flatcar",
		Channel:  "stable",
		Version:  "current",
		Arch:     "amd64",
		Provider: "virtualbox",
		Format:   "", // auto on flatcar (the plan decides per box), cloud-config on coreos
		StateDir: ".cododemo",
		Nodes:    Nodes{Count: 3, Prefix: "core", CPUs: 1, Memory: 2048},
		Network:  Network{CIDR: "192.168.56.0/24", FirstHost: 101},
		Etcd:     Etcd{Enabled: true, ClientPort: 2379, PeerPort: 2380, ImageTag: "v3.5.21", From: "release"},
		Fleet:    Fleet{Enabled: true, Version: "v1.0.0"},
		Docker:   Docker{Enabled: true, TCP: false, Port: 2375},
		FirstBoot: FirstBoot{
			Port: 8765,
		},
		Libvirt: Libvirt{Driver: "kvm", ManagementCIDR: "192.168.121.0/24", ManagementMode: "nat"},
	}
}
