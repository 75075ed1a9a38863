#!/bin/sh
# Start-up time of `cododemo version`: a fresh process each run, the
# release build (cgo off, -trimpath, -s -w). Prints every run and the
# median. The interval is taken with date(1) in nanoseconds around the
# command, so it includes the shell's fork and exec, as a user's does.
# Usage: scripts/bench-startup.sh [runs]   (from the repository root; default 21)
set -eu
runs=${1:-21}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$tmp/cododemo" ./cmd/cododemo
bin="$tmp/cododemo"
"$bin" version >/dev/null # warm the page cache: the figure is a warm start
: > "$tmp/times"
i=0
while [ "$i" -lt "$runs" ]; do
	start=$(date +%s%N)
	"$bin" version >/dev/null
	end=$(date +%s%N)
	echo $(( (end - start) / 1000 )) >> "$tmp/times"
	i=$((i + 1))
done
echo "runs (us): $(tr '\n' ' ' < "$tmp/times")"
sort -n "$tmp/times" | awk -v n="$runs" '{a[NR]=$1} END {printf "median %.1f ms over %d runs (min %.1f, max %.1f) on %s/%s\n", a[int((NR+1)/2)]/1000, n, a[1]/1000, a[NR]/1000, "'"$(go env GOOS)"'", "'"$(go env GOARCH)"'"}'
