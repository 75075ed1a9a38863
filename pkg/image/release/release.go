// Package release knows the Flatcar release server's layout and parses its
// files: version.txt, the Vagrant catalog, lts-info, .DIGESTS and the
// directory listing used to suggest versions that do exist.
package release

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Files on the release server.
const (
	VersionFile = "version.txt"
	CatalogFile = "flatcar_production_vagrant.json"
	BoxFile     = "flatcar_production_vagrant.box"
	LTSInfoFile = "lts-info"
	SigSuffix   = ".sig"
)

// Server is the release server or a mirror of it.
type Server struct {
	// Mirror replaces https://<channel>.release.flatcar-linux.net with
	// <Mirror>/<channel> (the scheme plan.catalogURL uses too). "" means
	// the official servers.
	Mirror string
}

// ChannelBase is the root of one channel.
func (s Server) ChannelBase(channel string) string {
	if s.Mirror != "" {
		return strings.TrimRight(s.Mirror, "/") + "/" + channel
	}
	return fmt.Sprintf("https://%s.release.flatcar-linux.net", channel)
}

// ArchBase is the directory that lists a channel's versions.
func (s Server) ArchBase(channel, arch string) string {
	return s.ChannelBase(channel) + "/" + arch + "-usr"
}

// URL is a file of one release ("current" or an exact version).
func (s Server) URL(channel, arch, version, file string) string {
	return s.ArchBase(channel, arch) + "/" + version + "/" + file
}

// ParseVersionTxt reads version.txt's KEY=value lines.
func ParseVersionTxt(data []byte) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("version.txt:%d: %q is not KEY=value", n, line)
		}
		out[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"'`)
	}
	return out, sc.Err()
}

var exactVersion = regexp.MustCompile(`^\d+\.\d+\.\d+$`)

// IsExact says whether v looks like 4593.2.5.
func IsExact(v string) bool { return exactVersion.MatchString(v) }

// VersionFromTxt returns FLATCAR_VERSION from version.txt.
func VersionFromTxt(data []byte) (string, error) {
	kv, err := ParseVersionTxt(data)
	if err != nil {
		return "", err
	}
	v := kv["FLATCAR_VERSION"]
	if v == "" {
		v = kv["COREOS_VERSION"] // releases before the rename
	}
	if !IsExact(v) {
		return "", fmt.Errorf("version.txt: FLATCAR_VERSION %q is not an exact version", v)
	}
	return v, nil
}

// Catalog is Vagrant's box metadata format, as Flatcar publishes it.
type Catalog struct {
	Name        string           `json:"name"`
	Description string           `json:"description,omitempty"`
	Versions    []CatalogVersion `json:"versions"`
}

// CatalogVersion is one version of the box.
type CatalogVersion struct {
	Version   string            `json:"version"`
	Providers []CatalogProvider `json:"providers"`
}

// CatalogProvider is one provider's box file.
type CatalogProvider struct {
	Name         string `json:"name"`
	URL          string `json:"url"`
	ChecksumType string `json:"checksum_type"`
	Checksum     string `json:"checksum"`
	Architecture string `json:"architecture,omitempty"`
}

// ParseCatalog decodes and sanity-checks a catalog.
func ParseCatalog(data []byte) (*Catalog, error) {
	var c Catalog
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("vagrant catalog: %w", err)
	}
	if c.Name == "" || len(c.Versions) == 0 {
		return nil, fmt.Errorf("vagrant catalog: no name or no versions")
	}
	return &c, nil
}

// Find returns the provider entry of version; its error lists what exists.
func (c *Catalog) Find(version, provider string) (CatalogProvider, error) {
	var versions []string
	for _, v := range c.Versions {
		versions = append(versions, v.Version)
		if v.Version != version {
			continue
		}
		var names []string
		for _, p := range v.Providers {
			if p.Name == provider {
				if !strings.EqualFold(p.ChecksumType, "sha256") || len(p.Checksum) != 64 {
					return p, fmt.Errorf("catalog %s %s/%s: checksum %s:%q is not a sha256", c.Name, version, provider, p.ChecksumType, p.Checksum)
				}
				p.Checksum = strings.ToLower(p.Checksum)
				return p, nil
			}
			names = append(names, p.Name)
		}
		return CatalogProvider{}, fmt.Errorf("catalog %s %s has no %q box; providers: %s", c.Name, version, provider, strings.Join(names, ", "))
	}
	return CatalogProvider{}, fmt.Errorf("catalog %s lists %s, not %s", c.Name, strings.Join(versions, ", "), version)
}

