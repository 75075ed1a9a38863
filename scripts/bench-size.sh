#!/bin/sh
# Size of each release binary, built as releases are: cgo off, -trimpath,
# -ldflags '-s -w' (no symbol table, no DWARF). Prints bytes and MiB.
# Usage: scripts/bench-size.sh   (from the repository root)
set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for t in linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64; do
	os=${t%/*} arch=${t#*/}
	out="$tmp/cododemo-$os-$arch"
	[ "$os" = windows ] && out="$out.exe"
	CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath -ldflags '-s -w' -o "$out" ./cmd/cododemo
	bytes=$(wc -c < "$out" | tr -d ' ')
	awk -v t="$t" -v b="$bytes" 'BEGIN { printf "%-14s %10d bytes  %5.1f MiB\n", t, b, b / 1048576 }'
done
echo "($(go version))"
