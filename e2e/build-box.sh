#!/usr/bin/env bash
# build-box.sh: build the cododemo e2e test box, a small Debian image that
# presents what a Flatcar node presents to cododemo (see e2e/README.md): a core
# user with sudo whose key comes from first-boot Ignition read from fw_cfg
# opt/org.flatcar-linux/config, OpenSSH, systemd, systemd-networkd (DHCP client
# id from the MAC), an etcd-member.service configured by ETCD_* drop-ins,
# etcdctl, Docker (Debian's docker.io, socket-activated as on Flatcar), and an
# empty /etc/machine-id.
#
#   build-box.sh [ignition|stable]
#
# Flavour "ignition" (the default) reads Ignition from fw_cfg like Flatcar on
# QEMU and like a 4722+ box. Flavour "stable" behaves like today's stable
# Flatcar Vagrant box: no Ignition; real coreos-cloudinit v1.14.0 (built in
# tools/coreos-cloudinit), the Vagrant OEM's cloud-config (Vagrant's insecure
# key for core, the /var/lib/flatcar-vagrant path unit), zz-default.network.
#
# Output (cached outside the repo; rebuilt only when its inputs change):
#   $E2E_CACHE_DIR/box/cododemo-e2e.box           (ignition)
#   $E2E_CACHE_DIR/box-stable/cododemo-e2e-stable.box (stable)
# each a vagrant-libvirt box (tar of box.img qcow2, metadata.json, Vagrantfile).
# The last line on stdout is "<sha256>  <path of the .box>".
#
# Needs root (loop devices, mount, chroot) and network access to the Debian
# mirror this machine's apt already uses; the VM itself never downloads.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache="${E2E_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/cododemo-e2e}"
flavour=${1:-ignition}
case $flavour in
ignition) out="$cache/box" box_name=cododemo-e2e box_vagrantfile="$here/box/Vagrantfile" ;;
stable) out="$cache/box-stable" box_name=cododemo-e2e-stable box_vagrantfile="$here/box/Vagrantfile.stable" ;;
*) echo "build-box.sh: unknown flavour '$flavour' (want ignition or stable)" >&2; exit 2 ;;
esac
box="$out/$box_name.box"
cloudinit_version=v1.14.0
size_gb=4
ignition_version=v2.27.0
# The Flatcar release the box says it is (e2e.sh publishes the ignition
# flavour's image as this release's QEMU image: keep the two the same).
flatcar_version=4593.2.5

log() { echo "build-box.sh: $*" >&2; }

if [[ $(id -u) -ne 0 ]]; then
	log "must run as root (loop devices, mount, chroot)"
	exit 1
fi

# The build's mounts live in a mount namespace of their own. A process that
# unshares its mount namespace while the image is mounted (`ip netns exec`, a
# container, a systemd service with namespacing, libvirt's QEMU) otherwise
# takes a copy of the mount: our umount then succeeds while the filesystem
# stays mounted over there, its journal is never checkpointed, and the image
# is packed needing recovery. Nobody can copy a mount they cannot see.
if [[ -z ${CODODEMO_BUILD_BOX_NS:-} ]]; then
	exec env CODODEMO_BUILD_BOX_NS=1 unshare --mount --propagation private "$0" "$@"
fi

