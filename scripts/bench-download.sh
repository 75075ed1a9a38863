#!/bin/sh
# bench-download.sh: measure cododemo's box download against curl on the
# same 256 MiB file from a loopback server (target: x-curl >= 0.8), and the
# cost of a cache hit (target: < 100 ms, no request to the server).
# Needs curl (apt-get install -y curl). Runs from the repository root.
set -eu
cd "$(dirname "$0")/.."
command -v curl >/dev/null || { echo "bench-download.sh: curl is required (apt-get install -y curl)" >&2; exit 1; }
count=${COUNT:-3}
echo "== download: cododemo (go-getter + sha256 + verify + rename) vs curl -o, loopback, 256 MiB, ${count} runs"
go test -run '^$' -bench 'DownloadVsCurl' -benchtime 8x -count "$count" ./pkg/image/download/ | grep -E '^Benchmark'
echo "== cache hit: locked box already in the cache (fails if any request reaches the server)"
go test -run '^$' -bench 'CacheHit' -benchtime 50x ./pkg/image/ | grep -E '^Benchmark'
echo "(load average: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo n/a); the machine's other work skews the download ratio)"
