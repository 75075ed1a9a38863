//go:build windows

package hostos

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/windows"
)

// RestrictToOwner replaces f's access list with PrivateSDDL's: the user
// alone, nothing inherited. Windows ignores the mode bits Chmod sets.
func RestrictToOwner(f *os.File) error {
	sid, err := currentUserSID()
	if err != nil {
		return err
	}
	sddl, err := PrivateSDDL(sid)
	if err != nil {
		return err
	}
	sd, err := windows.SecurityDescriptorFromString(sddl)
	if err != nil {
		return fmt.Errorf("%s: %w", sddl, err)
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		return err
	}
	owner, _, err := sd.Owner()
	if err != nil {
		return err
	}
	err = windows.SetSecurityInfo(windows.Handle(f.Fd()), windows.SE_FILE_OBJECT,
		windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION,
		owner, nil, dacl, nil)
	if err != nil {
		return fmt.Errorf("restrict %s to its owner: %w", f.Name(), err)
	}
	return nil
}

func currentUserSID() (string, error) {
	u, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return "", fmt.Errorf("current user: %w", err)
	}
	return u.User.Sid.String(), nil
}

// FileAccess reads path's owner and allow entries for OthersWithAccess.
func FileAccess(path string) (owner string, aces []ACE, noDACL bool, err error) {
	sd, err := windows.GetNamedSecurityInfo(path, windows.SE_FILE_OBJECT,
		windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		return "", nil, false, err
	}
	o, _, err := sd.Owner()
	if err != nil {
		return "", nil, false, err
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		return "", nil, false, err
	}
	if dacl == nil {
		return o.String(), nil, true, nil
	}
	for i := uint32(0); i < uint32(dacl.AceCount); i++ {
		var ace *windows.ACCESS_ALLOWED_ACE
		if err := windows.GetAce(dacl, i, &ace); err != nil {
			return "", nil, false, err
		}
		if ace.Header.AceType != windows.ACCESS_ALLOWED_ACE_TYPE {
			continue
		}
		sid := (*windows.SID)(unsafe.Pointer(&ace.SidStart))
		aces = append(aces, ACE{SID: sid.String(), Mask: uint32(ace.Mask)})
	}
	return o.String(), aces, false, nil
}
