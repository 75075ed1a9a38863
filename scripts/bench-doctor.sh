#!/bin/sh
# Times `cododemo doctor` as a user runs it: a fresh process each run, every
# probe real. Prints each run and the median, per provider.
# Usage: scripts/bench-doctor.sh [runs]   (from the repository root)
set -eu
runs=${1:-7}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/cododemo" ./cmd/cododemo
bin="$tmp/cododemo"
mkdir "$tmp/lab" "$tmp/vagrant.d"
export VAGRANT_HOME="$tmp/vagrant.d"
cd "$tmp/lab"
for provider in virtualbox libvirt; do
	: > "$tmp/times"
	i=0
	while [ "$i" -lt "$runs" ]; do
		start=$(date +%s%N)
		"$bin" doctor --provider "$provider" -o json >/dev/null 2>&1 || [ $? -eq 1 ]
		end=$(date +%s%N)
		echo $(( (end - start) / 1000000 )) >> "$tmp/times"
		i=$((i + 1))
	done
	echo "$provider: runs (ms): $(tr '\n' ' ' < "$tmp/times")"
	echo "$provider: median $(sort -n "$tmp/times" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}') ms over $runs runs ($(basename "$bin"))"
done
