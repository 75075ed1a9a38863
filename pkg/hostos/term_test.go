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
