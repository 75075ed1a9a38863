package termtable

import (
	"bytes"
	"strings"
	"testing"
)

func TestColourTakesNoRoom(t *testing.T) {
	rows := [][]string{
		{"CODE", "STATUS", "FINDING"},
		{"CD001", "\x1b[32mOK\x1b[0m", "Vagrant 2.4.9"},
		{"CD002", "\x1b[31mFAIL\x1b[0m", "too old"},
	}
	var b bytes.Buffer
	if err := Write(&b, rows, 0); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(Strip(b.String()), "\n")
	col := strings.Index(lines[0], "FINDING")
	for _, l := range lines[1:3] {
		if strings.Index(l, l[col:]) != col || l[col-1] != ' ' || l[col] == ' ' {
			t.Errorf("FINDING column at %d, misaligned in %q", col, l)
		}
	}
	if want := "CODE   STATUS  FINDING\nCD001  OK      Vagrant 2.4.9\nCD002  FAIL    too old\n"; Strip(b.String()) != want {
		t.Errorf("got\n%s\nwant\n%s", Strip(b.String()), want)
	}
}

func TestWrapsLastColumnToWidth(t *testing.T) {
	long := "VirtualBox 7.2.4 is newer than any release cododemo knows Vagrant supports, so check it"
	rows := [][]string{{"CD004", "WARN", long}, {"", "", "\x1b[2mhint: upgrade Vagrant to 2.4.9 or newer please\x1b[0m"}}
	var b bytes.Buffer
	_ = Write(&b, rows, 40)
	for _, l := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		if Width(l) > 40 {
			t.Errorf("line of %d columns: %q", Width(l), l)
		}
		if !strings.HasPrefix(Strip(l), "CD004") && !strings.HasPrefix(l, strings.Repeat(" ", 13)) {
			t.Errorf("continuation not under its column: %q", l)
		}
		if strings.Contains(l, "hint") || strings.Contains(l, "please") {
			if !strings.Contains(l, "\x1b[2m") || !strings.HasSuffix(l, "\x1b[0m") {
				t.Errorf("wrapped hint line lost its colour: %q", l)
			}
		}
	}
	if got := Strip(b.String()); !strings.Contains(got, "so check\n") && !strings.Contains(got, "check it") {
		t.Errorf("text lost: %q", got)
	}
	// Too narrow to wrap sensibly: lines run long instead.
	b.Reset()
	_ = Write(&b, rows, 20)
	if !strings.Contains(b.String(), long) {
		t.Errorf("narrow terminal wrapped into a sliver: %q", b.String())
	}
}

func TestWrapKeepsLongWords(t *testing.T) {
	got := Wrap("see https://developer.hashicorp.com/vagrant/install now", 10)
	if len(got) != 3 || got[1] != "https://developer.hashicorp.com/vagrant/install" {
		t.Errorf("%q", got)
	}
}
