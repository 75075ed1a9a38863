#!/usr/bin/env bash
# bench-verify.sh: how fast `cododemo verify` is, whole process, against
# loopback test nodes (real sshd + real etcd per node, pkg/testnodes), and
# against the same checks done by a sequential loop of OpenSSH `ssh`
# commands (the best a shell script does). Prints medians.
#
#   scripts/bench-verify.sh            # RUNS=11 by default
#   RUNS=21 scripts/bench-verify.sh
#
# The 20-node case runs 20 sshd but a 3-member etcd cluster: the other 17
# nodes point etcdctl at a member (client-only nodes), so every per-node
# check, and the quorum read-back, still runs on all 20.
#
# cododemo's own CPU is printed too (user+sys of the verify process alone,
# from /usr/bin/time): the wall time of 20 nodes is mostly the 20 sshd and
# their etcdctl runs sharing the machine with it.
set -euo pipefail
RUNS=${RUNS:-11}
cd "$(dirname "$0")/.."
work=$(mktemp -d)
labs=()
cleanup() {
	for fd in "${labs[@]}"; do exec {fd}>&-; done
	wait || true
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/cododemo" ./cmd/cododemo
go build -o "$work/testlab" ./pkg/testnodes/testlab

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2))}'; }

# start_lab NAME ARGS...: starts testlab, waits for "ready", sets $lab_out.
start_lab() {
	local name=$1; shift
	local fifo="$work/$name.in"
	mkfifo "$fifo"
	"$work/testlab" "$@" <"$fifo" >"$work/$name.out" 2>"$work/$name.err" &
	local fd
	exec {fd}>"$fifo" # testlab runs until this is closed
	labs+=("$fd")
	for _ in $(seq 600); do
		grep -q '^ready$' "$work/$name.out" 2>/dev/null && break
		if ! kill -0 $! 2>/dev/null; then cat "$work/$name.err" >&2; exit 1; fi
		sleep 0.1
	done
	grep -q '^ready$' "$work/$name.out" || { echo "testlab $name not ready" >&2; cat "$work/$name.err" >&2; exit 1; }
	lab_out="$work/$name.out"
}

field() { sed -n "s/^$1: //p" "$2"; }

# verify_once OUT: one whole-process verify, in ms.
verify_once() {
	local inv t0; inv=$(field inventory "$1")
	t0=$(now_ms)
	"$work/cododemo" verify --inventory "$inv" -o json >/dev/null
	echo $(( $(now_ms) - t0 ))
}

# warm_up OUT: the first contact pins host keys; not counted. Fails loudly
# when the lab is not healthy.
warm_up() {
	local inv; inv=$(field inventory "$1")
	"$work/cododemo" verify --inventory "$inv" -o json >/dev/null || { "$work/cododemo" verify --inventory "$inv"; exit 1; }
}

