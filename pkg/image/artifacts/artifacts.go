// Package artifacts pins the files nodes install at first boot. The pins
// live here, in one place, with the mirror path each is served from.
package artifacts

import (
	"fmt"
	"strings"
)

// Pin is one artifact as cododemo expects it.
type Pin struct {
	Name string // lock key: "fleet"
	File string // fleet-v1.0.0-linux-amd64.tar.gz
	// URL is upstream's.
	URL string
	// MirrorPath is the path under the mirror base URL.
	MirrorPath string
	// SHA256 is upstream's published hash; "" means cododemo has none to
	// pin, and `cododemo lock` pins what the server sends (trust on first
	// use, said out loud).
	SHA256 string
}

// fleetSHA256 pins fleet's release tarballs by version and arch.
//
// No upstream sha256 for fleet-v1.0.0-linux-amd64.tar.gz could be found
// (coreos/fleet is archived; its release page lists no checksums and no
// packaging recipe in reach pins it). Until someone who holds the real
// tarball fills it in, `cododemo lock` records the hash of what it
// downloads, and every later fetch, bundle and node is held to that.
var fleetSHA256 = map[string]string{
	"v1.0.0/amd64": "",
}

// Fleet returns the pin of fleet's release tarball.
func Fleet(version, arch string) (Pin, error) {
	sha, ok := fleetSHA256[version+"/"+arch]
	if !ok {
		var known []string
		for k := range fleetSHA256 {
			known = append(known, k)
		}
		return Pin{}, fmt.Errorf("fleet %s has no linux-%s release known to cododemo (known: %s)", version, arch, strings.Join(known, ", "))
	}
	file := fmt.Sprintf("fleet-%s-linux-%s.tar.gz", version, arch)
	return Pin{
		Name:       "fleet",
		File:       file,
		URL:        fmt.Sprintf("https://github.com/coreos/fleet/releases/download/%s/%s", version, file),
		MirrorPath: "artifacts/" + file,
		SHA256:     sha,
	}, nil
}

// Source returns where to fetch p: the mirror when one is set.
func (p Pin) Source(mirror string) string {
	if mirror != "" {
		return strings.TrimRight(mirror, "/") + "/" + p.MirrorPath
	}
	return p.URL
}
