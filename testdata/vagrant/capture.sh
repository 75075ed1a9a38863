#!/bin/sh
# Regenerates the captured Vagrant outputs in this directory by running the
# real vagrant (2.3.4 as packaged by Debian, with vagrant-libvirt for a
# provider that answers `status` without a hypervisor). Nothing leaves the
# machine: VAGRANT_HOME is a temp dir and the box comes from a file:// URL.
#   sh testdata/vagrant/capture.sh
set -u
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export VAGRANT_HOME="$tmp/home" VAGRANT_CHECKPOINT_DISABLE=1 VAGRANT_BOX_UPDATE_CHECK_DISABLE=1
unset VAGRANT_DEFAULT_PROVIDER

cap() { # cap NAME DIR CMD... : stdout to NAME, exit code to NAME.rc
	name=$1 dir=$2
	shift 2
	(cd "$dir" && "$@" >"$here/$name" 2>"$tmp/stderr")
	echo $? >"$here/$name.rc"
	# Early failures (a Vagrantfile that does not parse) bypass the
	# machine-readable UI and only reach stderr. Temp paths are replaced so
	# the files do not depend on the machine that captured them.
	rm -f "$here/$name.stderr"
	if [ -s "$tmp/stderr" ]; then
		sed "s|$tmp|/tmp/lab|g" "$tmp/stderr" >"$here/$name.stderr"
	fi
	sed -i "s|$tmp|/tmp/lab|g" "$here/$name"
}

mkdir -p "$tmp/multi" "$tmp/bad" "$tmp/fake" "$tmp/invalid" "$tmp/unreachable" "$tmp/nobox"
cp "$here/Vagrantfile.multi" "$tmp/multi/Vagrantfile"
cp "$here/Vagrantfile.syntax-error" "$tmp/bad/Vagrantfile"
cp "$here/Vagrantfile.fake-provider" "$tmp/fake/Vagrantfile"
cp "$here/Vagrantfile.config-invalid" "$tmp/invalid/Vagrantfile"
cp "$here/Vagrantfile.libvirt-unreachable" "$tmp/unreachable/Vagrantfile"
cp "$here/Vagrantfile.box-missing" "$tmp/nobox/Vagrantfile"

cap version.txt "$tmp" vagrant --version
cap status-libvirt-not-created.csv "$tmp/multi" env VAGRANT_DEFAULT_PROVIDER=libvirt vagrant status --machine-readable
cap status-no-virtualbox.csv "$tmp/multi" env VAGRANT_DEFAULT_PROVIDER=virtualbox vagrant status --machine-readable
cap status-unknown-machine.csv "$tmp/multi" env VAGRANT_DEFAULT_PROVIDER=libvirt vagrant status --machine-readable core-09
cap ssh-config-not-ready.csv "$tmp/multi" env VAGRANT_DEFAULT_PROVIDER=libvirt vagrant ssh-config --machine-readable core-01
cap validate-ok.txt "$tmp/multi" vagrant validate --ignore-provider
cap validate-syntax-error.csv "$tmp/bad" vagrant validate --ignore-provider --machine-readable
cap validate-syntax-error.txt "$tmp/bad" vagrant validate --ignore-provider
cap validate-config-invalid.csv "$tmp/invalid" vagrant validate --ignore-provider --machine-readable

# The in-Vagrantfile provider: real Vagrant output for running machines.
fake() {
	name=$1
	shift
	cap "$name" "$tmp/fake" env VAGRANT_DEFAULT_PROVIDER=cododemo_fake "$@"
}
fake up-fake.csv vagrant up --machine-readable --provider=cododemo_fake
fake status-fake-running.csv vagrant status --machine-readable
fake ssh-config-fake.csv vagrant ssh-config --machine-readable
fake ssh-config-fake.txt vagrant ssh-config
fake halt-fake.csv vagrant halt --machine-readable core-02
fake status-fake-mixed.csv vagrant status --machine-readable
fake destroy-fake.csv vagrant destroy --force --machine-readable
fake up-fake-import-failure.csv env CODODEMO_FAKE_FAIL=import:core-01 vagrant up --machine-readable core-01
# Nodes that do not boot. ip: fog's real wait_for timeout, uncaught as in
# vagrant-libvirt's wait for a DHCP lease (a Ruby backtrace on stderr);
# start: vagrant-libvirt's DomainStartError with libvirt's words for a host
# out of memory; boot: Vagrant's VMBootTimeout.
fake up-fake-ip-timeout.csv env CODODEMO_FAKE_FAIL=ip:core-02 vagrant up --machine-readable core-02
fake up-fake-domain-start.csv env CODODEMO_FAKE_FAIL=start:core-03 CODODEMO_FAKE_NODES=core-03 vagrant up --machine-readable core-03
fake up-fake-boot-timeout.csv env CODODEMO_FAKE_FAIL=boot:core-04 CODODEMO_FAKE_NODES=core-04 vagrant up --machine-readable core-04
cap box-list-empty.csv "$tmp" vagrant box list --machine-readable

# A tiny box and a catalog that points at it, as Flatcar publishes them.
mkdir -p "$tmp/box"
printf '{"provider":"libvirt","format":"qcow2","virtual_size":1}\n' >"$tmp/box/metadata.json"
printf 'Vagrant.configure("2") { |c| }\n' >"$tmp/box/Vagrantfile"
tar -C "$tmp/box" -czf "$tmp/test.box" metadata.json Vagrantfile
sum=$(sha256sum "$tmp/test.box" | cut -d' ' -f1)
for v in 1.0.0 1.1.0; do
	cat >"$tmp/catalog-$v.json" <<JSON
{"name":"cododemo/test","versions":[{"version":"$v","providers":[{"name":"libvirt","url":"file://$tmp/test.box","checksum_type":"sha256","checksum":"$sum"}]}]}
JSON
	(cd "$tmp" && vagrant box add --machine-readable "$tmp/catalog-$v.json" >/dev/null)
done
cap box-list.csv "$tmp" vagrant box list --machine-readable
cap box-list.txt "$tmp" vagrant box list
cap up-libvirt-unreachable.csv "$tmp/unreachable" vagrant up --machine-readable --provider=libvirt core-01
cap up-box-missing.csv "$tmp/nobox" vagrant up --machine-readable --provider=libvirt core-01
