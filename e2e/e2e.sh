#!/usr/bin/env bash
# e2e.sh: the real-VM tier, `make e2e`. cododemo itself brings up a 3-node lab
# on vagrant-libvirt (QEMU software emulation) from the Flatcar-like test box,
# serves fleet to the nodes from a local mirror through its first-boot server,
# verifies etcd and fleet (--deep), halts a node and sees verify name it,
# brings it back, destroys the lab, and checks nothing is left. Each phase is
# timed. Runs as root on Debian 12.
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
# on loopback: cododemo pins fleet from it (no upstream hash is known) and
# serves it to the nodes itself.
mkdir -p "$lab/mirror/artifacts"
cp "$fleet_tgz" "$lab/mirror/artifacts/"
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
etcd: {from: box}
EOF
export CODODEMO_CACHE_DIR="$lab/cache"
cd "$lab"

begin up
# One node at a time: three TCG guests booting at once on 2 cores starve
# libvirtd, and vagrant-libvirt then reads the domains as "inaccessible".
"$bin" up --serial --wait 10m >&2
end

begin verify-deep
"$bin" verify --deep --wait 3m >&2
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
