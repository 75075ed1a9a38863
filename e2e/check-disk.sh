#!/usr/bin/env bash
# check-disk.sh: check that a test-box disk will boot again: the MBR and the
# root partition's boot sector (LBA 2048, where extlinux writes SYSLINUX's
# volume boot record) carry the 0x55AA boot signature and SYSLINUX's name.
# With --fs it also checks the ext4 filesystem of an image that is not
# running: no needs_recovery flag, state clean, an empty journal (nothing a
# first boot would replay over the boot sector), and e2fsck -fn finds nothing.
#
#   check-disk.sh [--fs] [--format raw|qcow2] IMAGE
#
# Images in use by a running VM are read with qemu-img -U (no lock), which is
# the view the firmware gets at the next boot once the guest has flushed.
# Exit 0 when every check passes; otherwise it names each failed check.
set -euo pipefail

part_start=2048
fs=0
format=""
while (($#)); do
	case $1 in
	--fs) fs=1 ;;
	--format) format=$2; shift ;;
	-*) echo "check-disk.sh: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
	shift
done
(($# == 1)) || { echo "usage: check-disk.sh [--fs] [--format raw|qcow2] IMAGE" >&2; exit 2; }
img=$1
[[ -r $img ]] || { echo "check-disk.sh: $img: not readable" >&2; exit 2; }
if [[ -z $format ]]; then
	format=$(qemu-img info -U --output=json "$img" | python3 -c 'import json,sys; print(json.load(sys.stdin)["format"])')
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The first sectors up to and including the partition's boot sector.
qemu-img dd -U -f "$format" -O raw bs=512 count=$((part_start + 1)) if="$img" of="$tmp/head" 2>/dev/null
bad=()
sig() { od -An -tx1 -j "$1" -N 2 "$tmp/head" | tr -d ' \n'; }
[[ $(sig 510) == 55aa ]] || bad+=("MBR (LBA 0) has no 55AA boot signature")
[[ $(sig $((part_start * 512 + 510))) == 55aa ]] ||
	bad+=("root partition boot sector (LBA $part_start) has no 55AA boot signature: the firmware will say 'Missing operating system'")
[[ $(dd if="$tmp/head" bs=1 skip=$((part_start * 512 + 3)) count=8 status=none) == SYSLINUX ]] ||
	bad+=("root partition boot sector (LBA $part_start) is not SYSLINUX's (extlinux)")

if ((fs)); then
	if [[ $format != raw ]]; then
		qemu-img convert -U -f "$format" -O raw "$img" "$tmp/disk.raw"
		raw="$tmp/disk.raw"
	else
		raw=$img
	fi
	# e2fsprogs' unix I/O reads "file?offset=N": the partition without a loop device.
	dev="$raw?offset=$((part_start * 512))"
	hdr=$(dumpe2fs -h "$dev" 2>/dev/null) || bad+=("dumpe2fs cannot read the root filesystem")
	features=$(sed -n 's/^Filesystem features: *//p' <<<"$hdr")
	state=$(sed -n 's/^Filesystem state: *//p' <<<"$hdr")
	[[ " $features " != *" needs_recovery "* ]] ||
		bad+=("root filesystem needs journal recovery: its first mount would replay stale blocks (block 0 holds the boot sector)")
	[[ " $features " == *" has_journal "* ]] || bad+=("root filesystem has no journal")
	[[ $state == clean ]] || bad+=("root filesystem state is '$state', not clean")
	# An empty journal starts at block 0 (jsb s_start == 0): nothing to replay.
	start=$(debugfs -R logdump "$dev" 2>/dev/null | sed -n 's/^Journal starts at block \([0-9]*\),.*/\1/p')
	[[ $start == 0 ]] || bad+=("root filesystem journal is not empty (starts at block ${start:-?})")
	e2fsck -fn "$dev" >"$tmp/fsck" 2>&1 || bad+=("e2fsck -fn found problems: $(tail -n 3 "$tmp/fsck" | tr '\n' ' ')")
fi

if ((${#bad[@]})); then
	for b in "${bad[@]}"; do echo "check-disk.sh: $img: $b" >&2; done
	exit 1
fi
echo "check-disk.sh: $img: boot sectors ok$( ((fs)) && echo ', filesystem clean, journal empty')" >&2
