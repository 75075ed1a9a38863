#!/usr/bin/env bash
# setup-libvirt.sh: install and start what the real-VM tier needs on a Debian 12
# machine without systemd as PID 1 (containers, CI runners). Idempotent: run it
# as often as you like; it installs only what is missing and starts daemons only
# when they are not already answering.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
	echo "setup-libvirt.sh: must run as root (apt-get, libvirtd)" >&2
	exit 1
fi

# Packages: the hypervisor, libvirt's daemons, Debian's vagrant-libvirt plugin,
# and the box builder's tools (debootstrap, qemu-img, mkfs, sfdisk, grub).
pkgs=(
	libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils dnsmasq-base
	vagrant vagrant-libvirt
	debootstrap e2fsprogs fdisk extlinux syslinux-common libblkid-dev gcc
	openssh-client curl ca-certificates
	python3 procps # e2e.sh reads reports with python3 and looks for left-over qemu with pgrep
	gnupg # signs the test box's image as Flatcar's QEMU image, with a key made per run
)
missing=()
for p in "${pkgs[@]}"; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[[ $st == "install ok installed" ]] || missing+=("$p")
done
if ((${#missing[@]})); then
	echo "setup-libvirt.sh: installing ${missing[*]}"
	# A fresh machine may have no package lists yet.
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi

# Without udev rules applied, /dev/kvm stays root:root 0600. libvirt then finds
# KVM unusable for its qemu user (libvirt-qemu, group kvm) while its cached
# capabilities (probed as root) say KVM: it throws the cache away and re-probes
# QEMU on every domain define and NIC attach (16-50 s each under load; ~84 s of
# one `vagrant up`). Debian's udev rule gives root:kvm 0660; do the same. Domains
# still use driver "qemu" (TCG): this only makes libvirt's cache stable.
if [[ -c /dev/kvm ]] && getent group kvm >/dev/null && [[ $(stat -c '%G %a' /dev/kvm) != "kvm 660" ]]; then
	chgrp kvm /dev/kvm
	chmod 0660 /dev/kvm
fi

# No systemd here: start the daemons by hand. virtlogd first, because libvirtd
# hands every domain's console log to it and `virsh start` fails without it.
mkdir -p /run/libvirt
if ! pgrep -x virtlogd >/dev/null; then
	virtlogd -d
fi
if ! virsh -c qemu:///system version >/dev/null 2>&1; then
	pgrep -x libvirtd >/dev/null || libvirtd -d
	for _ in $(seq 1 30); do
		virsh -c qemu:///system version >/dev/null 2>&1 && break
		sleep 1
	done
fi
virsh -c qemu:///system version >/dev/null

# vagrant-libvirt creates volumes in the "default" storage pool: make sure one exists.
if ! virsh -c qemu:///system pool-info default >/dev/null 2>&1; then
	mkdir -p /var/lib/libvirt/images
	virsh -c qemu:///system pool-define-as default dir --target /var/lib/libvirt/images >/dev/null
	virsh -c qemu:///system pool-autostart default >/dev/null
fi
# Capture first: with pipefail, `virsh | grep -q` fails when grep exits early.
pool_state=$(virsh -c qemu:///system pool-info default)
if ! grep -q '^State: *running' <<<"$pool_state"; then
	virsh -c qemu:///system pool-start default >/dev/null
fi

echo "setup-libvirt.sh: libvirt ready ($(virsh -c qemu:///system version | grep -i 'running hypervisor' | sed 's/^ *//'))"
