package hostos

import "testing"

func TestDecideTerm(t *testing.T) {
	tests := []struct {
		name string
		in   TermFacts
		want TermCaps
	}{
		{"pipe", TermFacts{OS: "linux", Term: "xterm-256color"}, TermCaps{}},
		{"xterm", TermFacts{OS: "linux", IsTerminal: true, Width: 120, Term: "xterm-256color"},
			TermCaps{IsTerminal: true, Color: true, Live: true, Width: 120}},
		{"TERM=dumb", TermFacts{OS: "linux", IsTerminal: true, Width: 80, Term: "dumb"},
			TermCaps{IsTerminal: true, Width: 80}},
		{"NO_COLOR keeps the live view", TermFacts{OS: "darwin", IsTerminal: true, Term: "xterm", NoColor: true},
			TermCaps{IsTerminal: true, Live: true}},
		{"Windows Terminal", TermFacts{OS: "windows", IsTerminal: true, Width: 150, VT: true},
			TermCaps{IsTerminal: true, Color: true, Live: true, Width: 150}},
		{"old Windows console", TermFacts{OS: "windows", IsTerminal: true, Width: 80},
			TermCaps{IsTerminal: true, Width: 80}},
		{"Windows console, NO_COLOR", TermFacts{OS: "windows", IsTerminal: true, VT: true, NoColor: true},
			TermCaps{IsTerminal: true, Live: true}},
		{"VT means nothing off Windows", TermFacts{OS: "linux", IsTerminal: true, Term: "dumb", VT: true},
			TermCaps{IsTerminal: true}},
	}
	for _, tc := range tests {
		if got := DecideTerm(tc.in); got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestDefaultShell(t *testing.T) {
	for _, tc := range []struct{ goos, shell, want string }{
		{"windows", "", "powershell"},
		{"windows", `C:\Program Files\Git\usr\bin\bash.exe`, "powershell"},
		{"linux", "/bin/bash", "sh"},
		{"darwin", "/bin/zsh", "sh"},
		{"darwin", "/opt/homebrew/bin/fish", "fish"},
		{"linux", "/usr/bin/pwsh", "powershell"},
		{"linux", "", "sh"},
	} {
		if got := DefaultShell(tc.goos, tc.shell); got != tc.want {
			t.Errorf("DefaultShell(%s, %q) = %s, want %s", tc.goos, tc.shell, got, tc.want)
		}
	}
}

func TestPrivateACL(t *testing.T) {
	const ann = "S-1-5-21-3623811015-3361044348-30300820-1013"
	sddl, err := PrivateSDDL(ann)
	if err != nil || sddl != "O:"+ann+"D:P(A;;FA;;;"+ann+")" {
		t.Errorf("PrivateSDDL: %q %v", sddl, err)
	}
	for _, bad := range []string{"", "ann", "S-1-5-21-1013) (A;;FA;;;WD", "S-1"} {
		if _, err := PrivateSDDL(bad); err == nil {
			t.Errorf("PrivateSDDL(%q) accepted", bad)
		}
	}
	// What a file in a user's folder inherits: the user, SYSTEM,
	// Administrators and, on a shared machine, Users (S-1-5-32-545) read.
	inherited := []ACE{{ann, 0x1f01ff}, {SIDSystem, 0x1f01ff}, {SIDAdministrators, 0x1f01ff}, {"S-1-5-32-545", 0x1200a9}}
	if got := OthersWithAccess(ann, inherited, false); len(got) != 1 || got[0] != "S-1-5-32-545" {
		t.Errorf("inherited ACL: others %v", got)
	}
	if got := OthersWithAccess(ann, []ACE{{ann, 0x1f01ff}}, false); len(got) != 0 {
		t.Errorf("private ACL: others %v", got)
	}
	// Everyone (S-1-1-0) with only the right to read attributes cannot
	// read the content.
	if got := OthersWithAccess(ann, []ACE{{ann, 0x1f01ff}, {"S-1-1-0", 0x80}}, false); len(got) != 0 {
		t.Errorf("attributes only: others %v", got)
	}
	if got := OthersWithAccess(ann, nil, true); len(got) != 1 {
		t.Errorf("no DACL: others %v", got)
	}
}
