# Sourced by build-box.sh for the stable flavour: a box that behaves like
# today's stable Flatcar Vagrant box. No Ignition; real coreos-cloudinit
# v1.14.0 and its units; the Vagrant OEM's cloud-config (after flatcar/scripts
# coreos-base/oem-vagrant/files/, branch flatcar-4593); only Vagrant's
# insecure key authorised for core; zz-default.network.
# Uses build-box.sh's $here, $cache, $cloudinit_version and log.

# Real coreos-cloudinit, built from the module proxy in its own tools module
# (tools/coreos-cloudinit holds its 2014-era pins). cgo: its VMware
# datasource links C code; the binary needs only libc.
cci_dir="$cache/coreos-cloudinit"
cci_src="$here/../tools/coreos-cloudinit"
build_cloudinit() {
	mkdir -p "$cci_dir"
	local cci_ldflags="-X main.version=$cloudinit_version" cci_stamp
	cci_stamp=$( {
		cd "$cci_src" && find . -type f -print0 | sort -z | xargs -0 sha256sum
		go version
		echo "$cci_ldflags"
	} | sha256sum | cut -d' ' -f1)
	if [[ ! -x $cci_dir/coreos-cloudinit || $(cat "$cci_dir/stamp" 2>/dev/null) != "$cci_stamp" ]]; then
		log "building coreos-cloudinit $cloudinit_version (tools/coreos-cloudinit)"
		(
			cd "$cci_src"
			CGO_ENABLED=1 GOFLAGS=-mod=readonly go build -trimpath -ldflags "$cci_ldflags" \
				-o "$cci_dir/coreos-cloudinit.new" github.com/coreos/coreos-cloudinit
		)
		mv "$cci_dir/coreos-cloudinit.new" "$cci_dir/coreos-cloudinit"
		echo "$cci_stamp" >"$cci_dir/stamp"
	fi
	"$cci_dir/coreos-cloudinit" --version >&2
	# Its own systemd units, from the module source (not copied into this repo).
	cci_units=$(cd "$cci_src" && GOFLAGS=-mod=readonly go list -m -f '{{.Dir}}' github.com/coreos/coreos-cloudinit)/units
}

# Vagrant's insecure public key: what the stable box's OEM config authorises.
vagrant_pub() {
	local f
	for f in /usr/share/rubygems-integration/all/gems/vagrant-*/keys/vagrant.pub /opt/vagrant/embedded/gems/gems/vagrant-*/keys/vagrant.pub; do
		[[ -f $f ]] && { cat "$f"; return; }
	done
	log "Vagrant's insecure public key (keys/vagrant.pub of the vagrant gem) not found"
	return 1
}


stable_prepare() {
	build_cloudinit
	insecure_pub=$(vagrant_pub)
}

# What decides the stable image besides build-box.sh and the shared overlay.
stable_inputs() {
	cat "$here/box/stable.sh"
	sha256sum <"$cci_dir/coreos-cloudinit"
	(cd "$cci_units" && cat -- *)
	(cd "$here/box/overlay-stable" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
	echo "$insecure_pub"
}

stable_configure() {
	local root=$1 u
	# No Ignition: the first-boot Ignition unit and its DHCP go, the stable
	# box's OEM and coreos-cloudinit come in.
	rm -f "$root/etc/systemd/system/cododemo-firstboot.service" \
		"$root/usr/lib/cododemo-box/firstboot" "$root/usr/lib/cododemo-box/dhclient.conf" \
		"$root/etc/systemd/network/50-dhcp.network"
	cp -a "$here/box/overlay-stable/." "$root/"
	chown -R root:root "$root/oem" "$root/usr/bin/update-ssh-keys" "$root/usr/lib/systemd/system" "$root/etc/systemd/network" "$root/etc/ssh/sshd_config.d"
	install -m 0755 "$cci_dir/coreos-cloudinit" "$root/usr/bin/coreos-cloudinit"
	# coreos-cloudinit's units as Flatcar ships them: its fork names the
	# environment unit flatcar-setup-environment and the install path
	# flatcar-install; upstream v1.14.0 says coreos-.
	for u in system-cloudinit@.service user-cloudinit@.service user-cloudinit@.path \
		system-config.target user-config.target user-cloudinit-proc-cmdline.service; do
		sed -e 's/coreos-setup-environment/flatcar-setup-environment/g' \
			-e 's/coreos\\x2dinstall/flatcar\\x2dinstall/g' "$cci_units/$u" >"$root/usr/lib/systemd/system/$u"
		chmod 0644 "$root/usr/lib/systemd/system/$u"
	done
	# Flatcar's defaults for the update engine are /usr/share/flatcar/update.conf;
	# coreos-cloudinit v1.14.0 reads them at their CoreOS path when a
	# cloud-config has an update section (Flatcar's fork reads the Flatcar one).
	ln -s ../flatcar/update.conf "$root/usr/share/coreos/update.conf" 2>/dev/null ||
		{ mkdir -p "$root/usr/share/coreos" && ln -s ../flatcar/update.conf "$root/usr/share/coreos/update.conf"; }
	# The OEM partition's files (Flatcar mounts it at /oem; /usr/share/oem
	# is where coreos-cloudinit's system-config.target reads cloud-config.yml).
	ln -s /oem "$root/usr/share/oem"
	# The Vagrant OEM's cloud-config, after coreos-base/oem-vagrant/files/
	# cloud-config.yml (flatcar-4593): make /var/lib/flatcar-vagrant, watch for
	# the Vagrantfile's user-data there and hand it to coreos-cloudinit;
	# authorise Vagrant's insecure key for core.
	cat >"$root/oem/cloud-config.yml" <<CLOUDCONFIG
#cloud-config
coreos:
    units:
      - name: coreos-cloudinit-vagrant-mkdir.service
        command: start
        runtime: yes
        content: |
          [Service]
          Type=oneshot
          ExecStart=/bin/mkdir -p /var/lib/flatcar-vagrant
      - name: coreos-cloudinit-vagrant-user.path
        command: start
        runtime: yes
        content: |
          [Path]
          PathExists=/var/lib/flatcar-vagrant/vagrantfile-user-data
          Unit=user-cloudinit@var-lib-flatcar\\x2dvagrant-vagrantfile\\x2duser\\x2ddata.service
    oem:
      id: vagrant
      name: Vagrant
      version-id: cododemo-e2e
      home-url: http://www.vagrantup.com/
      bug-report-url: https://github.com/coreos/coreos-overlay

ssh_authorized_keys:
  - $insecure_pub
CLOUDCONFIG
	chmod 0644 "$root/oem/cloud-config.yml"
	"$root/usr/bin/coreos-cloudinit" -validate -from-file "$root/oem/cloud-config.yml" >&2 ||
		{ log "the OEM cloud-config does not validate"; exit 1; }
}

stable_enable() {
	local root=$1
	chroot "$root" systemctl enable systemd-networkd.service ssh.service cododemo-sshd-keygen.service \
		flatcar-setup-environment.service update-engine.service locksmithd.service >/dev/null 2>&1
	# Flatcar pulls both cloud-config targets into multi-user.target.
	ln -s /usr/lib/systemd/system/system-config.target "$root/etc/systemd/system/multi-user.target.wants/system-config.target"
	ln -s /usr/lib/systemd/system/user-config.target "$root/etc/systemd/system/multi-user.target.wants/user-config.target"
}
