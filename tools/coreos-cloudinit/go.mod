// Tools module for the real-VM tier: builds coreos-cloudinit v1.14.0, the
// cloud-config agent of the stable Flatcar Vagrant box, from the Go module
// proxy. It predates modules; its vendor.manifest pins 2014-era commits,
// which live here and never touch the project's go.mod. e2e/README.md says,
// dependency by dependency, what the proxy serves and what stands in.
module github.com/cododemo/cododemo/tools/coreos-cloudinit

go 1.26.0

require github.com/coreos/coreos-cloudinit v1.14.0

require (
	// vendor.manifest's commits, served as pseudo-versions.
	github.com/coreos/yaml v0.0.0-20141224210557-6b16a5714269 // indirect
	github.com/sigma/bdoor v0.0.0-20160202064022-babf2a4017b0 // indirect
	github.com/sigma/vmw-guestinfo v0.0.0-20160204083807-95dd4126d6e8 // indirect
	// vendor.manifest's 55d41c3e21e1 is not served; the v1.0.0 tag (2014-06-09)
	// holds pkg/netlink byte for byte as at that commit.
	github.com/dotcloud/docker v1.0.0 // indirect
	// vendor.manifest's 4fbc5060a317 (2014-03-26) is not served; the v2 tag's
	// commit (2014-05-03) is. Its dbus/ differs by methods added, full unit
	// paths in DisableUnitFiles/SetUnitProperties, a fix to closing a
	// subscription, and go.dbus's new import path (see the replace).
	github.com/coreos/go-systemd v0.0.0-20140503193739-f743bc15d6bd // indirect
	github.com/godbus/dbus v0.0.0-20131113121618-f6a3a2366cc3 // indirect
	// vmw-guestinfo's own vendored rpcout, from the repository it moved to.
	github.com/vmware/vmw-guestinfo v0.0.0-20220317130741-510905f0efa3 // indirect
	// Not served at vendor.manifest's commit nor at the repositories' newest
	// commits: stand-ins (replaced below).
	github.com/cloudsigma/cepgo v0.0.0-20140805094338-1bfc4895bf5c // indirect
	github.com/sigma/vmw-ovflib v0.0.0-20150531125353-56b4f44581ca // indirect
)

// go.dbus at vendor.manifest's commit f6a3a2366cc3, under the name go-systemd
// imports it by since 2014-03-27.
replace github.com/godbus/dbus => github.com/guelfey/go.dbus v0.0.0-20131113121618-f6a3a2366cc3

// Stand-ins with the API coreos-cloudinit calls, every call failing. Only its
// CloudSigma and VMware datasources use them; the Vagrant path (--from-file)
// never does.
replace (
	github.com/cloudsigma/cepgo => ./standin/cepgo
	github.com/sigma/vmw-ovflib => ./standin/vmw-ovflib
)