# ssh_loop OUT: the same checks, one `ssh` per command, sequentially.
# Commands are those of pkg/health/commands.go.
ssh_loop_once() {
	local out=$1 user id kh first="" key="/cododemo/verify/bench$$"
	user=$(field user "$out"); id=$(field identity "$out"); kh=$(field known_hosts "$out")
	local flags="--dial-timeout=2s --command-timeout=4s"
	run() { ssh -q -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$kh" -i "$id" -p "$2" "$user@$1" "$3" >/dev/null 2>&1 || true; }
	while read -r _ name addr port; do
		[ -z "$first" ] && first="$addr $port"
		run "$addr" "$port" 'cat "${CODODEMO_ROOT}/etc/os-release"; cat "${CODODEMO_ROOT}/usr/share/flatcar/update.conf" "${CODODEMO_ROOT}/etc/flatcar/update.conf" 2>/dev/null; true'
		run "$addr" "$port" "systemctl is-system-running"
		run "$addr" "$port" "systemctl is-active docker"
	done < <(grep '^node: ' "$out")
	set -- $first
	run "$1" "$2" "etcdctl $flags endpoint health --cluster -w json"
	run "$1" "$2" "etcdctl $flags member list -w json"
	run "$1" "$2" "etcdctl $flags endpoint status --cluster -w json"
	run "$1" "$2" "etcdctl $flags put $key v"
	# The read-back on each node is also its local member check, as in
	# cododemo (a linearizable read through the local endpoint).
	while read -r _ name addr port; do
		run "$addr" "$port" "etcdctl $flags get --consistency=l --print-value-only $key"
	done < <(grep '^node: ' "$out")
	run "$1" "$2" "etcdctl $flags del $key"
}

time_ssh_loop() {
	for _ in $(seq "$RUNS"); do
		local t0; t0=$(now_ms)
		ssh_loop_once "$1"
		echo $(( $(now_ms) - t0 ))
	done | median
}

start_lab three -nodes 3
three=$lab_out
start_lab twenty -nodes 20 -members 3
twenty=$lab_out
# paired SMALL BIG: RUNS verifies of each, alternating, so a change in the
# machine's load (2 shared cores) weighs on both alike; sets $small_ms
# and $big_ms to the medians.
paired() {
	warm_up "$1"
	warm_up "$2"
	for _ in $(seq "$RUNS"); do
		echo "$(verify_once "$1") $(verify_once "$2")"
	done >"$work/pairs"
	small_ms=$(cut -d' ' -f1 "$work/pairs" | median)
	big_ms=$(cut -d' ' -f2 "$work/pairs" | median)
}
paired "$three" "$twenty"
v3=$small_ms v20=$big_ms
s3=$(time_ssh_loop "$three")

# cpu_ms OUT: user+sys ms of one verify process alone (bash's `times`
# reports the subshell's children), median of RUNS.
cpu_ms() {
	local inv; inv=$(field inventory "$1")
	for _ in $(seq "$RUNS"); do
		( "$work/cododemo" verify --inventory "$inv" -o json >/dev/null; times ) | tail -n1 |
			awk '{ split($1, u, /[ms]/); split($2, s, /[ms]/); printf "%d\n", (u[1]*60 + u[2] + s[1]*60 + s[2]) * 1000 }'
	done | median
}
# Simulated nodes (testnodes.StartSim): an SSH server per node, real key
# exchange and host keys, answering like a healthy node after the node's
# own time, which passes without costing this machine CPU, as on real VMs.
# What is left is cododemo's scaling.
start_lab simthree -sim -nodes 3
simthree=$lab_out
start_lab simtwenty -sim -nodes 20
simtwenty=$lab_out
paired "$simthree" "$simtwenty"
m3=$small_ms m20=$big_ms

c3=$(cpu_ms "$three")
c20=$(cpu_ms "$twenty")

# busy_ms OUT: CPU the whole machine spent during one verify (user, nice,
# system, irq, softirq from /proc/stat; every process, the simulated
# nodes' sshd, shells and etcdctl included), median of RUNS. Divided by
# the CPU count it is the floor under the wall time: no client can be
# faster than the nodes' own work on these cores.
busy_ms() {
	local inv; inv=$(field inventory "$1")
	local hz; hz=$(getconf CLK_TCK)
	for _ in $(seq "$RUNS"); do
		local a b
		a=$(awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat)
		"$work/cododemo" verify --inventory "$inv" -o json >/dev/null
		b=$(awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat)
		echo $(( (b - a) * 1000 / hz ))
	done | median
}
b3=$(busy_ms "$three")
b20=$(busy_ms "$twenty")
echo
echo "cododemo verify benchmark ($RUNS runs each, medians, whole process; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg))"
printf '  %-44s %6s ms\n' "verify, 3 nodes" "$v3"
printf '  %-44s %6s ms\n' "verify, 20 nodes (20 sshd, 3 etcd members)" "$v20"
printf '  %-44s %6s ms\n' "sequential OpenSSH ssh loop, 3 nodes" "$s3"
printf '  %-44s %6s ms\n' "cododemo's own CPU (user+sys), 3 nodes" "$c3"
printf '  %-44s %6s ms\n' "cododemo's own CPU (user+sys), 20 nodes" "$c20"
printf '  %-44s %6s ms\n' "machine CPU during a verify, 3 nodes" "$b3"
printf '  %-44s %6s ms\n' "machine CPU during a verify, 20 nodes" "$b20"
printf '  %-44s %6s ms\n' "verify, 3 simulated nodes" "$m3"
printf '  %-44s %6s ms\n' "verify, 20 simulated nodes" "$m20"
awk -v v3="$v3" -v v20="$v20" -v s3="$s3" -v b20="$b20" -v c20="$c20" -v n="$(nproc)" -v m3="$m3" -v m20="$m20" 'BEGIN {
	printf "  simulated: 20 nodes / 3 nodes: %.2fx; 20 simulated / 3 real: %.2fx (target < 2x)\n", m20 / m3, m20 / v3
	printf "  floor for 20 nodes: (machine CPU - cododemo CPU) / %d CPUs = %d ms = %.2fx the 3-node time\n", n, (b20 - c20) / n, (b20 - c20) / n / v3
	printf "  real stand-ins: 20 nodes / 3 nodes: %.2fx (target < 2x)\n", v20 / v3
	printf "  ssh loop / verify:  %.1fx faster (target >= 3x)\n", s3 / v3
	printf "  3-node median under 1 s: %s\n", (v3 < 1000 ? "yes" : "NO")
}'
