package hostos

import "testing"

func TestVagrantfilePath(t *testing.T) {
	tests := []struct{ goos, base, target, want string }{
		// The default: the state dir inside the lab's directory.
		{"windows", `C:\Users\Ann Lee\labs\demo\.cododemo`, `C:\Users\Ann Lee\labs\demo`, ".."},
		{"windows", `C:\Users\Ann Lee\labs\demo\.cododemo`, `C:\Users\Ann Lee\labs\demo\share`, "../share"},
		// Windows does not care about case; neither may the decision.
		{"windows", `c:\users\ann lee\demo\.cododemo`, `C:\Users\Ann Lee\demo`, ".."},
		// Another drive: no relative path exists.
		{"windows", `D:\cododemo-state\demo`, `C:\Users\Ann Lee\labs\demo`, "C:/Users/Ann Lee/labs/demo"},
		{"windows", `D:\state`, `c:/Users/O'Brien/lab`, "C:/Users/O'Brien/lab"},
		// A network share.
		{"windows", `C:\state`, `\\fileserver\workshop\lab`, "//fileserver/workshop/lab"},
		{"windows", `\\fileserver\workshop\lab\.cododemo`, `\\FILESERVER\Workshop\lab\files`, "../files"},
		// Mixed separators, dot segments, relative input.
		{"windows", `C:/Users/ann/lab/.cododemo`, `C:\Users\ann\lab\.\x\..\y`, "../y"},
		{"windows", `C:\x`, `share\data`, "share/data"},
		{"windows", `C:\lab`, `C:\lab`, "."},
		{"linux", "/home/ann/lab/.cododemo", "/home/ann/lab", ".."},
		{"linux", "/srv/state/demo", "/home/ann/lab", "../../../home/ann/lab"},
		{"darwin", "/Users/Ann/lab/.cododemo", "/Users/ann/lab", "../../../ann/lab"},
		{"linux", "/x", "rel/./dir", "rel/dir"},
	}
	for _, tc := range tests {
		if got := VagrantfilePath(tc.goos, tc.base, tc.target); got != tc.want {
			t.Errorf("VagrantfilePath(%s, %q, %q) = %q, want %q", tc.goos, tc.base, tc.target, got, tc.want)
		}
	}
}
