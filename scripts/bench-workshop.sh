#!/bin/sh
# Workshop figures: the run time of the etcd exercise (E3, cleanup
# included) and of its check, on three real sshd + etcd stand-ins on
# loopback; then the kit's size per architecture (two builds, which must
# have the same sha256). The fleet, Docker and failover exercises need real
# VMs: their times come from `cododemo workshop run --all --disruptive -o
# json` in the e2e tier (duration_ms per exercise and step).
set -eu
cd "$(dirname "$0")/.."
go test -run '^$' -bench 'EtcdReplication|EtcdCheck' -benchtime 5x ./pkg/workshop
# load-kit onto 3 stand-ins sharing one real dockerd (vfs): needs docker.io
go test -run '^$' -bench LoadKit -benchtime 3x ./pkg/workshop
sh scripts/build-kit.sh
