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
# Then the same lab again on the stable flavour of the box, which behaves
# like today's stable Flatcar Vagrant box (no Ignition; coreos-cloudinit; only
# Vagrant's insecure key until the lab's cloud-config replaces it): cododemo
# renders the cloud-config path it renders for VirtualBox, libvirt standing
# in for VirtualBox. Up, verify --deep, the stable path's own checks, the boot
# sectors, reload, verify again, destroy.
#
#   sudo e2e/e2e.sh          # KEEP=1 leaves the lab up on failure
#   E2E_FLAVOURS=stable sudo e2e/e2e.sh   # one flavour only
#   E2E_MODE=bench sudo e2e/e2e.sh        # time to green: cododemo vs plain vagrant up
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
bench_srv=""
destroyed=1
current=""
flavours=${E2E_FLAVOURS:-ignition stable}

# Everything of ours in libvirt carries the lab name "e2e".
leftovers() {
	virsh list --all --name | grep -E '^e2e-' || true
	virsh net-list --all --name | grep -E '^e2e-' || true
	virsh vol-list --pool default | awk 'NR > 2 && $1 ~ /^e2e-/ {print $1}' || true
}

teardown() {
	local rc=$?
	if [[ $rc != 0 && ${KEEP:-0} == 1 ]]; then
		echo "KEEP=1: lab left in $current (cd $current && VAGRANT_HOME=$VAGRANT_HOME $bin destroy -f)" >&2
	else
		if [[ $destroyed == 0 && -x $bin && -n $current ]]; then
			(cd "$current" && "$bin" destroy -f >&2) || true
		fi
		[[ -n $mirror_pid ]] && kill "$mirror_pid" 2>/dev/null || true
		[[ -n $bench_srv ]] && kill "$bench_srv" 2>/dev/null || true
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
# The workshop's image kit (hello, web, lb), built from this repository.
begin build-kit; (cd "$repo" && go run ./kit/buildkit -o "$lab/kit" >&2); end
etcd_tgz=${etcd_line#*  }
etcd_sha=${etcd_line%%  *}
# etcd-v3.4.23-linux-amd64.tar.gz -> v3.4.23
etcd_tag=$(basename "$etcd_tgz" .tar.gz)
etcd_tag=${etcd_tag#etcd-}
etcd_tag=${etcd_tag%-linux-amd64}
declare -A box_name=([ignition]=cododemo-e2e [stable]=cododemo-e2e-stable)
for f in $flavours; do
	[[ -n ${box_name[$f]:-} ]] || fail "unknown flavour '$f' in E2E_FLAVOURS (want ignition and/or stable)"
done
mkdir -p "$VAGRANT_HOME"
for f in $flavours; do
	name=${box_name[$f]}
	begin "build-box:$f"; box_line=$("$here/build-box.sh" "$f" | tail -n1); end
	box_file=${box_line#*  }
	box_sha=${box_line%%  *}
	begin "box-add:$f"
	if [[ $(cat "$VAGRANT_HOME/$name.sha256" 2>/dev/null) != "$box_sha" ]]; then
		vagrant box remove --force "$name" >/dev/null 2>&1 || true
		for v in $(virsh vol-list --pool default | awk -v n="${name}_vagrant_box_image_" 'index($1, n) == 1 {print $1}'); do
			virsh vol-delete --pool default "$v" >/dev/null
		done
		vagrant box add --force --name "$name" "$box_file" >&2
		echo "$box_sha" >"$VAGRANT_HOME/$name.sha256"
	fi
	end
done

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
# private one neither; nothing leaves the host. The stable flavour asks for
# cloud-config explicitly: on libvirt `format: auto` means Ignition.
write_lab() {
	local f=$1 dir=$2 extra=""
	[[ $f == stable ]] && extra="format: cloud-config"
	mkdir -p "$dir"
	cat >"$dir/cododemo.yaml" <<EOF
name: e2e
provider: libvirt
box: {name: ${box_name[$f]}}
$extra
mirror: http://127.0.0.1:$mirror_port
nodes: {count: 3, cpus: 1, memory: 1024}
network: {cidr: 10.231.28.0/24, first_host: 11}
libvirt: {driver: qemu, management_cidr: 10.231.27.0/24, management_mode: none}
docker: {enabled: true}
etcd: {from: release, image_tag: $etcd_tag, release_sha256: $etcd_sha}
EOF
}
# One download cache for both labs: fleet is pinned once.
export CODODEMO_CACHE_DIR="$lab/cache"

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

# Disk use on libvirt: each node's disk is a qcow2 overlay of the one box
# volume vagrant-libvirt uploaded; report what each really takes on the host.
declare -a disk_rows=()
report_disks() {
	local node dom disk base row
	for node in "$@"; do
		dom=$(virsh list --all --name | grep -E "^e2e[-_]+$node\$" | head -n1)
		disk=$(virsh domblklist "$dom" --details | awk '$2 == "disk" {print $4; exit}')
		row=$(qemu-img info -U --output=json "$disk" | python3 -c '
import json, sys
i = json.load(sys.stdin)
print("%s overlay %.1f MiB (virtual %d GiB) on %s" % (sys.argv[1], i["actual-size"] / 2**20, i["virtual-size"] // 2**30,
      i.get("full-backing-filename") or i.get("backing-filename") or "no backing file"))' "$node")
		disk_rows+=("$flavour: $row")
		echo "  $row" >&2
	done
	base=$(qemu-img info -U --output=json "$disk" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("full-backing-filename",""))')
	if [[ -n $base ]]; then
		row=$(qemu-img info -U --output=json "$base" | python3 -c 'import json,sys; i=json.load(sys.stdin); print("base volume %.1f MiB" % (i["actual-size"]/2**20))')
		disk_rows+=("$flavour: $row (shared by all nodes)")
		echo "  $row (shared by all nodes)" >&2
	fi
}

# The stable path's own promises, on every node: the lab key is the only key
# authorised (Vagrant's insecure key, which the box's OEM config put there,
# is gone), the hostname, the static private address from the cloud-config
# (not DHCP from zz-default.network), /etc/environment's COREOS_*_IPV4,
# coreos-cloudinit applied the uploaded user-data, and no Ignition ran.
stable_facts=$(cat <<'SH'
set -u
echo "hostname=$(hostname)"
echo "keys=$(grep -c . ~/.ssh/authorized_keys)"
echo "key=$(awk '{print $1" "$2}' ~/.ssh/authorized_keys | head -n1)"
echo "insecure=$(grep -c 'vagrant insecure public key' ~/.ssh/authorized_keys)"
echo "keysets=$(ls ~/.ssh/authorized_keys.d | paste -sd, -)"
echo "addrs=$(ip -4 -o addr show | awk '{print $4}' | paste -sd, -)"
echo "env=$(grep -E '^COREOS_(PUBLIC|PRIVATE)_IPV4=' /etc/environment | paste -sd, -)"
echo "userdata=$(systemctl show -p Result --value 'user-cloudinit@var-lib-flatcar\x2dvagrant-vagrantfile\x2duser\x2ddata.service')"
echo "oem=$(systemctl show -p Result --value 'system-cloudinit@usr-share-oem-cloud\x2dconfig.yml.service')"
echo "ignition=$(test -e /usr/lib/cododemo-box/ignition -o -e /etc/systemd/system/cododemo-firstboot.service && echo yes || echo no)"
echo "cloudinit=$(coreos-cloudinit --version)"
SH
)
check_stable() {
	local node ip facts labkey
	labkey=$(ssh-keygen -y -f "$(find "$current" -name id_ed25519 -print -quit)" | awk '{print $1" "$2}')
	for node in "$@"; do
		ip=10.231.28.$((11 + ${node#core-0} - 1))
		facts=$("$bin" ssh "$node" <<<"$stable_facts" 2>&1) || fail "$node: stable facts: $facts"
		printf '%s\n' "$facts" | grep -E '^[a-z]+=' | sed "s/^/  $node: /" >&2
		python3 - "$node" "$ip" "$labkey" "$facts" <<'PY' || fail "$node: the stable path did not configure the node as it must"
import sys
node, ip, labkey, text = sys.argv[1:5]
f = dict(l.split("=", 1) for l in text.splitlines() if "=" in l and l.split("=", 1)[0].isalpha())
want = {"hostname": node, "keys": "1", "key": labkey, "insecure": "0",
        "userdata": "success", "oem": "success", "ignition": "no",
        "cloudinit": "coreos-cloudinit v1.14.0"}
bad = {k: f.get(k) for k, v in want.items() if f.get(k) != v}
if ip + "/24" not in f.get("addrs", "").split(","):
    bad["addrs"] = f.get("addrs")
if f.get("env") != "COREOS_PUBLIC_IPV4=%s,COREOS_PRIVATE_IPV4=%s" % (ip, ip):
    bad["env"] = f.get("env")
assert not bad, bad
print("ok: %s configured by coreos-cloudinit from the uploaded user-data; only the lab key" % node, file=sys.stderr)
PY
	done
}

# flavour label: the ignition flavour keeps the phase names it always had.
p() { [[ $flavour == ignition ]] && echo "$1" || echo "$flavour/$1"; }

run_lab() {
	flavour=$1
	current="$lab/$flavour"
	write_lab "$flavour" "$current"
	cd "$current"
	destroyed=0

	begin "$(p up)"
	# One node at a time: three TCG guests booting at once on 2 cores starve
	# libvirtd, and vagrant-libvirt then reads the domains as "inaccessible".
	"$bin" up --serial --wait 10m >&2
	end

	begin "$(p verify-deep)"
	"$bin" verify --deep --wait 3m >&2
	end

	begin "$(p etcd-from-release)"
	check_etcd_release core-01 core-02 core-03
	end

	if [[ $flavour == stable ]]; then
		begin "$(p stable-path)"
		check_stable core-01 core-02 core-03
		end
	fi

	begin "$(p boot-sectors)"
	check_boot_sectors core-01 core-02 core-03
	report_disks core-01 core-02 core-03
	end

	if [[ $flavour == ignition ]]; then
		workshop
		halt_and_back
	fi

	# Every node boots a second time, as a user's `reload` does (halt, boot
	# without provisioning): the disks must still boot, and the lab come back
	# green.
	begin "$(p reload)"
	"$bin" reload >&2
	end

	begin "$(p verify-after-reload)"
	"$bin" verify --deep --wait 5m >&2
	check_etcd_release core-01 core-02 core-03
	[[ $flavour != stable ]] || check_stable core-01 core-02 core-03
	check_boot_sectors core-01 core-02 core-03
	end

	begin "$(p destroy)"
	"$bin" destroy -f >&2
	destroyed=1
	end

	begin "$(p leftovers)"
	# vagrant-libvirt keeps the uploaded box volume for the next lab: that is the
	# box cache, not the lab. Anything named after the lab must be gone.
	left=$( {
		leftovers
		pgrep -a -f 'qemu-system.*e2e-' || true
	} )
	[[ -z $left ]] || fail "left behind: $left"
	echo "ok: no domains, networks, volumes or qemu processes of the lab left" >&2
	end
	cd "$lab"
}

# The workshop on the live lab: the kit loaded into every node's Docker,
# then every exercise, failover (a node halted and brought back) included.
workshop() {
	begin workshop-load-kit
	"$bin" workshop load-kit "$lab/kit" >&2
	end

	begin workshop-run-all
	local rc=0
	"$bin" workshop run --all --disruptive -o junit >"$lab/workshop.xml" || rc=$?
	python3 - "$lab/workshop.xml" <<'PY' >&2
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
for ts in root.iter("testsuite"):
    print("  %-22s tests=%s failures=%s skipped=%s time=%ss" % (ts.get("name"), ts.get("tests"), ts.get("failures"), ts.get("skipped"), ts.get("time")))
    for tc in ts.iter("testcase"):
        f = tc.find("failure")
        if f is not None:
            print("    FAIL %s: %s" % (tc.get("name"), (f.get("message") or "")[:300]))
PY
	[[ $rc == 0 ]] || fail "workshop run --all --disruptive exited $rc (report: $lab/workshop.xml)"
	end
}

halt_and_back() {
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
}


# E2E_MODE=bench: time to green, cododemo against plain Vagrant, per flavour,
# on the same box and the same rendered Vagrantfile. cododemo: `cododemo up
# --serial` until its verify passes (up ends with verify). Vagrant: `vagrant
# up --no-parallel` of the Vagrantfile `cododemo render` wrote (with the lock
# cododemo's run made, so the same pins), the same two files served on the
# same address by a plain HTTP server, until every node is booted and
# provisioned; then the same `cododemo verify`. Target: cododemo's time to
# green <= Vagrant's time to all nodes booted + 10%.
declare -a bench_rows=()
secs() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}'; }
bench_lab() {
	flavour=$1
	local t0 t_cdd t_vup t_ver port
	current="$lab/$flavour-cododemo"
	write_lab "$flavour" "$current"
	cd "$current"
	destroyed=0
	begin "$(p bench:cododemo-up-to-green)"
	t0=$(date +%s.%N)
	"$bin" up --serial --wait 10m >&2
	t_cdd=$(secs "$t0")
	end
	begin "$(p bench:destroy)"; "$bin" destroy -f >&2; destroyed=1; end

	current="$lab/$flavour-vagrant"
	write_lab "$flavour" "$current"
	cp "$lab/$flavour-cododemo/cododemo.lock" "$current/"
	cd "$current"
	"$bin" render >&2
	port=8765 # first_boot.port's default
	# What cododemo's first-boot server serves: the pinned artifacts, by path.
	mkdir -p "$current/serve/artifacts"
	cp "$lab/mirror/artifacts/"* "$current/serve/artifacts/"
	# Bound to the management network's gateway only, as cododemo's own
	# server is: it starts once `vagrant up` has made the network (bounded).
	(
		for _ in $(seq 1 600); do
			ip -4 -o addr show | grep -q " 10.231.27.1/" && exec python3 -m http.server "$port" --bind 10.231.27.1 --directory "$current/serve"
			sleep 0.5
		done
		echo "bench: the management network never appeared" >&2
	) >"$current/serve.log" 2>&1 &
	bench_srv=$!
	destroyed=0
	begin "$(p bench:vagrant-up-booted)"
	t0=$(date +%s.%N)
	(cd "$current/.cododemo" && VAGRANT_DEFAULT_PROVIDER=libvirt vagrant up --no-parallel >&2)
	t_vup=$(secs "$t0")
	end
	begin "$(p bench:vagrant-then-verify)"
	"$bin" verify --wait 10m >&2
	t_ver=$(secs "$t0")
	end
	kill "$bench_srv" 2>/dev/null || true
	bench_srv=""
	begin "$(p bench:destroy-vagrant)"; "$bin" destroy -f >&2; destroyed=1; end
	bench_rows+=("$(awk -v f="$flavour" -v c="$t_cdd" -v v="$t_vup" -v g="$t_ver" 'BEGIN{
		printf "%-8s cododemo up to green %6.1fs | vagrant up booted %6.1fs (+10%%: %6.1fs), +verify green %6.1fs | %s",
			f, c, v, v*1.1, g, (c <= v*1.1) ? "target met" : "target MISSED" }')")
	cd "$lab"
}

for f in $flavours; do
	if [[ ${E2E_MODE:-test} == bench ]]; then
		bench_lab "$f"
	else
		run_lab "$f"
	fi
done
if ((${#disk_rows[@]})); then
	echo "disk use per node (libvirt, after first boot):" >&2
	printf '  %s\n' "${disk_rows[@]}" >&2
fi
if ((${#bench_rows[@]})); then
	echo "time to green (3 nodes, serial boots):" >&2
	printf '  %s\n' "${bench_rows[@]}" >&2
fi
echo "e2e: PASS" >&2
