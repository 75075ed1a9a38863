package vagrant

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is Vagrant's version.
type Version struct {
	Major, Minor, Patch int
	// Raw is the version as printed, with any suffix (2.4.0.dev).
	Raw string
}

func (v Version) String() string { return v.Raw }

// AtLeast compares with major.minor.patch.
func (v Version) AtLeast(major, minor, patch int) bool {
	if v.Major != major {
		return v.Major > major
	}
	if v.Minor != minor {
		return v.Minor > minor
	}
	return v.Patch >= patch
}

// ParseVersion reads `vagrant --version` ("Vagrant 2.3.4"). Vagrant may
// print upgrade notices around it; the first "Vagrant X.Y.Z" line counts.
func ParseVersion(out string) (Version, error) {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) != 2 || f[0] != "Vagrant" {
			continue
		}
		parts := strings.SplitN(f[1], ".", 4)
		if len(parts) < 3 {
			continue
		}
		var nums [3]int
		ok := true
		for i := 0; i < 3; i++ {
			n, err := strconv.Atoi(parts[i])
			if err != nil || n < 0 {
				ok = false
				break
			}
			nums[i] = n
		}
		if ok {
			return Version{Major: nums[0], Minor: nums[1], Patch: nums[2], Raw: f[1]}, nil
		}
	}
	return Version{}, fmt.Errorf("vagrant --version: no version in %q", truncate(out, 200))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
