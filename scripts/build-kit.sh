#!/bin/sh
# Builds the workshop image kit (hello, web, lb as static FROM scratch
# images in one docker-load-able tarball per architecture), twice, and
# prints each tarball's size and sha256: the two builds must agree, which
# is what lets the kit be pinned by sha256.
set -eu
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go run ./kit/buildkit -o "$tmp/a"
go run ./kit/buildkit -o "$tmp/b"
if cmp -s "$tmp/a/SHA256SUMS" "$tmp/b/SHA256SUMS"; then
	echo "reproducible: two builds, same sha256"
else
	echo "NOT reproducible:"; diff "$tmp/a/SHA256SUMS" "$tmp/b/SHA256SUMS"; exit 1
fi
for f in "$tmp"/a/*.tar; do
	printf '%s: %s bytes\n' "$(basename "$f")" "$(wc -c < "$f" | tr -d ' ')"
done
if [ -n "${1:-}" ]; then mkdir -p "$1" && cp "$tmp"/a/* "$1"/; fi
