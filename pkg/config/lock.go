package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"maps"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/cododemo/cododemo/pkg/artifacts"
	"github.com/cododemo/cododemo/pkg/fsutil"
	"github.com/cododemo/cododemo/pkg/yamlfile"
)

// LockFile is the lock's name beside the config file. Commit it: it is what
// makes every attendee's lab the same.
const LockFile = "cododemo.lock"

// LockVersion is the lock format's version.
const LockVersion = 1

// Lock pins everything a lab resolves from the network: the exact OS
// release and box, and the artifacts nodes install. A lab with a complete
// lock resolves nothing. Per-lab secrets (SSH key, etcd cluster token) are
// not here: they live in the state dir, because the lock is shared.
type Lock struct {
	Version   int                 `yaml:"version" json:"version"`
	Distro    string              `yaml:"distro" json:"distro"`
	Channel   string              `yaml:"channel" json:"channel"`
	Arch      string              `yaml:"arch" json:"arch"`
	OS        OSRelease           `yaml:"os" json:"os"`
	Artifacts map[string]Artifact `yaml:"artifacts,omitempty" json:"artifacts,omitempty"`
	Templates *TemplateSource     `yaml:"templates,omitempty" json:"templates,omitempty"`
}

// OSRelease is one exact release and its Vagrant box.
type OSRelease struct {
	Version string `yaml:"version" json:"version"` // e.g. 4593.2.5
	Box     Box    `yaml:"box" json:"box"`
	// Image is the signed QEMU image a libvirt box is packed from, since
	// Flatcar publishes no libvirt box. Its box then has no sha256 of its
	// own here: cododemo packs it on each machine from the pinned image.
	Image *Image `yaml:"image,omitempty" json:"image,omitempty"`
}

// Image is one of Flatcar's QEMU images, pinned by the SHA512 in the
// release's DIGESTS file, whose detached signature lock checked.
type Image struct {
	File   string `yaml:"file" json:"file"` // flatcar_production_qemu_image.img
	URL    string `yaml:"url" json:"url"`   // upstream's, even when a mirror served it
	SHA512 string `yaml:"sha512" json:"sha512"`
}

// Box is a Vagrant box as Vagrant's catalog names it.
type Box struct {
	Name     string `yaml:"name" json:"name"`         // flatcar-stable
	Provider string `yaml:"provider" json:"provider"` // virtualbox
	URL      string `yaml:"url" json:"url"`
	SHA256   string `yaml:"sha256" json:"sha256"`
}

// Artifact is a file nodes fetch at first boot (fleet's or etcd's release
// tarball).
type Artifact struct {
	URL    string `yaml:"url" json:"url"`
	SHA256 string `yaml:"sha256" json:"sha256"`
	Size   int64  `yaml:"size,omitempty" json:"size,omitempty"`
}

// TemplateSource pins a remote template source by content hash.
type TemplateSource struct {
	Source string `yaml:"source" json:"source"`
	SHA256 string `yaml:"sha256" json:"sha256"`
}

// Resolved says whether the lock pins an exact OS release and box (or,
// on libvirt, the image its box is packed from).
func (l *Lock) Resolved() bool {
	return l != nil && l.OS.Version != "" && (l.OS.Box.SHA256 != "" || l.OS.Image != nil && l.OS.Image.SHA512 != "")
}

// Complete says whether the lock pins everything lab needs: the OS release
// and box (unless the lab brings its own box), fleet when it runs,
// etcd's release tarball when the nodes install it, and the image kit
// when they load it, by the hash the lab asks for now (a changed
// etcd.release_sha256, image_tag or kit.sha256 needs a new lock). A lab
// that needs nothing pinned is complete without a lock.
func (l *Lock) Complete(lab Lab) bool {
	needOS := lab.Box.Name == ""
	needFleet := lab.Fleet.Enabled && lab.Distro == "flatcar"
	needEtcd := lab.EtcdFromRelease()
	needKit := lab.KitEnabled()
	if l == nil {
		return !needOS && !needFleet && !needEtcd && !needKit
	}
	// A lock made for the other provider pins the wrong kind of box (a
	// VirtualBox box, or the QEMU image of a libvirt one).
	osOK := l.Resolved() && (l.OS.Box.Provider == "" || l.OS.Box.Provider == lab.Provider)
	return (!needOS || osOK) && (!needFleet || l.Artifacts["fleet"].SHA256 != "") && (!needEtcd || l.etcdPinned(lab)) &&
		(!needKit || l.kitPinned(lab))
}

