//go:build windows

package hostos

import (
	"os"

	"golang.org/x/sys/windows"
)

const goos = "windows"

// enableVT turns on virtual terminal processing for the console behind f
// and says whether the console accepted it (Windows 10 1511 and later,
// Windows Terminal); an old console refuses and gets plain output.
func enableVT(f *os.File) bool {
	h := windows.Handle(f.Fd())
	var mode uint32
	if err := windows.GetConsoleMode(h, &mode); err != nil {
		return false
	}
	if mode&windows.ENABLE_VIRTUAL_TERMINAL_PROCESSING != 0 {
		return true
	}
	return windows.SetConsoleMode(h, mode|windows.ENABLE_VIRTUAL_TERMINAL_PROCESSING) == nil
}
