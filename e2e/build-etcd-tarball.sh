#!/usr/bin/env bash
# build-etcd-tarball.sh: pack this machine's Debian etcd 3.4.23 (etcd-server's
# /usr/bin/etcd, etcd-client's /usr/bin/etcdctl: the same packages and version
# the test box ships) in the layout of etcd's upstream release tarball:
# etcd-v3.4.23-linux-amd64.tar.gz holding a top directory
# etcd-v3.4.23-linux-amd64/ with etcd, etcdctl and README.md. The e2e mirror
# serves it under artifacts/, so the lab runs etcd.from: release for real with
# etcd.release_sha256 set to its hash (a tarball of one's own build on one's
# own mirror). It is NOT upstream's tarball: the binaries are Debian's
# (dynamically linked against the box's glibc), and the README inside says so.
#
# The tarball is reproducible (fixed order, mtimes, owners, modes; gzip -n):
# the same two binaries give the same sha256.
#
# Output (cached outside the repo, reused while the inputs are unchanged):
#   $E2E_CACHE_DIR/etcd/etcd-v3.4.23-linux-amd64.tar.gz
# The last line on stdout is "<sha256>  <path>".
set -euo pipefail

cache="${E2E_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/cododemo-e2e}/etcd"
version=v3.4.23
name="etcd-$version-linux-amd64"
tarball="$cache/$name.tar.gz"
etcd_bin=/usr/bin/etcd
etcdctl_bin=/usr/bin/etcdctl

log() { echo "build-etcd-tarball.sh: $*" >&2; }

for b in "$etcd_bin" "$etcdctl_bin"; do
	[[ -x $b ]] || { log "$b missing: apt-get install -y --no-install-recommends etcd-server etcd-client"; exit 1; }
done
# The box runs the same Debian version; a different one here would make the
# lab's etcd quietly differ from what the tag says.
etcd_v=$("$etcd_bin" --version)
etcd_v=${etcd_v%%$'\n'*}
etcdctl_v=$("$etcdctl_bin" version)
etcdctl_v=${etcdctl_v%%$'\n'*}
[[ $etcd_v == "etcd Version: ${version#v}" ]] || { log "$etcd_bin is not etcd ${version#v}: $etcd_v"; exit 1; }
[[ $etcdctl_v == "etcdctl version: ${version#v}" ]] || { log "$etcdctl_bin is not etcdctl ${version#v}: $etcdctl_v"; exit 1; }

# Inputs that decide the bytes of the tarball: the two binaries, this script.
stamp=$(cat "$etcd_bin" "$etcdctl_bin" "$0" | sha256sum | cut -d' ' -f1)
if [[ -f $tarball && -f $cache/stamp && $(cat "$cache/stamp") == "$stamp" ]]; then
	log "reusing $tarball"
	(cd "$cache" && sha256sum "$name.tar.gz" | sed "s|  |  $cache/|")
	exit 0
fi

mkdir -p "$cache"
work=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
install -d -m 0755 "$work/$name"
install -m 0755 "$etcd_bin" "$work/$name/etcd"
install -m 0755 "$etcdctl_bin" "$work/$name/etcdctl"
pkgs=$(dpkg-query -W -f='${Package} ${Version}\n' etcd-server etcd-client | paste -sd, | sed 's/,/, /')
cat >"$work/$name/README.md" <<EOF
# $name (cododemo e2e test build, not an upstream release)

etcd and etcdctl ${version#v} from Debian's packages ($pkgs), packed in the layout of etcd's upstream release tarball by cododemo's e2e/build-etcd-tarball.sh, for the e2e lab's etcd.from: release with etcd.release_sha256.
EOF
chmod 0644 "$work/$name/README.md"

tar -C "$work" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
	-cf - "$name" | gzip -n -9 >"$work/$name.tar.gz"
mv "$work/$name.tar.gz" "$tarball"
echo "$stamp" >"$cache/stamp"
(cd "$cache" && sha256sum "$name.tar.gz" | sed "s|  |  $cache/|")
