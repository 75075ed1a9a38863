// Package artifacts pins the files nodes install at first boot. The pins
// live here, in one place, with the mirror path each is served from.
package artifacts

import (
	"fmt"
	"maps"
	"net/url"
	"path"
	"slices"
	"strings"
)

// MaxSize bounds an artifact cododemo has no hash for, so a server cannot
// make `cododemo lock` store (and pin) whatever it likes: an artifact is a
// release tarball of a few static binaries (fleet's is about 10 MiB,
// etcd's about 20 MiB).
const MaxSize = 256 << 20

// Pin is one artifact as cododemo expects it.
type Pin struct {
	Name string // lock key: "fleet", "etcd", "kit"
	File string // fleet-v1.0.0-linux-amd64.tar.gz
	Arch string // amd64
	// URL is upstream's.
	URL string
	// MirrorPath is the path under the mirror base URL.
	MirrorPath string
	// SHA256 is the hash nodes are held to: upstream's published hash, or
	// the user's override. "" means cododemo has none to pin, and
	// `cododemo lock` pins what the server sends (trust on first use, said
	// out loud).
	SHA256 string
	// Overridden is set when SHA256 is the user's (a tarball of their own
	// build on their mirror) rather than cododemo's built-in pin.
	Overridden bool
	// Builtin is cododemo's own pin, kept beside an override so the
	// warning can name what was replaced ("" when there is none).
	Builtin string
}

// release is one project's Linux release tarballs on GitHub:
// <base>/<version>/<name>-<version>-linux-<arch>.tar.gz.
type release struct {
	name string
	base string
	// sha256 by "version/arch"; "" = known to exist, no hash to pin.
	sha256 map[string]string
}

// fleet's release tarballs.
//
// No upstream sha256 for fleet-v1.0.0-linux-amd64.tar.gz could be found
// (coreos/fleet is archived; its release page lists no checksums and no
// packaging recipe in reach pins it). Until someone who holds the real
// tarball fills it in, `cododemo lock` records the hash of what it
// downloads, and every later fetch, bundle and node is held to that.
var fleet = release{
	name: "fleet",
	base: "https://github.com/coreos/fleet/releases/download",
	sha256: map[string]string{
		"v1.0.0/amd64": "",
	},
}

// etcd's release tarballs: etcd-io/etcd release v3.5.21, cross-checked
// against kubespray's checksum list (the amd64 value also appears in
// chromebrew's etcd.rb and in several Bazel and installer scripts). The
// arm64 value is the same in two unrelated public pins of the tarball (a
// Bazel module extension's tool table and a Go installer's sha256 table);
// no other arch is pinned.
var etcd = release{
	name: "etcd",
	base: "https://github.com/etcd-io/etcd/releases/download",
	sha256: map[string]string{
		"v3.5.21/amd64": "adddda4b06718e68671ffabff2f8cee48488ba61ad82900e639d108f2148501c",
		"v3.5.21/arm64": "95bf6918623a097c0385b96f139d90248614485e781ec9bee4768dbb6c79c53f",
	},
}

// File is the release tarball's name: <name>-<version>-linux-<arch>.tar.gz.
func File(name, version, arch string) string {
	return fmt.Sprintf("%s-%s-linux-%s.tar.gz", name, version, arch)
}

func (r release) pin(version, arch string) Pin {
	file := File(r.name, version, arch)
	return Pin{
		Name:       r.name,
		File:       file,
		Arch:       arch,
		URL:        fmt.Sprintf("%s/%s/%s", r.base, version, file),
		MirrorPath: "artifacts/" + file,
	}
}

// known returns the pin of a release cododemo knows, or an error listing
// what it knows.
func (r release) known(version, arch string) (Pin, error) {
	sha, ok := r.sha256[version+"/"+arch]
	if !ok {
		return Pin{}, fmt.Errorf("%s %s has no linux-%s release known to cododemo (known: %s)",
			r.name, version, arch, strings.Join(slices.Sorted(maps.Keys(r.sha256)), ", "))
	}
	p := r.pin(version, arch)
	p.SHA256, p.Builtin = sha, sha
	return p, nil
}

// Fleet returns the pin of fleet's release tarball.
func Fleet(version, arch string) (Pin, error) {
	return fleet.known(version, arch)
}

// Etcd returns the pin of etcd's release tarball. A non-empty override
// (etcd.release_sha256: a tarball of the user's own build on their
// mirror) replaces the built-in pin, and makes a version cododemo has no
// pin for usable.
func Etcd(version, arch, override string) (Pin, error) {
	p, err := etcd.known(version, arch)
	if override == "" {
		return p, err
	}
	if err != nil {
		p = etcd.pin(version, arch)
	}
	p.SHA256, p.Overridden = override, true
	return p, nil
}

// KitName is the image kit's key in the lock.
const KitName = "kit"

// KitFile is the image kit tarball's name for arch.
func KitFile(arch string) string { return "cododemo-kit-" + arch + ".tar" }

// Kit returns the pin of the workshop's image kit for arch. The kit has
// no upstream download: it is built from cododemo's own sources
// (scripts/build-kit.sh, reproducibly, printing its sha256) and served
// from the lab's mirror (<mirror>/artifacts/cododemo-kit-<arch>.tar) or
// from url (kit.url) when set. A built-in hash cannot exist before the
// kit of a release is built, so sha256 is the user's (kit.sha256) or
// "": `cododemo lock` then pins what the mirror sends on first use, as
// it does for fleet. An empty URL means "the mirror's copy", resolved by
// whoever knows the mirror.
func Kit(arch, url, sha256 string) Pin {
	file := KitFile(arch)
	return Pin{Name: KitName, File: file, Arch: arch, URL: url, MirrorPath: "artifacts/" + file, SHA256: sha256}
}

// FromURL is the pin of a locked artifact, from the upstream URL the lock
// records: the file name is the URL's last element, served under
// artifacts/ on a mirror. The hash is the lock's business.
func FromURL(name, rawURL string) (Pin, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" || path.Base(u.Path) == "/" || path.Base(u.Path) == "." {
		return Pin{}, fmt.Errorf("%q is not the URL of a file", rawURL)
	}
	file := path.Base(u.Path)
	return Pin{Name: name, File: file, URL: rawURL, MirrorPath: "artifacts/" + file}, nil
}

// Source returns where to fetch p: the mirror when one is set.
func (p Pin) Source(mirror string) string {
	if mirror != "" {
		return strings.TrimRight(mirror, "/") + "/" + p.MirrorPath
	}
	return p.URL
}