# Host tools. extlinux + syslinux-common make the image bootable; libblkid-dev is for Ignition's cgo.
need=(debootstrap qemu-utils e2fsprogs fdisk extlinux syslinux-common libblkid-dev gcc)
missing=()
for p in "${need[@]}"; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[[ $st == "install ok installed" ]] || missing+=("$p")
done
if ((${#missing[@]})); then
	log "installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi

# The Debian mirror and suite come from this machine's own apt sources, so no
# registry host name lives in the repository. deb822 *.sources first, then the
# one-line format; the first "deb" entry carrying the release's own suite wins.
suite=$(. /etc/os-release && echo "$VERSION_CODENAME")
mirror_from_sources() {
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		[[ -f $f ]] || continue
		# Paragraphs are separated by blank lines; keep Types/URIs/Suites of each.
		awk -v suite="$suite" '
			function flush() { if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " suite " ")) { split(uris, u, " "); print u[1]; found=1; exit } types=""; uris=""; suites="" }
			/^[[:space:]]*$/ { flush(); next }
			/^Types:/ { sub(/^Types:[[:space:]]*/, ""); types=$0 }
			/^URIs:/ { sub(/^URIs:[[:space:]]*/, ""); uris=$0 }
			/^Suites:/ { sub(/^Suites:[[:space:]]*/, ""); suites=$0 }
			END { if (!found) flush() }
		' "$f"
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[[ -f $f ]] || continue
		awk -v suite="$suite" '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ } if ($(i+1) == suite) { print $i; exit } }' "$f"
	done
}
mirror=$(mirror_from_sources | head -n1)
if [[ -z $mirror ]]; then
	log "no 'deb' entry for suite $suite in /etc/apt/sources.list or sources.list.d/: cannot pick a Debian mirror"
	exit 1
fi

# Real Ignition, built from the module proxy in its own tools module.
ign_dir="$cache/ignition"
mkdir -p "$ign_dir"
build_ignition() {
	# Distros bake their policy into Ignition at link time (upstream ./build).
	# This box has no SELinux: selinuxRelabel=false stops the files stage from
	# running setfiles (it would fail reading SELINUXTYPE from /etc/selinux/config).
	ign_ldflags="-X github.com/coreos/ignition/v2/internal/version.Raw=$ignition_version"
	ign_ldflags+=" -X github.com/coreos/ignition/v2/internal/distro.selinuxRelabel=false"
	ign_stamp=$(cat "$here/../tools/ignition/go.mod" "$here/../tools/ignition/go.sum" <(go version) <(echo "$ign_ldflags") | sha256sum | cut -d' ' -f1)
	if [[ ! -x $ign_dir/ignition || $(cat "$ign_dir/stamp" 2>/dev/null) != "$ign_stamp" ]]; then
		log "building Ignition $ignition_version (tools/ignition)"
		(
			cd "$here/../tools/ignition"
			CGO_ENABLED=1 GOFLAGS=-mod=readonly go build -trimpath \
				-ldflags "$ign_ldflags" \
				-o "$ign_dir/ignition.new" github.com/coreos/ignition/v2/internal
		)
		mv "$ign_dir/ignition.new" "$ign_dir/ignition"
		echo "$ign_stamp" >"$ign_dir/stamp"
	fi
}

if [[ $flavour == ignition ]]; then
	build_ignition
	flavour_inputs() { sha256sum <"$ign_dir/ignition"; }
else
	# The stable flavour's own steps live beside its overlay, so changing
	# them rebuilds only that flavour.
	. "$here/box/stable.sh"
	stable_prepare
	flavour_inputs() { stable_inputs; }
fi

# Everything that decides the image: this script, the disk check, the
# overlay, the box Vagrantfile, the flavour's own inputs (Ignition, or
# coreos-cloudinit and the stable overlay), the mirror and suite.
stamp=$( {
	cat "$0" "$here/check-disk.sh" "$box_vagrantfile"
	(cd "$here/box/overlay" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
	flavour_inputs
	echo "$flavour $mirror $suite $size_gb"
} | sha256sum | cut -d' ' -f1)
if [[ -f $box && -f $out/stamp && $(cat "$out/stamp") == "$stamp" ]]; then
	log "reusing $box"
	(cd "$out" && sha256sum "$(basename "$box")" | sed "s|  |  $out/|")
	exit 0
fi

log "mirror $mirror, suite $suite"
mkdir -p "$out" "$cache/debs"
work=$(mktemp -d "$out/build.XXXXXX")
root="$work/root"
loop=""
cleanup() {
	if mountpoint -q "$root"; then
		umount -R "$root" || umount -lR "$root" || true
	fi
	[[ -n $loop ]] && losetup -d "$loop" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

# A BIOS-bootable disk: one ext4 partition from sector 2048, booted by
# syslinux's MBR and extlinux. The partition is reached through a loop device
# at its byte offset: partition scanning (losetup -P) creates no device nodes
# on machines like this one, and GRUB cannot be installed without them.
raw="$work/disk.raw"
part_start=2048
truncate -s "${size_gb}G" "$raw"
printf 'label: dos\nstart=%d, type=83, bootable\n' "$part_start" | sfdisk -q "$raw"
loop=$(losetup -f --show -o $((part_start * 512)) "$raw")
# extlinux reads ext4 without the 64bit and metadata_csum features.
# No journal while building: the filesystem's block 0 holds extlinux's boot
# sector (bytes 0-511) and the superblock (from byte 1024). Every superblock
# update the kernel journals logs all of block 0; if such a transaction is
# ever replayed after extlinux wrote the boot sector (a first boot of an
# image packed with a dirty journal does exactly that), the boot sector is
# zeroed and the next boot says "Missing operating system". The journal is
# added, empty, offline, after the last mount (tune2fs writes only the
# superblock at byte 1024), and checked before packing.
mkfs.ext4 -q -L root -b 4096 -O ^64bit,^metadata_csum,^has_journal "$loop"
uuid=$(blkid -s UUID -o value "$loop")
mkdir -p "$root"
mount "$loop" "$root"

# libnss-myhostname resolves the hostname Ignition sets without DNS (sudo looks it up).
# isc-dhcp-client lets first boot reach the network before networkd runs, for
# Ignition configs with remote references (fleet, served by `cododemo up`).
pkgs=(
	systemd systemd-sysv udev dbus kmod libpam-systemd libnss-myhostname
	linux-image-amd64 initramfs-tools
	openssh-server sudo iproute2 iputils-ping procps less ca-certificates isc-dhcp-client
	etcd-server etcd-client
	docker.io curl
)
# Both flavours start from the same debootstrap (the same packages, suite and
# mirror): the first build keeps it as a tarball, owners, modes and xattrs
# (file capabilities) included, and the other unpacks it instead of
# bootstrapping again, which takes minutes here even with the packages cached.
rootfs_key=$(printf '%s\n' "${pkgs[@]}" "$suite" "$mirror" "$(dpkg-query -W -f='${Version}' debootstrap)" | sha256sum | cut -c1-16)
rootfs="$cache/rootfs/$rootfs_key.tar"
if [[ -f $rootfs ]]; then
	log "unpacking the debootstrap both flavours share ($rootfs)"
	tar --xattrs --xattrs-include='*' --numeric-owner -xpf "$rootfs" -C "$root"
else
	log "debootstrap ($(IFS=,; echo "${pkgs[*]}"))"
	debootstrap --variant=minbase --include="$(IFS=,; echo "${pkgs[*]}")" \
		--cache-dir="$cache/debs" "$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 || {
		tail -n 30 "$work/debootstrap.log" >&2
		exit 1
	}
	mkdir -p "$cache/rootfs"
	rm -f "$cache"/rootfs/*.tar "$cache"/rootfs/*.tar.new # only the newest is ever used
	tar --xattrs --xattrs-include='*' --numeric-owner --one-file-system -cpf "$rootfs.new" -C "$root" .
	mv "$rootfs.new" "$rootfs"
fi

log "configuring the image"
cp -a "$here/box/overlay/." "$root/"
chown -R root:root "$root/etc" "$root/usr/lib/cododemo-box" "$root/usr/lib/flatcar"
chmod 440 "$root/etc/sudoers.d/core"
if [[ $flavour == ignition ]]; then
	install -m 0755 "$ign_dir/ignition" "$root/usr/lib/cododemo-box/ignition"
else
	stable_configure "$root"
fi

# What the node says it is, where cododemo's os check reads it: Flatcar
# $flatcar_version. Debian's own /usr/lib/os-release stays for its tools.
rm -f "$root/etc/os-release"
cat >"$root/etc/os-release" <<OSRELEASE
NAME="Flatcar Container Linux by Kinvolk"
ID=flatcar
ID_LIKE=coreos
VERSION=$flatcar_version
VERSION_ID=$flatcar_version
BUILD_ID=cododemo-e2e
PRETTY_NAME="Flatcar Container Linux by Kinvolk $flatcar_version (cododemo e2e test box)"
HOME_URL="https://flatcar.org/"
FLATCAR_BOARD="amd64-usr"
OSRELEASE

cat >"$root/etc/fstab" <<FSTAB
UUID=$uuid / ext4 errors=remount-ro 0 1
FSTAB
printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
rm -f "$root/etc/hostname"
# The apt sources inside the image name the mirror it was built from; the VM
# never uses them (no route out), so leave none behind.
rm -f "$root/etc/apt/sources.list" "$root"/etc/apt/sources.list.d/*

# core: the login user, as on Flatcar (uid 500), no password, sudo without one.
chroot "$root" groupadd -g 500 core
# In the docker and systemd-journal groups, as on Flatcar, so the workshop's
# docker commands and fleetctl journal run
# as core.
chroot "$root" useradd -u 500 -g core -G sudo,docker,systemd-journal -m -s /bin/bash core
chroot "$root" passwd -l core >/dev/null

# Debian's own etcd.service must never start: etcd-member.service is the one.
chroot "$root" systemctl mask etcd.service
# Docker as Flatcar ships it: docker.socket listens, docker.service starts
# only when asked (a lab with docker.enabled enables it). Debian's package
# enables the service itself.
chroot "$root" systemctl disable docker.service containerd.service >/dev/null 2>&1
chroot "$root" systemctl enable docker.socket >/dev/null 2>&1
# /usr read-only, as Flatcar mounts it.
chroot "$root" systemctl enable cododemo-usr-readonly.service >/dev/null 2>&1
if [[ $flavour == ignition ]]; then
	chroot "$root" systemctl enable systemd-networkd.service cododemo-firstboot.service ssh.service >/dev/null 2>&1
else
	stable_enable "$root"
fi
# Generators the box has nothing for (no encrypted, verity or integrity
# volumes, no hibernation, no GPT auto-mounts, no SysV scripts of its own):
# masked, since every boot and every daemon-reload runs each one, and under
# emulation that is seconds (a reload took 6.5-7.4 s with them, 3.5-4.0 s
# without, on one idle VM).
mkdir -p "$root/etc/systemd/system-generators"
for g in cryptsetup integritysetup veritysetup hibernate-resume gpt-auto sysv rc-local system-update run debug; do
	ln -sf /dev/null "$root/etc/systemd/system-generators/systemd-$g-generator"
done
# Modules systemd loads early for features the box has no use for (DRM
# consoles, device mapper, EFI pstore, FUSE, loop devices: Docker runs on
# overlay2): 4-10 s each of a boot under emulation.
chroot "$root" systemctl mask modprobe@drm.service modprobe@dm_mod.service modprobe@efi_pstore.service \
	modprobe@fuse.service modprobe@loop.service >/dev/null 2>&1
chroot "$root" systemctl disable apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer >/dev/null 2>&1 || true
rm -rf "$root"/var/lib/etcd/*

# First boot is what an empty machine-id means to systemd: it gets a fresh id
# (so clones get different DHCP leases and fleet machine ids) and
# ConditionFirstBoot=yes units run. Host keys are made at first boot too.
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id" "$root"/etc/ssh/ssh_host_*
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*

# The initramfs again, with only the modules etc/initramfs-tools names.
chroot "$root" update-initramfs -u -k all >"$work/initramfs.log" 2>&1 || {
	cat "$work/initramfs.log" >&2
	log "update-initramfs failed"
	exit 1
}

# Boot loader: extlinux in the partition, syslinux's MBR in front of it.
# Serial console so `virsh console` and the libvirt log show the boot.
kernel=$(cd "$root" && readlink -f vmlinuz | sed "s|^$root||")
initrd=$(cd "$root" && readlink -f initrd.img | sed "s|^$root||")
kernel=/${kernel#/}
initrd=/${initrd#/}
[[ -f $root$kernel && -f $root$initrd ]] || { log "kernel or initrd missing in the image"; exit 1; }
# apparmor=0: Flatcar has no AppArmor (it uses SELinux instead), and
# Debian's Docker refuses to start containers when AppArmor is on and its
# parser is missing.
# i8042.noaux: no PS/2 mouse probing (seconds of timeouts under emulation).
# mitigations=off: the emulated EPYC makes Debian's kernel turn on the
# retbleed and SRSO return thunks and retpolines (every kernel return and
# indirect call takes extra jumps, each a translation-block lookup under
# TCG). A box that runs only our own test labs on one host has nothing to
# isolate; Flatcar's kernel keeps its defaults, this is a test-box setting.
mkdir -p "$root/boot/extlinux"
cat >"$root/boot/extlinux/extlinux.conf" <<EXTLINUX
SERIAL 0 115200
DEFAULT linux
PROMPT 0
TIMEOUT 0
LABEL linux
  LINUX $kernel
  INITRD $initrd
  APPEND root=UUID=$uuid ro console=tty0 console=ttyS0,115200 net.ifnames=0 biosdevname=0 apparmor=0 i8042.noaux=1 mitigations=off
EXTLINUX
extlinux --install "$root/boot/extlinux" >/dev/null 2>&1
# Blocks freed during the build (package archives, logs) still hold data;
# trimming punches holes in the raw file so qemu-img leaves them out of the
# box (which vagrant-libvirt uploads on every first `up`).
sync
fstrim "$root" || log "fstrim failed: the box will be larger than needed"
umount -R "$root"
losetup -d "$loop"
loop=""
# The filesystem must be really released, not held by a mount elsewhere:
# the loop device goes away once nothing uses it.
for _ in $(seq 1 20); do
	[[ -z $(losetup -j "$raw") ]] && break
	sleep 0.5
done
if [[ -n $(losetup -j "$raw") ]]; then
	log "the image's loop device is still in use after umount: $(losetup -j "$raw")"
	log "held by: $(grep -l "$work/root" /proc/[0-9]*/mountinfo 2>/dev/null | cut -d/ -f3 | paste -sd' ' -)"
	exit 1
fi
part="$raw?offset=$((part_start * 512))" # e2fsprogs opens a partition of a file this way
fsck_rc=0
e2fsck -fy "$part" >"$work/e2fsck.log" 2>&1 || fsck_rc=$?
if ((fsck_rc > 1)); then
	cat "$work/e2fsck.log" >&2
	log "e2fsck failed (exit $fsck_rc)"
	exit 1
fi
tune2fs -O has_journal "$part" >/dev/null
# extlinux took the partition's offset from the loop device (0); the boot
# sector's "hidden sectors" field (offset 0x1C) must hold the real start.
printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $((part_start & 255)) $(((part_start >> 8) & 255)) $(((part_start >> 16) & 255)) $(((part_start >> 24) & 255)))" |
	dd of="$raw" bs=1 seek=$((part_start * 512 + 0x1C)) conv=notrunc status=none
dd if=/usr/lib/syslinux/mbr/mbr.bin of="$raw" bs=440 count=1 conv=notrunc status=none
# Refuse to pack an image that would not boot twice: it must carry both boot
# signatures, and its filesystem must be clean with an empty journal.
"$here/check-disk.sh" --fs --format raw "$raw" || { log "refusing to pack $raw"; exit 1; }

log "converting to qcow2"
stage="$work/box"
mkdir -p "$stage"
# Compressed: vagrant-libvirt streams the whole file into the storage pool on
# the first `up` of a box (about 11 MB/s here), so bytes saved once at build
# time are saved on every fresh pool.
qemu-img convert -c -O qcow2 "$raw" "$stage/box.img"
rm -f "$raw"
"$here/check-disk.sh" --format qcow2 "$stage/box.img" || { log "refusing to pack $stage/box.img"; exit 1; }
printf '{"provider":"libvirt","format":"qcow2","virtual_size":%d}\n' "$size_gb" >"$stage/metadata.json"
cp "$box_vagrantfile" "$stage/Vagrantfile"
tar -C "$stage" -cf "$box.new" metadata.json Vagrantfile box.img
mv "$box.new" "$box"
echo "$stamp" >"$out/stamp"
(cd "$out" && sha256sum "$(basename "$box")" | sed "s|  |  $out/|")
