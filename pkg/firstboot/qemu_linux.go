package firstboot

import (
	"encoding/binary"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// QEMUUsers are the accounts libvirt's system QEMU runs as: Debian and
// Ubuntu's libvirt-qemu, Fedora and RHEL's qemu.
var QEMUUsers = []string{"libvirt-qemu", "qemu"}

// ShareWithQEMU makes path (a node's fw_cfg Ignition config) readable by
// the owner and by libvirt's QEMU user only, with a POSIX ACL: QEMU reads
// the file itself, as its own user, and a group-readable file would need
// the file in QEMU's group, which a user can only chgrp to as a member.
// Each directory from the file's up to top gets search (x) for that user
// too (their other bits are kept). It returns the
// user it granted, or an error when there is none or the filesystem
// keeps no ACLs; the caller then decides what mode to fall back to.
func ShareWithQEMU(path, top string) (string, error) {
	name, uid, err := qemuUser()
	if err != nil {
		return "", err
	}
	return name, shareWith(path, top, name, uid)
}

func shareWith(path, top, name string, uid uint32) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	// Owner rw (as the file had it), QEMU r, nobody else.
	owner := uint16(fi.Mode().Perm()>>6) & 6
	if err := setACL(path, owner, 0, 0, uid, 4); err != nil {
		return fmt.Errorf("%s: cannot give %s read access (POSIX ACL): %w", path, name, err)
	}
	for dir := filepath.Dir(path); ; dir = filepath.Dir(dir) {
		di, err := os.Stat(dir)
		if err != nil {
			return err
		}
		m := uint16(di.Mode().Perm())
		if err := setACL(dir, m>>6&7, m>>3&7, m&7, uid, 1); err != nil {
			return fmt.Errorf("%s: cannot give %s search access (POSIX ACL): %w", dir, name, err)
		}
		if rel, err := filepath.Rel(top, dir); err != nil || rel == "." || !filepath.IsLocal(rel) {
			return nil
		}
	}
}

func qemuUser() (string, uint32, error) {
	for _, n := range QEMUUsers {
		u, err := user.Lookup(n)
		if err != nil {
			continue
		}
		id, err := strconv.ParseUint(u.Uid, 10, 32)
		if err == nil {
			return n, uint32(id), nil
		}
	}
	return "", 0, fmt.Errorf("no QEMU user (%v) on this host", QEMUUsers)
}

// setACL writes system.posix_acl_access: user::owner, user:uid:perm,
// group::group, mask::group|perm, other::other (the kernel's xattr
// layout: a version, then tag/perm/id entries sorted by tag).
func setACL(path string, owner, group, other uint16, uid uint32, perm uint16) error {
	const (
		version  = 2
		userObj  = 0x01
		userTag  = 0x02
		groupObj = 0x04
		mask     = 0x10
		otherTag = 0x20
		undef    = 0xffffffff
	)
	type entry struct {
		tag, perm uint16
		id        uint32
	}
	entries := []entry{
		{userObj, owner, undef},
		{userTag, perm, uid},
		{groupObj, group, undef},
		{mask, group | perm, undef},
		{otherTag, other, undef},
	}
	b := binary.LittleEndian.AppendUint32(nil, version)
	for _, e := range entries {
		b = binary.LittleEndian.AppendUint16(b, e.tag)
		b = binary.LittleEndian.AppendUint16(b, e.perm)
		b = binary.LittleEndian.AppendUint32(b, e.id)
	}
	return syscall.Setxattr(path, "system.posix_acl_access", b, 0)
}
