package firstboot

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"slices"
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
	if err := setACL(path, owner, 0, 0, aclUser{uid, 4}); err != nil {
		return fmt.Errorf("%s: cannot give %s read access (POSIX ACL): %w", path, name, err)
	}
	return searchUpTo(filepath.Dir(path), top, name, uid)
}

// searchUpTo gives uid search (x) on dir and each directory above it up
// to top, keeping their other bits.
func searchUpTo(dir, top, name string, uid uint32) error {
	for ; ; dir = filepath.Dir(dir) {
		di, err := os.Stat(dir)
		if err != nil {
			return err
		}
		m := uint16(di.Mode().Perm())
		if err := setACL(dir, m>>6&7, groupPerm(dir, m), m&7, aclUser{uid, 1}); err != nil {
			return fmt.Errorf("%s: cannot give %s search access (POSIX ACL): %w", dir, name, err)
		}
		if rel, err := filepath.Rel(top, dir); err != nil || rel == "." || !filepath.IsLocal(rel) {
			return nil
		}
	}
}

// groupPerm is dir's owning group's own permission. With an ACL the mode's
// group bits show the mask, which includes the named users': reading those
// back as the group's would hand the group search on a second run.
func groupPerm(path string, mode uint16) uint16 {
	b := make([]byte, 512)
	n, err := syscall.Getxattr(path, "system.posix_acl_access", b)
	if err != nil || n < 4 {
		return mode >> 3 & 7
	}
	for e := b[4:n]; len(e) >= 8; e = e[8:] {
		if binary.LittleEndian.Uint16(e) == 0x04 { // ACL_GROUP_OBJ
			return binary.LittleEndian.Uint16(e[2:]) & 7
		}
	}
	return mode >> 3 & 7
}

// ShareConsoleWithQEMU lets libvirt's QEMU write the nodes' serial
// console logs, files (each named by its path), in their directory dir,
// and read nothing else of the lab: dir gets rwx for QEMU's user by ACL
// (its owner's bits are kept, group and others get none); each file is
// created empty when missing and gets rw for its owner and for QEMU's
// user, plus a named entry for the owner, who keeps reading it while
// libvirt has chowned it to QEMU's user (libvirt's DAC driver does so
// for the domain's life); the directories above dir up to top (the state
// dir) get search only, so the key and token there stay 0600 and
// unlisted. It returns the user it granted, or an error when there is
// none or the filesystem keeps no ACLs.
func ShareConsoleWithQEMU(dir, top string, files []string) (string, error) {
	name, uid, err := qemuUser()
	if err != nil {
		return "", err
	}
	return name, shareConsole(dir, top, files, uid, uint32(os.Getuid()), name)
}

