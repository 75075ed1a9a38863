//go:build !linux

package firstboot

import "errors"

// ShareWithQEMU is Linux's: libvirt labs run only there.
func ShareWithQEMU(path, top string) (string, error) {
	return "", errors.New("libvirt's QEMU runs on Linux only")
}

// ShareConsoleWithQEMU is Linux's: libvirt labs run only there.
func ShareConsoleWithQEMU(dir, top string, files []string) (string, error) {
	return "", errors.New("libvirt's QEMU runs on Linux only")
}

// QEMUBlockedAbove is Linux's: libvirt labs run only there.
func QEMUBlockedAbove(top string) (user, dir string, err error) {
	return "", "", errors.New("libvirt's QEMU runs on Linux only")
}
