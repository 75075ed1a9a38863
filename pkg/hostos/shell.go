package hostos

import (
	"os"
	"path"
	"strings"
)

// DefaultShell is the syntax `cododemo env` writes when --shell is not
// given: PowerShell on Windows (what Windows Terminal opens; cmd users say
// --shell cmd), else the login shell's family from $SHELL.
func DefaultShell(goos, shellEnv string) string {
	if goos == "windows" {
		return "powershell"
	}
	name := path.Base(strings.ReplaceAll(shellEnv, `\`, "/"))
	switch name {
	case "fish":
		return "fish"
	case "pwsh", "powershell":
		return "powershell"
	}
	return "sh"
}

// CurrentDefaultShell is DefaultShell for this system.
func CurrentDefaultShell(getenv func(string) string) string {
	if getenv == nil {
		getenv = os.Getenv
	}
	return DefaultShell(goos, getenv("SHELL"))
}
