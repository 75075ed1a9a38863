package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"go.yaml.in/yaml/v3"

	"github.com/cododemo/cododemo/pkg/fsutil"
	"github.com/cododemo/cododemo/pkg/image/artifacts"
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

// Resolved says whether the lock pins an exact OS release and box.
func (l *Lock) Resolved() bool {
	return l != nil && l.OS.Version != "" && l.OS.Box.SHA256 != ""
}

// Complete says whether the lock pins everything lab needs: the OS release
// and box (unless the lab brings its own box), fleet when it runs, and
// etcd's release tarball when the nodes install it, by the hash the lab
// asks for now (a changed etcd.release_sha256 or image_tag needs a new
// lock). A lab that needs nothing pinned is complete without a lock.
func (l *Lock) Complete(lab Lab) bool {
	needOS := lab.Box.Name == ""
	needFleet := lab.Fleet.Enabled && lab.Distro == "flatcar"
	needEtcd := lab.EtcdFromRelease()
	if l == nil {
		return !needOS && !needFleet && !needEtcd
	}
	return (!needOS || l.Resolved()) && (!needFleet || l.Artifacts["fleet"].SHA256 != "") && (!needEtcd || l.etcdPinned(lab))
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

// ReadLock reads a lock file; a missing file is (nil, nil).
func ReadLock(path string) (*Lock, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var l Lock
	if err := dec.Decode(&l); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if l.Version != LockVersion {
		return nil, fmt.Errorf("%s: lock format version %d, this cododemo reads %d", path, l.Version, LockVersion)
	}
	return &l, nil
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
