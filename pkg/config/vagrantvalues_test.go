package config

import (
	"strings"
	"testing"
)

func TestVagrantValues(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Lab)
		key  string // "" when valid
		msg  string
	}{
		{"box name", func(l *Lab) { l.Box.Name = "org/flatcar-1.2_x" }, "", ""},
		{"box name code", func(l *Lab) { l.Box.Name = "flatcar#{`touch /tmp/x`}" }, "box.name", "is not a Vagrant box name"},
		{"box name quote", func(l *Lab) { l.Box.Name = `flat"car` }, "box.name", "is not a Vagrant box name"},
		{"box url https", func(l *Lab) { l.Box.Name, l.Box.URL = "b", "https://example.com/x.json?a=1&b='2'" }, "", ""},
		{"box url file", func(l *Lab) { l.Box.Name, l.Box.URL = "b", "file:///C:/Users/A%20B/b.box" }, "", ""},
		{"box url code", func(l *Lab) { l.Box.Name, l.Box.URL = "b", "https://h/#{`id`}" }, "box.url", "must be percent-encoded"},
		{"box url space", func(l *Lab) { l.Box.Name, l.Box.URL = "b", "https://h/a b" }, "box.url", "must be percent-encoded"},
		{"box url scheme", func(l *Lab) { l.Box.Name, l.Box.URL = "b", "ftp://h/b.box" }, "box.url", "only http://, https:// and file://"},
		{"box url no host", func(l *Lab) { l.Box.Name, l.Box.URL = "b", "https:///b.box" }, "box.url", "has no host"},
		{"mirror code", func(l *Lab) { l.Mirror = "http://m/`id`" }, "mirror", "must be percent-encoded"},
		{"host windows", func(l *Lab) {
			l.SharedFolders = []SharedFolder{{Host: `C:\Users\A B\lab`, Guest: "/srv", Type: "rsync"}}
		}, "", ""},
		{"host odd but legal", func(l *Lab) {
			l.SharedFolders = []SharedFolder{{Host: "./it's #{x}", Guest: "/srv", Type: "rsync"}}
		}, "", ""},
		{"host newline", func(l *Lab) {
			l.SharedFolders = []SharedFolder{{Host: "a\nsystem('id')", Guest: "/srv", Type: "rsync"}}
		}, "shared_folders.0.host", "control character"},
		{"guest invalid utf8", func(l *Lab) {
			l.SharedFolders = []SharedFolder{{Host: "a", Guest: "/srv\xff", Type: "rsync"}}
		}, "shared_folders.0.guest", "not valid UTF-8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := Default()
			l.Format = "ignition" // chosen per box generation when empty
			c.edit(&l)
			var got []Problem
			for _, p := range Validate(l) {
				if !p.Warning {
					got = append(got, p)
				}
			}
			if c.key == "" {
				if len(got) > 0 {
					t.Fatalf("refused: %v", got)
				}
				return
			}
			if len(got) != 1 || got[0].Key != c.key || !strings.Contains(got[0].Msg, c.msg) {
				t.Fatalf("want one problem at %s saying %q, got %v", c.key, c.msg, got)
			}
		})
	}
	long := strings.Repeat("#{`x`}", 1000)
	if err := CheckBoxName(long); err == nil || len(err.Error()) > 200 {
		t.Fatalf("a long value must be refused with a short message: %d bytes", len(err.Error()))
	}
}
