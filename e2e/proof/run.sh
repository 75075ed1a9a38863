#!/usr/bin/env bash
# run.sh: the one-VM proof of the real-VM path, timed phase by phase:
# libvirt up, fleet tarball, test box, `vagrant up` of core-01 with a
# hand-written Ignition config in fw_cfg, checks over SSH (Ignition applied,
# the key works, etcd-member from the drop-in, etcdctl health, fleetd +
# fleetctl list-machines), `vagrant destroy -f`, and a check that nothing of
# ours is left in libvirt or the process table.
#
#   sudo e2e/proof/run.sh            # KEEP=1 leaves the VM up for a look
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
e2e=$(cd "$here/.." && pwd)
cache="${E2E_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/cododemo-e2e}"
export E2E_CACHE_DIR="$cache"
export VAGRANT_HOME="$cache/vagrant-home"
export VAGRANT_DEFAULT_PROVIDER=libvirt VAGRANT_CHECKPOINT_DISABLE=1 VAGRANT_BOX_UPDATE_CHECK_DISABLE=1
export LIBVIRT_DEFAULT_URI=qemu:///system
virsh() { command virsh -c qemu:///system "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
# vagrant-libvirt uploads the box once as a base volume named after the box and
# its version (a timestamp for an unversioned box) and never deletes it.
remove_base_volumes() {
	local v
	for v in $(virsh vol-list --pool default | awk '$1 ~ /^cododemo-e2e_vagrant_box_image_/ {print $1}'); do
		virsh vol-delete --pool default "$v" >/dev/null
	done
}
# vagrant-libvirt redraws an upload progress line thousands of times: keep logs readable.
# Each kept line is stamped with the wall clock, to see where `vagrant up` spends its time.
quiet_progress() {
	local line
	stdbuf -oL tr '\r' '\n' | grep --line-buffered -v 'Progress: ' | while IFS= read -r line; do
		printf '%(%T)T %s\n' -1 "$line"
	done
}

# The key and the Ignition config live where libvirt's qemu user can read the
# config (fw_cfg file=): a world-traversable directory outside /root.
state=$(mktemp -d /tmp/cododemo-proof.XXXXXX)
chmod 755 "$state"
export E2E_PROOF_STATE="$state"
# Vagrant keeps its machine state next to the Vagrantfile: give it a copy.
cp "$here/Vagrantfile" "$state/Vagrantfile"
export VAGRANT_CWD="$state"

declare -a timings=()
phase_start=0
begin() { phase=$1; phase_start=$(date +%s.%N); echo "== $phase" >&2; }
end() { local t; t=$(awk -v a="$phase_start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}'); timings+=("$phase: ${t}s"); echo "== $phase done in ${t}s" >&2; }
report() { printf '%s\n' "${timings[@]}" >&2; }

destroyed=0
teardown() {
	local rc=$?
	if [[ ${KEEP:-0} == 1 && $destroyed == 0 ]]; then
		echo "KEEP=1: VM left running; state in $state (VAGRANT_CWD=$state VAGRANT_HOME=$VAGRANT_HOME vagrant destroy -f)" >&2
	elif [[ $destroyed == 0 ]]; then
		cp "$state/core-01.console.log" "$cache/proof-console.log" 2>/dev/null &&
			echo "serial console kept in $cache/proof-console.log" >&2
		vagrant destroy -f >&2 || true
		rm -rf "$state"
	fi
	report
	exit $rc
}
trap teardown EXIT

begin setup-libvirt; "$e2e/setup-libvirt.sh" >&2; end
begin build-fleet; fleet_line=$("$e2e/build-fleet.sh" | tail -n1); end
fleet_tgz=${fleet_line#*  }
begin build-box; box_line=$("$e2e/build-box.sh" | tail -n1); end
box_file=${box_line#*  }
box_sha=${box_line%%  *}

begin box-add
# Re-add only when the box changed; vagrant-libvirt caches the uploaded base
# volume by box name and version, so drop that too.
if [[ $(cat "$VAGRANT_HOME/cododemo-e2e.sha256" 2>/dev/null) != "$box_sha" ]]; then
	vagrant box remove --force cododemo-e2e >/dev/null 2>&1 || true
	remove_base_volumes
	vagrant box add --force --name cododemo-e2e "$box_file" >&2
	echo "$box_sha" >"$VAGRANT_HOME/cododemo-e2e.sha256"
fi
end

ssh-keygen -q -t ed25519 -N '' -C cododemo-proof -f "$state/id_ed25519"
pub=$(cat "$state/id_ed25519.pub")
sed "s|@SSH_PUBKEY@|$pub|" "$here/core-01.ign.in" >"$state/core-01.ign"
chmod 644 "$state/core-01.ign"
python3 -m json.tool "$state/core-01.ign" >/dev/null

begin vagrant-up; vagrant up --provider=libvirt 2>&1 | quiet_progress >&2; end

# SSH ourselves (not `vagrant ssh`, 1-2 s of Ruby each) with the lab key.
ip=$(vagrant ssh-config core-01 | awk '$1 == "HostName" {print $2}')
sshv() {
	ssh -q -i "$state/id_ed25519" -o IdentitiesOnly=yes -o BatchMode=yes -o ConnectTimeout=10 \
		-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "core@$ip" "$@"
}

begin checks
echo "management address $ip" >&2
[[ $(sshv hostname) == core-01 ]] || fail "hostname is not core-01"
echo "ok: hostname core-01 from Ignition; ssh as core with the lab key" >&2
sshv 'sudo -n true' || fail "core has no passwordless sudo"
sshv 'test -f /etc/.ignition-result.json && sudo cat /etc/.ignition-result.json' >&2 || fail "no Ignition result"
echo >&2
sshv 'sudo journalctl -b -u cododemo-firstboot --no-pager | tail -n 5' >&2
sshv 'systemctl is-enabled etcd-member.service && systemctl cat etcd-member.service | grep -c ETCD_' >&2
# etcd may still be starting (it waits for network-online); bounded wait.
ok=0
for _ in $(seq 1 30); do
	if sshv 'systemctl is-active --quiet etcd-member.service && etcdctl endpoint health'; then ok=1; break; fi
	sleep 2
done
((ok)) || { sshv 'systemctl status etcd-member --no-pager; sudo journalctl -u etcd-member --no-pager | tail -n 30' >&2 || true; fail "etcd-member not healthy"; }
sshv 'etcdctl --endpoints=http://10.231.8.11:2379 member list -w table; ETCDCTL_API=2 etcdctl --endpoints=http://10.231.8.11:2379 cluster-health' >&2
sshv 'sudo cat /proc/$(systemctl show -p MainPID --value etcd-member)/environ | tr "\0" "\n" | grep ^ETCD_ | sort' >&2
sshv 'cat /etc/machine-id; ip -br a' >&2
end

begin fleet
scp -q -i "$state/id_ed25519" -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no \
	-o UserKnownHostsFile=/dev/null "$fleet_tgz" "$here/fleet.service" "$here/fleet.socket" "$here/hello.service" "core@$ip:/tmp/"
sshv 'sudo tar -C /opt -xzf /tmp/fleet-v1.0.0-linux-amd64.tar.gz && ls /opt/fleet-v1.0.0-linux-amd64 &&
	sudo install -m 0644 /tmp/fleet.service /tmp/fleet.socket /etc/systemd/system/ &&
	sudo systemctl daemon-reload && sudo systemctl enable --now fleet.socket fleet.service' >&2
# fleetctl through etcd (the way CoreOS-era labs ran it) and through fleetd's
# own API socket; both must list this machine with its public IP.
fleetctl=/opt/fleet-v1.0.0-linux-amd64/fleetctl
ok=0
for _ in $(seq 1 30); do
	out=$(sshv "$fleetctl --driver=etcd --endpoint=http://10.231.8.11:2379 list-machines --full --no-legend" 2>&1 || true)
	if grep -q '10.231.8.11' <<<"$out"; then ok=1; break; fi
	sleep 2
done
((ok)) || { echo "$out" >&2; sshv 'sudo journalctl -u fleet --no-pager | tail -n 30' >&2 || true; fail "fleetctl list-machines (etcd driver) does not show the machine"; }
sshv "$fleetctl --driver=etcd --endpoint=http://10.231.8.11:2379 list-machines --full" >&2
sshv "sudo $fleetctl list-machines --full --no-legend" | grep -q '10.231.8.11' || fail "fleetctl list-machines (API socket) does not show the machine"
echo "ok: fleetd v1.0.0 registered the machine in etcd's v2 API" >&2
# fleet notices etcd and its own machine late: retry start, then poll the state
# (what the removed mantle fleet test did).
ok=0
for _ in $(seq 1 20); do
	sshv "sudo $fleetctl start /tmp/hello.service" >/dev/null 2>&1 || true
	state_out=$(sshv "sudo $fleetctl list-units --no-legend --fields unit,active,machine --full" 2>&1 || true)
	if grep -q 'hello.service[[:space:]]*active' <<<"$state_out"; then ok=1; break; fi
	sleep 3
done
echo "$state_out" >&2
((ok)) || fail "fleet did not start hello.service"
sshv 'systemctl is-active hello.service && sudo journalctl -u hello.service --no-pager | tail -n 2' >&2
echo "ok: fleet scheduled hello.service and systemd runs it" >&2
end

if [[ ${KEEP:-0} == 1 ]]; then exit 0; fi

begin vagrant-destroy; vagrant destroy -f >&2; destroyed=1; end

begin leftovers
vagrant box remove --force cododemo-e2e >/dev/null 2>&1 || true
remove_base_volumes
rm -f "$VAGRANT_HOME/cododemo-e2e.sha256"
left=$( {
	virsh list --all --name | grep -E 'proof|cododemo' || true
	virsh net-list --all --name | grep -E 'proof|cododemo' || true
	virsh vol-list --pool default | grep -E 'proof|cododemo|core-01' || true
	pgrep -a qemu-system || true
} )
rm -rf "$state"
[[ -z $left ]] || fail "left behind: $left"
echo "ok: no domains, networks, volumes or qemu processes of ours left" >&2
end
