#!/usr/bin/env bash
# bench-ssh.sh: what one `cododemo ssh NODE -- true` costs, whole process,
# against a loopback test node (real sshd, pkg/testnodes), next to what a
# user without cododemo pays:
#   - OpenSSH `ssh -F <config> NODE true`, the config written once (what
#     `vagrant ssh-config > cfg` once, then plain ssh, costs per call);
#   - one Vagrant start-up (`vagrant ssh-config` and `vagrant ssh -c true`
#     on a machine that is not created: Ruby loads, reads the Vagrantfile,
#     fails fast; a real `vagrant ssh` pays this and then runs ssh).
# Prints medians. Target: cododemo ssh at least 5x faster than vagrant ssh
# (= Vagrant start-up + ssh).
#
#   scripts/bench-ssh.sh            # RUNS=21 by default
set -euo pipefail
RUNS=${RUNS:-21}
cd "$(dirname "$0")/.."
work=$(mktemp -d)
lab_fd=""
cleanup() {
	[ -n "$lab_fd" ] && exec {lab_fd}>&-
	wait || true
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/cododemo" ./cmd/cododemo
go build -o "$work/testlab" ./pkg/testnodes/testlab

now_ns() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
# time_cmd CMD...: median wall time in ms of RUNS runs (exit status ignored:
# the Vagrant calls fail on purpose).
time_cmd() {
	for _ in $(seq "$RUNS"); do
		local t0; t0=$(now_ns)
		"$@" >/dev/null 2>&1 || true
		echo $(( ($(now_ns) - t0) / 1000 ))
	done | median | awk '{printf "%.1f", $1 / 1000}'
}

# One test node (sshd + etcd), kept up until the fifo is closed.
mkfifo "$work/lab.in"
"$work/testlab" -nodes 1 <"$work/lab.in" >"$work/lab.out" 2>"$work/lab.err" &
exec {lab_fd}>"$work/lab.in"
for _ in $(seq 600); do
	grep -q '^ready$' "$work/lab.out" 2>/dev/null && break
	sleep 0.1
done
grep -q '^ready$' "$work/lab.out" || { echo "testlab not ready" >&2; cat "$work/lab.err" >&2; exit 1; }
field() { sed -n "s/^$1: //p" "$work/lab.out"; }
inv=$(field inventory); user=$(field user); id=$(field identity); kh=$(field known_hosts)
read -r _ node addr port < <(grep '^node: ' "$work/lab.out" | head -1)

# What `vagrant ssh-config` would have printed, written once.
cat >"$work/ssh_config" <<CFG
Host $node
  HostName $addr
  Port $port
  User $user
  IdentityFile $id
  IdentitiesOnly yes
  UserKnownHostsFile $kh
  StrictHostKeyChecking yes
  BatchMode yes
  LogLevel ERROR
CFG

# First contact pins the host key (not counted); both then check it.
"$work/cododemo" ssh --inventory "$inv" "$node" -- true
ssh -F "$work/ssh_config" "$node" true

# A Vagrant project whose machine was never created, Vagrant's own state
# and box cache in the temp dir, no phoning home.
mkdir -p "$work/vagrant"
cat >"$work/vagrant/Vagrantfile" <<'VF'
Vagrant.configure("2") do |config|
  config.vm.box = "cododemo-bench"
  config.vm.define "core-01"
end
VF
export VAGRANT_HOME="$work/vagrant-home" VAGRANT_CHECKPOINT_DISABLE=1 VAGRANT_BOX_UPDATE_CHECK_DISABLE=1
vagrant_ssh_config() { (cd "$work/vagrant" && vagrant ssh-config core-01); }
vagrant_ssh() { (cd "$work/vagrant" && vagrant ssh core-01 -c true); }
vagrant_ssh_config >/dev/null 2>&1 || true # first run creates VAGRANT_HOME: not counted

c=$(time_cmd "$work/cododemo" ssh --inventory "$inv" "$node" -- true)
s=$(time_cmd ssh -F "$work/ssh_config" "$node" true)
vc=$(time_cmd vagrant_ssh_config)
vs=$(time_cmd vagrant_ssh)
vmsg=$(cd "$work/vagrant" && vagrant ssh core-01 -c true 2>&1 | head -1 || true)

echo
echo "cododemo ssh benchmark ($RUNS runs each, medians, whole process; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg); $(vagrant --version))"
printf '  %-58s %8s ms\n' "cododemo ssh $node -- true" "$c"
printf '  %-58s %8s ms\n' "ssh -F <config written once> $node true" "$s"
printf '  %-58s %8s ms\n' "vagrant ssh-config (start-up, machine not created)" "$vc"
printf '  %-58s %8s ms\n' "vagrant ssh -c true (start-up, machine not created)" "$vs"
echo "  (vagrant ssh on a not-created machine says: $vmsg)"
awk -v c="$c" -v s="$s" -v vc="$vc" -v vs="$vs" 'BEGIN {
	printf "  vagrant ssh (start-up + ssh) / cododemo ssh:   %.1fx  (target >= 5x): %s\n", (vs + s) / c, ((vs + s) / c >= 5 ? "met" : "NOT MET")
	printf "  vagrant ssh-config + ssh, per call / cododemo: %.1fx\n", (vc + s) / c
	printf "  ssh with a config written once / cododemo:     %.2fx\n", s / c
}'
