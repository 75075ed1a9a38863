#!/usr/bin/env bash
# e2e.sh: the real-VM tier, `make e2e`. cododemo itself brings up a 3-node lab
# on vagrant-libvirt (QEMU software emulation) from the Flatcar-like test box,
# serves fleet and etcd's release tarball (etcd.from: release; a tarball of
# the box's Debian etcd 3.4.23 in upstream layout, pinned by
# etcd.release_sha256) to the nodes from a local mirror through its
# first-boot server, checks each node runs /opt/bin/etcd as user etcd,
# verifies etcd and fleet (--deep), checks every disk still carries its boot
# sectors, halts a node and sees verify name it, brings it back, reloads
# every node (a second boot) and expects green again with the boot sectors
# intact, destroys the lab, and checks nothing is left. Each phase is timed.
# Runs as root on Debian 12.
#
#   sudo e2e/e2e.sh          # KEEP=1 leaves the lab up on failure
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
cache="${E2E_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/cododemo-e2e}"
export E2E_CACHE_DIR="$cache"
export VAGRANT_HOME="$cache/vagrant-home"
export VAGRANT_CHECKPOINT_DISABLE=1 VAGRANT_BOX_UPDATE_CHECK_DISABLE=1
export LIBVIRT_DEFAULT_URI=qemu:///system
export NO_COLOR=1
virsh() { command virsh -c qemu:///system "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

declare -a timings=()
begin() { phase=$1; phase_start=$(date +%s.%N); echo "== $phase" >&2; }
end() {
	local t
	t=$(awk -v a="$phase_start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
	timings+=("$(printf '%-28s %7ss' "$phase" "$t")")
	echo "== $phase done in ${t}s" >&2
}

# The lab lives where libvirt's qemu user can read the node configs.
lab=$(mktemp -d /tmp/cododemo-e2e.XXXXXX)
chmod 755 "$lab"
bin="$lab/cododemo"
mirror_pid=""
destroyed=0

# Everything of ours in libvirt carries the lab name "e2e".
leftovers() {
	virsh list --all --name | grep -E '^e2e-' || true
	virsh net-list --all --name | grep -E '^e2e-' || true
	virsh vol-list --pool default | awk 'NR > 2 && $1 ~ /^e2e-/ {print $1}' || true
}

teardown() {
	local rc=$?
	if [[ $rc != 0 && ${KEEP:-0} == 1 ]]; then
		echo "KEEP=1: lab left in $lab (cd $lab && VAGRANT_HOME=$VAGRANT_HOME ./cododemo destroy -f)" >&2
	else
		if [[ $destroyed == 0 && -x $bin ]]; then
			(cd "$lab" && "$bin" destroy -f >&2) || true
		fi
		[[ -n $mirror_pid ]] && kill "$mirror_pid" 2>/dev/null || true
		rm -rf "$lab"
	fi
	echo "e2e phase timings:" >&2
	printf '  %s\n' "${timings[@]}" >&2
	exit $rc
}
trap teardown EXIT

begin setup-libvirt; "$here/setup-libvirt.sh" >&2; end
begin build-cododemo; (cd "$repo" && go build -o "$bin" ./cmd/cododemo); end
begin build-fleet; fleet_line=$("$here/build-fleet.sh" | tail -n1); end
fleet_tgz=${fleet_line#*  }
begin build-etcd-tarball; etcd_line=$("$here/build-etcd-tarball.sh" | tail -n1); end
etcd_tgz=${etcd_line#*  }
etcd_sha=${etcd_line%%  *}
# etcd-v3.4.23-linux-amd64.tar.gz -> v3.4.23
etcd_tag=$(basename "$etcd_tgz" .tar.gz)
etcd_tag=${etcd_tag#etcd-}
etcd_tag=${etcd_tag%-linux-amd64}
begin build-box; box_line=$("$here/build-box.sh" | tail -n1); end
box_file=${box_line#*  }
box_sha=${box_line%%  *}

begin box-add
if [[ $(cat "$VAGRANT_HOME/cododemo-e2e.sha256" 2>/dev/null) != "$box_sha" ]]; then
	vagrant box remove --force cododemo-e2e >/dev/null 2>&1 || true
	for v in $(virsh vol-list --pool default | awk '$1 ~ /^cododemo-e2e_vagrant_box_image_/ {print $1}'); do
		virsh vol-delete --pool default "$v" >/dev/null
	done
	vagrant box add --force --name cododemo-e2e "$box_file" >&2
	echo "$box_sha" >"$VAGRANT_HOME/cododemo-e2e.sha256"
fi
end

# A local mirror laid out like the release server's artifacts directory,
# on loopback: cododemo pins fleet from it (no upstream hash is known),
# fetches etcd's tarball from it (pinned by etcd.release_sha256: our own
# build, not upstream's) and serves both to the nodes itself.
mkdir -p "$lab/mirror/artifacts"
cp "$fleet_tgz" "$etcd_tgz" "$lab/mirror/artifacts/"
mirror_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server "$mirror_port" --bind 127.0.0.1 --directory "$lab/mirror" >"$lab/mirror.log" 2>&1 &
mirror_pid=$!

# Isolated networks only: the management network has no forwarding, the
# private one neither; nothing leaves the host.
cat >"$lab/cododemo.yaml" <<EOF
name: e2e
provider: libvirt
box: {name: cododemo-e2e}
mirror: http://127.0.0.1:$mirror_port
nodes: {count: 3, cpus: 1, memory: 1024}
network: {cidr: 10.231.28.0/24, first_host: 11}
libvirt: {driver: qemu, management_cidr: 10.231.27.0/24, management_mode: none}
docker: {enabled: false}
etcd: {from: release, image_tag: $etcd_tag, release_sha256: $etcd_sha}
EOF
export CODODEMO_CACHE_DIR="$lab/cache"
cd "$lab"

# etcd.from: release for real: on every node etcd-member.service runs the
# etcd Ignition fetched (verified) and etcd-install.service unpacked, not the
# box's wrapper around /usr/bin/etcd, and runs it as user etcd.
remote_facts=$(cat <<'SH'
set -u
echo "binary=$(test -x /opt/bin/etcd && echo yes || echo no)"
echo "etcdctl=$(test -x /opt/bin/etcdctl && echo yes || echo no)"
echo "install=$(systemctl show -p Result --value etcd-install.service)"
echo "active=$(systemctl is-active etcd-member.service)"
echo "execstart=$(systemctl show -p ExecStart --value etcd-member.service)"
pid=$(systemctl show -p MainPID --value etcd-member.service)
echo "pid=$pid"
echo "exe=$(sudo readlink "/proc/$pid/exe")"
echo "user=$(ps -o user= -p "$pid" | tr -d ' ')"
echo "version=$(/opt/bin/etcd --version | head -n1)"
# etcd warns about ETCD_* variables it does not know (the wrapper's own).
echo "ignored_env=$(sudo journalctl -b -u etcd-member.service -o cat | grep -o 'unrecognized environment variable [A-Z0-9_]*' | awk '{print $4}' | sort -u | paste -sd, -)"
echo "environ=$(sudo cat "/proc/$pid/environ" | tr '\0' '\n' | grep -E '^(ETCD|NOTIFY)_' | cut -d= -f1 | sort | paste -sd, -)"
SH
)
check_etcd_release() {
	local node facts
	for node in "$@"; do
		facts=$("$bin" ssh "$node" <<<"$remote_facts" 2>&1) || fail "$node: etcd facts: $facts"
		# Only the facts, not the login banner.
		printf '%s\n' "$facts" | grep -E '^[a-z_]+=' | sed "s/^/  $node: /" >&2
		python3 - "$node" "$facts" <<'PY' || fail "$node: etcd-member does not run /opt/bin/etcd from the release tarball as user etcd"
import sys
node, text = sys.argv[1], sys.argv[2]
f = dict(l.split("=", 1) for l in text.splitlines() if "=" in l)
want = {"binary": "yes", "etcdctl": "yes", "install": "success", "active": "active",
        "exe": "/opt/bin/etcd", "user": "etcd"}
bad = {k: f.get(k) for k, v in want.items() if f.get(k) != v}
if "path=/opt/bin/etcd " not in f.get("execstart", ""):
    bad["execstart"] = f.get("execstart")
# The drop-in's UnsetEnvironment= keeps the wrapper's variables from etcd.
# ETCD_OPTS alone stays (systemd would drop it before expanding $ETCD_OPTS);
# the box's unit sets it empty, and etcd warns about it, harmlessly.
env = set(filter(None, f.get("environ", "").split(",")))
leaked = env & {"ETCD_IMAGE_TAG", "ETCD_IMAGE_URL", "ETCD_IMAGE", "ETCD_USER", "ETCD_SSL_DIR"}
if leaked or "NOTIFY_SOCKET" not in env or "ETCD_NAME" not in env:
    bad["environ"] = f.get("environ")
unknown = set(filter(None, f.get("ignored_env", "").split(","))) - {"ETCD_OPTS"}
if unknown:
    bad["ignored_env"] = f.get("ignored_env")
assert not bad, bad
print("ok: %s runs /opt/bin/etcd as etcd (%s)" % (node, f.get("version")), file=sys.stderr)
PY
	done
}

# Each node's disk must still boot: the MBR and the root partition's boot
# sector (LBA 2048, extlinux) keep their boot signatures after first boot.
# (A box packed with a dirty journal lost LBA 2048 to the journal replay of
# its first boot, and every node died at its next reboot.) Read from the
# host through the domain's own disk, the view the firmware gets next boot.
check_boot_sectors() {
	local node dom disk
	for node in "$@"; do
		dom=$(virsh list --all --name | grep -E "^e2e[-_]+$node\$" | head -n1)
		[[ -n $dom ]] || fail "$node: no libvirt domain found"
		disk=$(virsh domblklist "$dom" --details | awk '$2 == "disk" {print $4; exit}')
		[[ -n $disk ]] || fail "$node: domain $dom has no disk"
		"$here/check-disk.sh" "$disk" || fail "$node: the disk would not boot again ($disk)"
	done
}

begin up
# One node at a time: three TCG guests booting at once on 2 cores starve
# libvirtd, and vagrant-libvirt then reads the domains as "inaccessible".
"$bin" up --serial --wait 10m >&2
end

begin verify-deep
"$bin" verify --deep --wait 3m >&2
end

begin etcd-from-release
check_etcd_release core-01 core-02 core-03
end

begin boot-sectors
check_boot_sectors core-01 core-02 core-03
end

begin halt-core-02
"$bin" halt core-02 >&2
end

begin verify-names-core-02
set +e
out=$("$bin" verify -o json --connect-timeout 5s 2>/dev/null)
rc=$?
set -e
[[ $rc == 1 ]] || fail "verify with core-02 halted exited $rc, want 1"
python3 - "$out" <<'PY' || fail "verify did not name core-02 as failing"
import json, sys
r = json.loads(sys.argv[1])
bad = {(c["node"], c["check"]) for c in r["checks"] if c["status"] == "fail"}
assert ("core-02", "ssh") in bad, bad
assert not any(n in ("core-01", "core-03") for n, _ in bad), bad
print("ok: verify names core-02 (and only core-02):", sorted(bad), file=sys.stderr)
PY
end

begin up-core-02
"$bin" up core-02 --wait 10m >&2
end

begin verify-again
"$bin" verify --wait 3m >&2
# A second boot: etcd-install.service is skipped (etcd is in /opt/bin), and
# etcd-member.service still runs it.
check_etcd_release core-02
end

# Every node boots a second time, as a user's `reload` does (halt, boot
# without provisioning): the disks must still boot, and the lab come back
# green.
begin reload
"$bin" reload >&2
end

begin verify-after-reload
"$bin" verify --deep --wait 5m >&2
check_etcd_release core-01 core-02 core-03
check_boot_sectors core-01 core-02 core-03
end

begin destroy
"$bin" destroy -f >&2
destroyed=1
end

begin leftovers
# vagrant-libvirt keeps the uploaded box volume for the next lab: that is the
# box cache, not the lab. Anything named after the lab must be gone.
left=$( {
	leftovers
	pgrep -a -f 'qemu-system.*e2e-' || true
} )
[[ -z $left ]] || fail "left behind: $left"
echo "ok: no domains, networks, volumes or qemu processes of the lab left" >&2
end
echo "e2e: PASS" >&2
