package probe

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"github.com/cododemo/cododemo/pkg/doctor"
)

// Parsers of outside input: each is tested against captured real output in
// testdata/doctor and fuzzed, because a laptop prints whatever it prints.

var (
	vagrantVersionRe = regexp.MustCompile(`(?m)^Vagrant (\d+\.\d+\.\d+\S*)\s*$`)
	dottedRe         = regexp.MustCompile(`^(\d+\.\d+(?:\.\d+)?)`)
	pluginRe         = regexp.MustCompile(`^(\S+) \(([^,)]+)(?:, [^)]*)?\)\s*$`)
	vboxLineRe       = regexp.MustCompile(`^(\d+\.\d+\.\d+)(?:[_r]\S*)?$`)
)

// ParseVagrantVersion reads `vagrant --version` ("Vagrant 2.3.4").
func ParseVagrantVersion(out string) (string, error) {
	m := vagrantVersionRe.FindStringSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("unexpected `vagrant --version` output %q", clip(out))
	}
	return m[1], nil
}

// ParsePluginList reads `vagrant plugin list`: one "name (version, scope)"
// line per plugin, indented detail lines under it, or "No plugins
// installed."
func ParsePluginList(out string) ([]doctor.Plugin, error) {
	var ps []doctor.Plugin
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == ' ' || line[0] == '\t' || strings.HasPrefix(line, "No plugins") {
			continue
		}
		m := pluginRe.FindStringSubmatch(line)
		if m == nil {
			return ps, fmt.Errorf("unexpected `vagrant plugin list` line %q", clip(line))
		}
		ps = append(ps, doctor.Plugin{Name: m[1], Version: m[2]})
	}
	return ps, sc.Err()
}

// ParseVBoxVersion reads `VBoxManage --version`: the version on a line of
// its own ("7.0.14r161095"); every other line is a warning (the vboxdrv
// one), wherever stderr and stdout interleaved it.
func ParseVBoxVersion(out string) (doctor.VirtualBox, error) {
	var vb doctor.VirtualBox
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	for i := len(lines) - 1; i >= 0; i-- {
		if m := vboxLineRe.FindStringSubmatch(lines[i]); m != nil {
			vb.Version = m[1]
			vb.Warnings = append(append(vb.Warnings, lines[:i]...), lines[i+1:]...)
			return vb, nil
		}
	}
	vb.Warnings = lines
	return vb, fmt.Errorf("unexpected `VBoxManage --version` output %q", clip(out))
}

// ParseVirshVersion reads `virsh --version` ("9.0.0").
func ParseVirshVersion(out string) (string, error) {
	s := strings.TrimSpace(out)
	if m := dottedRe.FindStringSubmatch(s); m != nil {
		return m[1], nil
	}
	return "", fmt.Errorf("unexpected `virsh --version` output %q", clip(out))
}

// ParseVirshURI reads `virsh -c URI uri`: the URI the connection reached.
// (`virsh version` would also name the hypervisor, but makes libvirtd probe
// QEMU's capabilities: 8-16 s on a loaded host.)
func ParseVirshURI(out string) (string, error) {
	s := strings.TrimSpace(out)
	if strings.Contains(s, "://") && !strings.ContainsAny(s, " \n") {
		return s, nil
	}
	return "", fmt.Errorf("unexpected `virsh uri` output %q", clip(out))
}

// ParseCPUFlags returns "vmx" (Intel VT-x), "svm" (AMD-V) or "" from
// /proc/cpuinfo.
func ParseCPUFlags(cpuinfo string) string {
	sc := bufio.NewScanner(strings.NewReader(cpuinfo))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(k) != "flags" {
			continue
		}
		for _, fl := range strings.Fields(v) {
			if fl == "vmx" || fl == "svm" {
				return fl
			}
		}
	}
	return ""
}

