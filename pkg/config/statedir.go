package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// stateDirProblem says why the absolute state directory dir cannot hold a
// lab, or "". cododemo writes private keys there and `destroy --purge`
// removes it whole, so it must be a directory of its own: not a
// filesystem root, not the home directory, not the lab's own directory,
// nor one that holds either; and not an existing file. labDir is the
// config file's directory, home the user's home ("" when unknown).
func stateDirProblem(dir, labDir, home string) string {
	dir, _ = filepath.Abs(dir)
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
		return fmt.Sprintf("%s exists and is not a directory", dir)
	}
	if filepath.Dir(dir) == dir {
		return fmt.Sprintf("%s is a filesystem root; use a directory of the lab's own such as .cododemo", dir)
	}
	real := resolved(dir)
	type place struct{ path, what string }
	var places []place
	for _, c := range []place{{labDir, "the lab's directory (where its config file is)"}, {home, "your home directory"}} {
		if c.path != "" {
			p, _ := filepath.Abs(c.path)
			places = append(places, place{resolved(p), c.what})
		}
	}
	for _, c := range places {
		if c.path == real {
			return fmt.Sprintf("%s is %s; use a directory of the lab's own such as .cododemo", dir, c.what)
		}
	}
	for _, c := range places {
		if within(c.path, real) {
			return fmt.Sprintf("%s holds %s; use a directory of the lab's own such as .cododemo", dir, c.what)
		}
	}
	return ""
}

// resolved follows symbolic links as far as the path exists.
func resolved(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	if parent := filepath.Dir(p); parent != p {
		return filepath.Join(resolved(parent), filepath.Base(p))
	}
	return p
}

// within says whether p lies inside dir.
func within(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}
