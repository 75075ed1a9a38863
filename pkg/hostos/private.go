package hostos

import (
	"fmt"
	"regexp"
)

// Well-known Windows accounts that may hold a private file without
// exposing it: the system itself and the machine's administrators, whom
// OpenSSH for Windows accepts on a private key too.
const (
	SIDSystem         = "S-1-5-18"
	SIDAdministrators = "S-1-5-32-544"
)

var sidRE = regexp.MustCompile(`^S-1-[0-9]+(-[0-9]+)+$`)

// PrivateSDDL is the security descriptor a private file (the lab's SSH
// key, its cluster token) gets on Windows, where mode bits mean nothing:
// owned by the user, with a protected DACL ("P": nothing inherited from
// the folder, whose ACL usually lets every user of the machine read) that
// grants full access to the user alone.
func PrivateSDDL(userSID string) (string, error) {
	if !sidRE.MatchString(userSID) {
		return "", fmt.Errorf("%q is not a Windows security identifier", userSID)
	}
	return "O:" + userSID + "D:P(A;;FA;;;" + userSID + ")", nil
}

// ACE is one access-allowed entry of a file's DACL.
type ACE struct {
	SID  string
	Mask uint32 // access rights granted
}

// Read rights: any of them lets the holder read the file's content.
const (
	accessGenericRead = 0x80000000
	accessGenericAll  = 0x10000000
	accessFileRead    = 0x0001 // FILE_READ_DATA
)

// OthersWithAccess lists the accounts besides owner (and the system and
// administrators) that may read a file with these allow entries: empty
// means private. A nil DACL (noDACL) lets everyone in.
func OthersWithAccess(owner string, aces []ACE, noDACL bool) []string {
	if noDACL {
		return []string{"Everyone (the file has no access list)"}
	}
	var out []string
	for _, a := range aces {
		if a.SID == owner || a.SID == SIDSystem || a.SID == SIDAdministrators {
			continue
		}
		if a.Mask&(accessGenericRead|accessGenericAll|accessFileRead) != 0 {
			out = append(out, a.SID)
		}
	}
	return out
}