// LTSStream is one line of lts-info: major:year:supported|unsupported.
type LTSStream struct {
	Major     int
	Year      int
	Supported bool
}

// ParseLTSInfo reads lts-info.
func ParseLTSInfo(data []byte) ([]LTSStream, error) {
	var out []LTSStream
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) != 3 {
			return nil, fmt.Errorf("lts-info:%d: %q is not major:year:supported", n, line)
		}
		major, err1 := strconv.Atoi(f[0])
		year, err2 := strconv.Atoi(f[1])
		if err1 != nil || err2 != nil || (f[2] != "supported" && f[2] != "unsupported") {
			return nil, fmt.Errorf("lts-info:%d: %q is not major:year:supported", n, line)
		}
		out = append(out, LTSStream{Major: major, Year: year, Supported: f[2] == "supported"})
	}
	return out, sc.Err()
}

// NewestSupported returns the directory name of the newest supported LTS
// stream (current-<year>), or "" when none is supported.
func NewestSupported(streams []LTSStream) string {
	best := -1
	for i, s := range streams {
		if s.Supported && (best < 0 || s.Year > streams[best].Year) {
			best = i
		}
	}
	if best < 0 {
		return ""
	}
	return fmt.Sprintf("current-%d", streams[best].Year)
}

// ParseDigests reads a .DIGESTS file: "# SHA512 HASH" sections of
// "<hash>  <name>" lines. It returns algorithm -> file name -> hex.
func ParseDigests(data []byte) (map[string]map[string]string, error) {
	out := map[string]map[string]string{}
	algo := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
		case strings.HasPrefix(line, "#"):
			f := strings.Fields(strings.TrimPrefix(line, "#"))
			if len(f) != 2 || f[1] != "HASH" {
				return nil, fmt.Errorf("DIGESTS:%d: %q is not a '# <ALGO> HASH' header", n, line)
			}
			algo = strings.ToLower(f[0])
			out[algo] = map[string]string{}
		default:
			f := strings.Fields(line)
			if algo == "" || len(f) != 2 {
				return nil, fmt.Errorf("DIGESTS:%d: %q is not '<hash>  <name>' under a header", n, line)
			}
			out[algo][strings.TrimPrefix(f[1], "*")] = strings.ToLower(f[0])
		}
	}
	return out, sc.Err()
}

var hrefVersion = regexp.MustCompile(`href="(?:\./)?(\d+\.\d+\.\d+)/?"`)

// ParseIndex lists the versions an HTML directory listing links to.
func ParseIndex(html []byte) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range hrefVersion.FindAllSubmatch(html, -1) {
		v := string(m[1])
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	SortVersions(out)
	return out
}

func parts(v string) [3]int {
	var p [3]int
	for i, s := range strings.SplitN(v, ".", 3) {
		p[i], _ = strconv.Atoi(s)
	}
	return p
}

// Compare orders exact versions numerically.
func Compare(a, b string) int {
	pa, pb := parts(a), parts(b)
	for i := range pa {
		if pa[i] != pb[i] {
			if pa[i] < pb[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// SortVersions sorts exact versions ascending.
func SortVersions(vs []string) {
	sort.Slice(vs, func(i, j int) bool { return Compare(vs[i], vs[j]) < 0 })
}

// Nearest returns up to n versions of all closest to want: those just
// below and just above it, ascending.
func Nearest(all []string, want string, n int) []string {
	vs := slices.Clone(all)
	SortVersions(vs)
	i := sort.Search(len(vs), func(i int) bool { return Compare(vs[i], want) >= 0 })
	lo, hi := i, i
	for hi-lo < n && (lo > 0 || hi < len(vs)) {
		if lo > 0 {
			lo--
		}
		if hi-lo < n && hi < len(vs) {
			hi++
		}
	}
	return vs[lo:hi]
}
