#!/usr/bin/env bash
# Prints the render figures issue 2 asks for: whole-process `cododemo render`
# of the default 3-node lab (median of N), `render --check --matrix`, the
# stripped binary size, and `vagrant validate` alone for comparison.
# Usage: scripts/bench-render.sh [runs]
set -euo pipefail
runs=${1:-21}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bin=$work/cododemo
(cd "$root" && CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$bin" ./cmd/cododemo)

# median_ms CMD...: runs CMD $runs times, prints the median wall time in ms.
median_ms() {
  local t0 t1 times=()
  for _ in $(seq "$runs"); do
    t0=$(date +%s%N); "$@" >/dev/null 2>&1; t1=$(date +%s%N)
    times+=($(( (t1 - t0) / 1000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/1000}'
}

cd "$work"
"$bin" init >/dev/null
"$bin" render >/dev/null 2>&1   # keys and token exist from here on, as on a real laptop
# --force: every run writes all files again (the worst case).
printf 'render (default 3-node lab, whole process, %d runs): median %s ms\n' "$runs" "$(median_ms "$bin" render --force)"
printf 'render --check --matrix (104 combinations, whole process, %d runs): median %s ms\n' "$runs" "$(median_ms "$bin" render --check --matrix)"
size=$(stat -c %s "$bin"); printf "binary size (stripped, CGO_ENABLED=0): %s bytes (%s MB)\n" "$size" "$(awk -v s="$size" "BEGIN{printf \"%.1f\", s/1e6}")"
if command -v vagrant >/dev/null; then
  export VAGRANT_HOME=$work/vagrant.d VAGRANT_CHECKPOINT_DISABLE=1
  runs=5
  printf 'vagrant validate --ignore-provider (one Vagrantfile, %d runs): median %s ms\n' "$runs" \
    "$(cd .cododemo && median_ms vagrant validate --ignore-provider)"
fi