// kitPinned says whether the lock pins the image kit, by kit.sha256 when
// the lab sets it (a changed kit.sha256 needs a new lock).
func (l *Lock) kitPinned(lab Lab) bool {
	a := l.Artifacts[artifacts.KitName]
	return a.SHA256 != "" && (lab.Kit.SHA256 == "" || a.SHA256 == lab.Kit.SHA256)
}

// etcdPinned says whether the lock pins the etcd tarball lab asks for, by
// the hash lab expects (its override or cododemo's built-in pin).
func (l *Lock) etcdPinned(lab Lab) bool {
	pin, err := artifacts.Etcd(lab.Etcd.ImageTag, lab.Arch, lab.Etcd.ReleaseSHA256)
	if err != nil {
		return false
	}
	a := l.Artifacts["etcd"]
	return a.SHA256 != "" && a.SHA256 == pin.SHA256 && a.URL == pin.URL
}

// Matches says whether the lock was made for this lab's distro, channel
// and arch (and version, when the lab names an exact one).
func (l *Lock) Matches(lab Lab) error {
	if l.Distro != lab.Distro || l.Channel != lab.Channel || l.Arch != lab.Arch {
		return fmt.Errorf("lock is for %s/%s/%s but the lab is %s/%s/%s; run `cododemo lock` again",
			l.Distro, l.Channel, l.Arch, lab.Distro, lab.Channel, lab.Arch)
	}
	if lab.Version != "current" && l.OS.Version != "" && l.OS.Version != lab.Version {
		return fmt.Errorf("lock pins %s but the lab asks for %s; run `cododemo lock` again", l.OS.Version, lab.Version)
	}
	return nil
}

// CheckPins refuses a lock whose etcd tarball, at the address
// cododemo pins, carries another hash than cododemo's built-in pin: an
// edit, or a lock made for another build, would otherwise go into every
// node's Ignition config. A lab that overrides the pin
// (etcd.release_sha256) is held to its override by Complete instead.
func (l *Lock) CheckPins(lab Lab) error {
	a, ok := l.Artifacts["etcd"]
	if !ok || lab.Etcd.ReleaseSHA256 != "" {
		return nil
	}
	pin, err := artifacts.Etcd(lab.Etcd.ImageTag, l.Arch, "")
	if err != nil || pin.SHA256 == "" || a.URL != pin.URL || a.SHA256 == pin.SHA256 {
		return nil
	}
	return fmt.Errorf("artifacts.etcd.sha256 is %s, but cododemo's built-in pin of %s is %s: the lock was edited or made for another tarball; "+
		"run `cododemo lock` again, or set etcd.release_sha256 if your mirror serves a build of your own", a.SHA256, pin.File, pin.SHA256)
}

// ReadLock reads a lock file; a missing file is (nil, nil). The decode is
// strict: unknown keys, a missing field, a hash that is not one, are errors
// naming the key and file:line:col, since a damaged or hand-edited lock
// must not reach the nodes.
func ReadLock(path string) (*Lock, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var l Lock
	pos, err := yamlfile.Decode(path, data, &l)
	var issues []yamlfile.Issue
	var ye *yamlfile.Error
	switch {
	case errors.As(err, &ye):
		issues = ye.Issues
	case err != nil:
		return nil, err
	case pos["version"] != (yamlfile.Pos{}) && l.Version != LockVersion:
		return nil, fmt.Errorf("%s: lock format version %d, this cododemo reads %d", path, l.Version, LockVersion)
	default:
		issues = checkLock(&l, pos)
	}
	if len(issues) > 0 {
		return nil, &yamlfile.Error{File: path, Issues: append(issues, yamlfile.Issue{
			Msg: "the lock is damaged or was edited by hand; run `cododemo lock` to make it again"})}
	}
	return &l, nil
}

