#!/usr/bin/env bash
# build-fleet.sh: build fleetd and fleetctl v1.0.0 from the Go module proxy
# (tools/fleet pins the old dependencies fleet needs) and pack them the way the
# upstream release did: fleet-v1.0.0-linux-amd64.tar.gz holding a top directory
# fleet-v1.0.0-linux-amd64/ with fleetd, fleetctl and README.md (see upstream
# scripts/release.sh). The tarball is reproducible: the same inputs give the
# same sha256, so a lab's lock file can pin it.
#
# Output (cached outside the repo, reused while the inputs are unchanged):
#   $E2E_CACHE_DIR/fleet/fleet-v1.0.0-linux-amd64.tar.gz
# The last line on stdout is "<sha256>  <path>".
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
module_dir="$here/../tools/fleet"
cache="${E2E_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/cododemo-e2e}/fleet"
version=v1.0.0
name="fleet-$version-linux-amd64"
tarball="$cache/$name.tar.gz"

# Inputs that decide the bytes of the tarball: the pins, this script, the toolchain.
stamp=$(cat "$module_dir/go.mod" "$module_dir/go.sum" "$0" <(go version) | sha256sum | cut -d' ' -f1)
if [[ -f $tarball && -f $cache/stamp && $(cat "$cache/stamp") == "$stamp" ]]; then
	echo "build-fleet.sh: reusing $tarball" >&2
	(cd "$cache" && sha256sum "$name.tar.gz" | sed "s|  |  $cache/|")
	exit 0
fi

mkdir -p "$cache"
work=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/$name"

cd "$module_dir"
# Static (no cgo) like upstream's ./build; -trimpath and an empty build id keep
# the binaries byte-for-byte reproducible; the version is what upstream's
# build-env injected from `git describe`.
export CGO_ENABLED=0 GOOS=linux GOARCH=amd64 GOFLAGS=-mod=readonly
ldflags="-s -w -buildid= -X github.com/coreos/fleet/version.Version=$version"
# The root package of github.com/coreos/fleet is fleetd's main (upstream's
# ./build does `go build -o bin/fleetd github.com/coreos/fleet`).
go build -trimpath -ldflags "$ldflags" -o "$work/$name/fleetd" github.com/coreos/fleet
go build -trimpath -ldflags "$ldflags" -o "$work/$name/fleetctl" github.com/coreos/fleet/fleetctl
src=$(go list -m -f '{{.Dir}}' github.com/coreos/fleet)
install -m 0644 "$src/README.md" "$work/$name/README.md"

"$work/$name/fleetd" -version >&2
"$work/$name/fleetctl" version >&2

tar -C "$work" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
	-cf - "$name" | gzip -n -9 >"$work/$name.tar.gz"
mv "$work/$name.tar.gz" "$tarball"
echo "$stamp" >"$cache/stamp"
(cd "$cache" && sha256sum "$name.tar.gz" | sed "s|  |  $cache/|")
