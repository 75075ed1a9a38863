package hostos

import (
	"path"
	"strings"
)

// VagrantfilePath is how the Vagrantfile (in base, the state dir) names
// target (the lab's directory, a shared folder): relative with forward
// slashes when it can be, else absolute with forward slashes. goos decides
// the path rules, so the Windows decisions are tested anywhere:
//
//   - Windows paths may use \ or /; Ruby and Vagrant take / everywhere.
//   - A drive letter (C:) or a UNC share (\\server\share) is the path's
//     volume; no relative path leads from one volume to another, so then
//     the absolute path is used, its drive letter upper-cased.
//   - Windows compares names case-insensitively (C:\Users\Ann is c:\users\ann).
//
// Spaces and quotes need nothing here: the Vagrantfile gets every value as
// a non-interpolating Ruby literal.
func VagrantfilePath(goos, base, target string) string {
	if goos != "windows" {
		if !path.IsAbs(target) {
			return path.Clean(target)
		}
		if rel, ok := relSlash(path.Clean(base), path.Clean(target), false); ok {
			return rel
		}
		return path.Clean(target)
	}
	bv, brest := splitVolume(base)
	tv, trest := splitVolume(target)
	if tv == "" && !strings.HasPrefix(trest, "/") {
		return path.Clean(trest) // relative already
	}
	if tv == "" || !strings.EqualFold(bv, tv) || !strings.HasPrefix(brest, "/") {
		return tv + path.Clean(trest)
	}
	if rel, ok := relSlash(path.Clean(brest), path.Clean(trest), true); ok {
		return rel
	}
	return tv + path.Clean(trest)
}

// splitVolume splits a Windows path into its volume ("C:", "//server/share")
// and the rest, with / for \.
func splitVolume(p string) (vol, rest string) {
	p = strings.ReplaceAll(p, `\`, "/")
	if len(p) >= 2 && p[1] == ':' && isLetter(p[0]) {
		return strings.ToUpper(p[:1]) + ":", p[2:]
	}
	if strings.HasPrefix(p, "//") {
		parts := strings.SplitN(p[2:], "/", 3)
		if len(parts) >= 2 && parts[0] != "" && parts[1] != "" {
			vol = "//" + parts[0] + "/" + parts[1]
			if len(parts) == 3 {
				return vol, "/" + parts[2]
			}
			return vol, "/"
		}
	}
	return "", p
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// relSlash returns target relative to base, both clean and absolute.
func relSlash(base, target string, fold bool) (string, bool) {
	split := func(p string) []string {
		if p == "/" {
			return nil
		}
		return strings.Split(strings.TrimPrefix(p, "/"), "/")
	}
	b, t := split(base), split(target)
	eq := func(x, y string) bool {
		if fold {
			return strings.EqualFold(x, y)
		}
		return x == y
	}
	i := 0
	for i < len(b) && i < len(t) && eq(b[i], t[i]) {
		i++
	}
	var out []string
	for range b[i:] {
		out = append(out, "..")
	}
	out = append(out, t[i:]...)
	if len(out) == 0 {
		return ".", true
	}
	return strings.Join(out, "/"), true
}
