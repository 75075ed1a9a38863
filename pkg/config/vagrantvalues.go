package config

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The Vagrantfile is Ruby that Vagrant evaluates on the host, so every value
// of a lab file that reaches it is checked here against what it can be (a
// box name, a URL, a path), on top of being written there as a literal that
// cannot interpolate. A lab file from someone else must not run code.

var (
	// boxName is what `vagrant box add NAME` accepts and Vagrant Cloud
	// names look like: "flatcar-stable", "org/name".
	boxName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$`)
	// boxVersion is a Vagrant box version: 4593.2.5, 1.0.0-rc.1.
	boxVersion = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z.+-]*$`)
	// urlChars are the characters RFC 3986 allows in a URL (percent
	// escapes included); anything else (space, quotes, braces, backticks)
	// must be percent-encoded.
	urlChars = regexp.MustCompile(`^[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*$`)
)

// CheckBoxName says whether s can be a Vagrant box name.
func CheckBoxName(s string) error {
	if len(s) > 128 || !boxName.MatchString(s) {
		return fmt.Errorf("%s is not a Vagrant box name: letters, digits, '.', '_' and '-', optionally as org/name (at most 128)", show(s))
	}
	return nil
}

// CheckBoxVersion says whether s can be a Vagrant box version.
func CheckBoxVersion(s string) error {
	if len(s) > 64 || !boxVersion.MatchString(s) {
		return fmt.Errorf("%s is not a box version such as 4593.2.5", show(s))
	}
	return nil
}

// CheckBoxURL says whether s is a URL Vagrant can add a box or catalog
// from: http, https or file, written with URL characters only.
func CheckBoxURL(s string) error {
	if !urlChars.MatchString(s) {
		return fmt.Errorf("%s is not a URL: spaces, quotes, braces and backticks must be percent-encoded", show(s))
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%s is not a URL", show(s))
	}
	switch u.Scheme {
	case "http", "https":
		if u.Host == "" {
			return fmt.Errorf("%s has no host", show(s))
		}
	case "file":
		if u.Path == "" && u.Opaque == "" {
			return fmt.Errorf("%s names no file", show(s))
		}
	default:
		return fmt.Errorf("%s: only http://, https:// and file:// URLs are supported", show(s))
	}
	return nil
}

// CheckPath says whether s can be a file path in the Vagrantfile: any
// characters a file system allows (spaces, backslashes and drive letters
// included) except control characters, and valid UTF-8 (Ruby reads the
// Vagrantfile as UTF-8).
func CheckPath(s string) error {
	if s == "" {
		return errors.New("must name a directory")
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s is not valid UTF-8", show(s))
	}
	if strings.ContainsFunc(s, unicode.IsControl) {
		return fmt.Errorf("%s contains a control character (a newline, tab, ...)", show(s))
	}
	return nil
}

// show quotes a user's value for an error message, shortened: a hostile
// value must not flood the terminal.
func show(s string) string {
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return fmt.Sprintf("%q", s)
}

// validateVagrantValues checks the values a lab file puts into the
// Vagrantfile and that no other check constrains (the names, enums, ports
// and networks are checked in Validate).
func validateVagrantValues(l Lab) []Problem {
	var ps []Problem
	check := func(key string, err error) {
		if err != nil {
			ps = append(ps, Problem{Key: key, Msg: err.Error()})
		}
	}
	if l.Box.Name != "" {
		check("box.name", CheckBoxName(l.Box.Name))
	}
	if l.Box.URL != "" {
		check("box.url", CheckBoxURL(l.Box.URL))
	}
	if l.Mirror != "" {
		// The mirror is the base of the box catalog's URL.
		check("mirror", CheckBoxURL(l.Mirror))
	}
	for i, sf := range l.SharedFolders {
		key := fmt.Sprintf("shared_folders.%d", i)
		if sf.Host != "" { // empty is reported by Validate
			check(key+".host", CheckPath(sf.Host))
		}
		if sf.Guest != "" {
			check(key+".guest", CheckPath(sf.Guest))
		}
	}
	return ps
}