func shareConsole(dir, top string, files []string, uid, self uint32, name string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	di, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if err := setACL(dir, uint16(di.Mode().Perm()>>6)&7, 0, 0, aclUser{uid, 7}); err != nil {
		return fmt.Errorf("%s: cannot give %s write access (POSIX ACL): %w", dir, name, err)
	}
	// Only a file's owner (or root) may set its ACL.
	me := uint32(os.Getuid())
	for _, f := range files {
		fd, err := os.OpenFile(f, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		switch {
		case err == nil:
			fd.Close()
		case !errors.Is(err, fs.ErrExist):
			return err
		}
		if fi, err := os.Stat(f); err != nil {
			return err
		} else if st, ok := fi.Sys().(*syscall.Stat_t); ok && me != 0 && st.Uid != me {
			// A running domain's log: libvirt has chowned it to QEMU's
			// user and gives it back when the domain stops; its ACL
			// (set when it was ours) still lets the owner read it.
			continue
		}
		users := []aclUser{{uid, 6}}
		if self != 0 && self != uid {
			users = append(users, aclUser{self, 6})
		}
		if err := setACL(f, 6, 0, 0, users...); err != nil {
			return fmt.Errorf("%s: cannot give %s write access (POSIX ACL): %w", f, name, err)
		}
	}
	if dir == top {
		return nil
	}
	return searchUpTo(filepath.Dir(dir), top, name, uid)
}

// QEMUBlockedAbove returns the first directory above top (the state dir)
// that libvirt's QEMU user may not pass through, "" when it may pass
// through all: QEMU opens a node's fw_cfg config (and may open its
// console log) itself, by path, and search on the state dir alone is
// not enough under a home directory of mode 0700.
func QEMUBlockedAbove(top string) (user, dir string, err error) {
	name, uid, err := qemuUser()
	if err != nil {
		return "", "", err
	}
	return name, blockedAbove(top, uid, qemuGroups(name)), nil
}

func qemuGroups(name string) []uint32 {
	u, err := user.Lookup(name)
	if err != nil {
		return nil
	}
	ids, _ := u.GroupIds()
	var out []uint32
	for _, s := range ids {
		if id, err := strconv.ParseUint(s, 10, 32); err == nil {
			out = append(out, uint32(id))
		}
	}
	return out
}

// blockedAbove walks from top's parent to the root and returns the first
// directory uid (in groups gids) has no search permission on.
func blockedAbove(top string, uid uint32, gids []uint32) string {
	for dir := filepath.Dir(top); ; dir = filepath.Dir(dir) {
		if !canSearch(dir, uid, gids) {
			return dir
		}
		if parent := filepath.Dir(dir); parent == dir {
			return ""
		}
	}
}

// canSearch applies the permission check the kernel makes for x on dir:
// owner, then a named ACL entry (under the mask), then the group (the
// owning group or a named one, under the mask), then others. A directory
// that cannot be read is taken as passable: its owner knows better.
func canSearch(dir string, uid uint32, gids []uint32) bool {
	fi, err := os.Stat(dir)
	if err != nil {
		return true
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return true
	}
	mode := uint16(fi.Mode().Perm())
	if uid == 0 {
		return true
	}
	if st.Uid == uid {
		return mode&0o100 != 0
	}
	b := make([]byte, 512)
	n, err := syscall.Getxattr(dir, "system.posix_acl_access", b)
	if err != nil || n < 4 {
		if slices.Contains(gids, st.Gid) {
			return mode&0o010 != 0
		}
		return mode&0o001 != 0
	}
	var mask uint16 = 7
	var named *uint16
	inGroup := false
	var groupPerm uint16
	for e := b[4:n]; len(e) >= 8; e = e[8:] {
		tag, perm, id := binary.LittleEndian.Uint16(e), binary.LittleEndian.Uint16(e[2:])&7, binary.LittleEndian.Uint32(e[4:])
		switch tag {
		case 0x02: // ACL_USER
			if id == uid {
				p := perm
				named = &p
			}
		case 0x04: // ACL_GROUP_OBJ
			if slices.Contains(gids, st.Gid) {
				inGroup, groupPerm = true, groupPerm|perm
			}
		case 0x08: // ACL_GROUP
			if slices.Contains(gids, id) {
				inGroup, groupPerm = true, groupPerm|perm
			}
		case 0x10: // ACL_MASK
			mask = perm
		}
	}
	switch {
	case named != nil:
		return *named&mask&1 != 0
	case inGroup:
		return groupPerm&mask&1 != 0
	}
	return mode&0o001 != 0
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

// aclUser is a named user entry of an ACL.
type aclUser struct {
	uid  uint32
	perm uint16
}

// setACL writes system.posix_acl_access: user::owner, user:uid:perm for
// each of users, group::group, mask::group|perms, other::other (the
// kernel's xattr layout: a version, then tag/perm/id entries sorted by tag
// and, within a tag, by id).
func setACL(path string, owner, group, other uint16, users ...aclUser) error {
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
	users = slices.Clone(users)
	slices.SortFunc(users, func(a, b aclUser) int { return cmp.Compare(a.uid, b.uid) })
	entries := []entry{{userObj, owner, undef}}
	m := group
	for _, u := range users {
		entries = append(entries, entry{userTag, u.perm, u.uid})
		m |= u.perm
	}
	entries = append(entries, entry{groupObj, group, undef}, entry{mask, m, undef}, entry{otherTag, other, undef})
	b := binary.LittleEndian.AppendUint32(nil, version)
	for _, e := range entries {
		b = binary.LittleEndian.AppendUint16(b, e.tag)
		b = binary.LittleEndian.AppendUint16(b, e.perm)
		b = binary.LittleEndian.AppendUint32(b, e.id)
	}
	return syscall.Setxattr(path, "system.posix_acl_access", b, 0)
}
