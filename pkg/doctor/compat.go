package doctor

import (
	"strconv"
	"strings"
)

// MinVagrant is the oldest Vagrant the Flatcar box's Vagrantfile works with.
const MinVagrant = "2.2.5"

// vboxFirstVagrant maps a VirtualBox major.minor to the first Vagrant whose
// built-in provider accepts it (Vagrant refuses any VirtualBox release not
// in its driver map: plugins/providers/virtualbox/driver/meta.rb). Sources:
// Vagrant's changelog; 7.1 came with hashicorp/vagrant#13513 (2.4.2), 7.2
// with #13709 (2.4.9). Debian's 2.3.4 lists up to 7.0.
var vboxFirstVagrant = []struct{ VBox, Vagrant string }{
	{"6.0", "2.2.3"},
	{"6.1", "2.2.7"},
	{"7.0", "2.3.2"},
	{"7.1", "2.4.2"},
	{"7.2", "2.4.9"},
}

// oldestVBox is the oldest VirtualBox cododemo supports: host-only
// networks and paravirtualisation as the Vagrantfile uses them.
const oldestVBox = "6.0"

// vagrantForVBox returns the first Vagrant that supports vbox
// ("" when vbox is newer than any Vagrant cododemo knows), and whether
// vbox is older than cododemo supports.
func vagrantForVBox(vbox string) (need string, tooOld bool) {
	mm := majorMinor(vbox)
	if CompareVersions(mm, oldestVBox) < 0 {
		return "", true
	}
	for _, e := range vboxFirstVagrant {
		if e.VBox == mm {
			return e.Vagrant, false
		}
	}
	return "", false
}

// majorMinor returns "7.0" of "7.0.14".
func majorMinor(v string) string {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return v
	}
	return parts[0] + "." + parts[1]
}

// CompareVersions compares dotted numeric versions; a missing or
// non-numeric part counts as 0 ("2.3" == "2.3.0").
func CompareVersions(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(pa), len(pb)); i++ {
		x, y := num(pa, i), num(pb, i)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
	}
	return 0
}

func num(parts []string, i int) int {
	if i >= len(parts) {
		return 0
	}
	s := parts[i]
	// "4_RC1", "14r161095": the leading digits are the number.
	end := 0
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end++
	}
	n, _ := strconv.Atoi(s[:end])
	return n
}