// ParseMeminfo reads MemTotal and MemAvailable from /proc/meminfo.
func ParseMeminfo(s string) (doctor.Memory, error) {
	var m doctor.Memory
	var haveAvail bool
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fs := strings.Fields(v)
		if len(fs) == 0 {
			continue
		}
		n, err := strconv.ParseUint(fs[0], 10, 64)
		if err != nil {
			continue
		}
		if len(fs) > 1 && fs[1] == "kB" {
			n *= 1024
		}
		switch k {
		case "MemTotal":
			m.Total = n
		case "MemAvailable":
			m.Available, haveAvail = n, true
		}
	}
	if !haveAvail {
		// Kernels before 3.14 lack MemAvailable; no laptop today runs one.
		return m, fmt.Errorf("/proc/meminfo has no MemAvailable line")
	}
	return m, nil
}

// ParseRoutes reads /proc/net/route: hex little-endian destination and
// mask per line, after a header.
func ParseRoutes(s string) ([]doctor.Route, error) {
	var rs []doctor.Route
	sc := bufio.NewScanner(strings.NewReader(s))
	first := true
	for sc.Scan() {
		if first {
			first = false
			continue
		}
		fs := strings.Fields(sc.Text())
		if len(fs) == 0 {
			continue
		}
		if len(fs) < 8 {
			return rs, fmt.Errorf("/proc/net/route: short line %q", clip(sc.Text()))
		}
		dst, err1 := hexAddr(fs[1])
		mask, err2 := hexAddr(fs[7])
		if err1 != nil || err2 != nil {
			return rs, fmt.Errorf("/proc/net/route: bad address in %q", clip(sc.Text()))
		}
		bits, ok := maskBits(mask)
		if !ok {
			continue // non-contiguous masks do not occur in practice
		}
		rs = append(rs, doctor.Route{Iface: fs[0], Dst: netip.PrefixFrom(dst, bits).Masked()})
	}
	return rs, sc.Err()
}

func hexAddr(h string) (netip.Addr, error) {
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != 4 {
		return netip.Addr{}, fmt.Errorf("bad hex address %q", h)
	}
	v := binary.LittleEndian.Uint32(b)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), nil
}

func maskBits(m netip.Addr) (int, bool) {
	a := m.As4()
	v := binary.BigEndian.Uint32(a[:])
	bits := 0
	for v&(1<<31) != 0 {
		bits++
		v <<= 1
	}
	return bits, v == 0
}

// ParseNetworksConf reads /etc/vbox/networks.conf: lines "* <cidr> ..."
// list the ranges host-only networks may use; # starts a comment.
func ParseNetworksConf(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for i, l := range strings.Split(s, "\n") {
		if j := strings.IndexByte(l, '#'); j >= 0 {
			l = l[:j]
		}
		fs := strings.Fields(l)
		if len(fs) == 0 {
			continue
		}
		if fs[0] != "*" {
			return out, fmt.Errorf("line %d: %q does not start with \"*\"", i+1, clip(l))
		}
		for _, c := range fs[1:] {
			p, err := netip.ParsePrefix(c)
			if err != nil {
				return out, fmt.Errorf("line %d: %q is not a CIDR", i+1, c)
			}
			if p.Addr().Is4() {
				out = append(out, p.Masked())
			}
		}
	}
	return out, nil
}

// ParseVMStat reads macOS `vm_stat`: available memory is free, inactive
// and speculative pages times the page size it prints in its header.
func ParseVMStat(s string) (uint64, error) {
	page := uint64(4096)
	if m := regexp.MustCompile(`page size of (\d+) bytes`).FindStringSubmatch(s); m != nil {
		page, _ = strconv.ParseUint(m[1], 10, 64)
	}
	var pages uint64
	found := false
	for _, l := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "Pages free", "Pages inactive", "Pages speculative":
			n, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), "."), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("vm_stat: %q: %w", clip(l), err)
			}
			pages += n
			found = true
		}
	}
	if !found {
		return 0, fmt.Errorf("unexpected vm_stat output %q", clip(s))
	}
	return pages * page, nil
}

func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 120 {
		return s[:120] + "..."
	}
	return s
}