// checkLock finds what a lock written by WriteLock always has but l lacks.
func checkLock(l *Lock, pos yamlfile.Positions) []yamlfile.Issue {
	var out []yamlfile.Issue
	at := func(key string) yamlfile.Pos {
		p, _ := pos.Lookup(key)
		return p
	}
	missing := func(key string) {
		parent := ""
		if i := strings.LastIndex(key, "."); i > 0 {
			parent = key[:i]
		}
		out = append(out, yamlfile.Issue{Pos: at(parent), Key: key, Msg: "missing"})
	}
	hash := func(key, sha string) {
		if !sha256Hex.MatchString(sha) {
			out = append(out, yamlfile.Issue{Pos: at(key), Key: key, Msg: fmt.Sprintf("%q is not a sha256 (64 lower-case hex digits)", sha)})
		}
	}
	nonEmpty := func(key, v string) {
		if _, ok := pos[key]; !ok {
			missing(key)
		} else if v == "" {
			out = append(out, yamlfile.Issue{Pos: at(key), Key: key, Msg: "must not be empty"})
		}
	}
	if _, ok := pos["version"]; !ok {
		missing("version")
	}
	nonEmpty("distro", l.Distro)
	nonEmpty("channel", l.Channel)
	nonEmpty("arch", l.Arch)
	// A lab on a box of its own locks no OS release: WriteLock then
	// writes the os fields empty, all of them.
	for _, k := range []string{"os", "os.version", "os.box", "os.box.name", "os.box.provider", "os.box.url", "os.box.sha256"} {
		if _, ok := pos[k]; !ok {
			missing(k)
		}
	}
	if l.OS != (OSRelease{}) {
		nonEmpty("os.version", l.OS.Version)
		nonEmpty("os.box.name", l.OS.Box.Name)
		nonEmpty("os.box.provider", l.OS.Box.Provider)
		nonEmpty("os.box.url", l.OS.Box.URL)
		if im := l.OS.Image; im != nil {
			// A box packed here from the image: its own hash is this
			// machine's business, the image's SHA512 is the pin.
			nonEmpty("os.image.file", im.File)
			nonEmpty("os.image.url", im.URL)
			if !sha512Hex.MatchString(im.SHA512) {
				out = append(out, yamlfile.Issue{Pos: at("os.image.sha512"), Key: "os.image.sha512",
					Msg: fmt.Sprintf("%q is not a sha512 (128 lower-case hex digits)", im.SHA512)})
			}
			if l.OS.Box.SHA256 != "" {
				hash("os.box.sha256", l.OS.Box.SHA256)
			}
		} else {
			hash("os.box.sha256", l.OS.Box.SHA256)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(l.Artifacts)) {
		a, key := l.Artifacts[name], "artifacts."+name
		nonEmpty(key+".url", a.URL)
		hash(key+".sha256", a.SHA256)
		if a.Size < 0 {
			out = append(out, yamlfile.Issue{Pos: at(key + ".size"), Key: key + ".size", Msg: fmt.Sprintf("%d is not a size", a.Size)})
		}
	}
	if t := l.Templates; t != nil {
		nonEmpty("templates.source", t.Source)
		hash("templates.sha256", t.SHA256)
	}
	return dedupe(out)
}

// dedupe drops a second report of one key ("missing" and "not a sha256"
// of an absent hash).
func dedupe(in []yamlfile.Issue) []yamlfile.Issue {
	seen := map[string]bool{}
	var out []yamlfile.Issue
	for _, is := range in {
		if !seen[is.Key] {
			seen[is.Key] = true
			out = append(out, is)
		}
	}
	return out
}

// WriteLock writes the lock atomically.
func WriteLock(path string, l *Lock) error {
	var buf bytes.Buffer
	buf.WriteString("# cododemo.lock: exact versions and checksums for this lab. Commit it.\n")
	buf.WriteString("# Regenerate with `cododemo lock`; do not edit by hand.\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(l); err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(path, buf.Bytes(), 0o644)
}
