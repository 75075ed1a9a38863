package health

import (
	"fmt"
	"slices"
	"strings"
)

// Check names, as the report shows them and --only/--skip take them.
const (
	CheckSSH        = "ssh"
	CheckOS         = "os"
	CheckSystemd    = "systemd"
	CheckDocker     = "docker"
	CheckKit        = "kit"
	CheckEtcdMember = "etcd-member"

	CheckEtcdHealth    = "etcd-health"
	CheckEtcdMembers   = "etcd-members"
	CheckEtcdLeader    = "etcd-leader"
	CheckEtcdWrite     = "etcd-write"
	CheckFleetMachines = "fleet-machines"
	CheckFleetUnit     = "fleet-unit"
)

// CheckInfo describes a check.
type CheckInfo struct {
	Name    string
	Cluster bool // runs once for the cluster, not per node
	Deep    bool // only with --deep
	About   string
}

// Checks lists every check in report order.
var Checks = []CheckInfo{
	{CheckSSH, false, false, "SSH login works (host key pinned or verified)"},
	{CheckOS, false, false, "OS identity, version and update channel from /etc/os-release, compared with the lock"},
	{CheckSystemd, false, false, "systemctl is-system-running is running (failed units and their journal if degraded)"},
	{CheckDocker, false, false, "docker.service is active"},
	{CheckKit, false, false, "the workshop image kit's images (cododemo/hello:1, web:1, lb:1) are loaded in Docker"},
	{CheckEtcdMember, false, false, "the node's etcd endpoint is healthy"},
	{CheckEtcdHealth, true, false, "every member healthy (endpoint health --cluster)"},
	{CheckEtcdMembers, true, false, "member list has exactly the expected members"},
	{CheckEtcdLeader, true, false, "exactly one leader, agreed by every member (endpoint status)"},
	{CheckEtcdWrite, true, false, "a quorum write read back on every node, then removed"},
	{CheckFleetMachines, true, false, "fleetctl list-machines lists every node once, machine IDs unique"},
	{CheckFleetUnit, true, true, "a test unit scheduled by fleet, seen active, destroyed (--deep)"},
}

// Groups name several checks at once.
var Groups = map[string][]string{
	"etcd":  {CheckEtcdMember, CheckEtcdHealth, CheckEtcdMembers, CheckEtcdLeader, CheckEtcdWrite},
	"fleet": {CheckFleetMachines, CheckFleetUnit},
}

func checkIndex(name string) int {
	return slices.IndexFunc(Checks, func(c CheckInfo) bool { return c.Name == name })
}

// Selection is the set of checks to run.
type Selection map[string]bool

// Select resolves --only and --skip (names or groups) into a selection.
// deep adds the --deep checks.
func Select(only, skip []string, deep bool) (Selection, error) {
	expand := func(flag string, names []string) ([]string, error) {
		var out []string
		for _, n := range names {
			n = strings.TrimSpace(n)
			if n == "" {
				continue
			}
			if g, ok := Groups[n]; ok {
				out = append(out, g...)
				continue
			}
			if checkIndex(n) < 0 {
				return nil, fmt.Errorf("%s: unknown check %q; checks: %s; groups: etcd, fleet", flag, n, strings.Join(CheckNames(), ", "))
			}
			out = append(out, n)
		}
		return out, nil
	}
	o, err := expand("--only", only)
	if err != nil {
		return nil, err
	}
	s, err := expand("--skip", skip)
	if err != nil {
		return nil, err
	}
	if slices.Contains(s, CheckSSH) {
		return nil, fmt.Errorf("--skip ssh: every check runs over SSH")
	}
	sel := Selection{}
	for _, c := range Checks {
		// A group does not pull in a --deep check; naming it does.
		if c.Deep && !deep && !slices.Contains(only, c.Name) {
			continue
		}
		if len(o) > 0 && !slices.Contains(o, c.Name) && c.Name != CheckSSH {
			continue
		}
		if slices.Contains(s, c.Name) {
			continue
		}
		sel[c.Name] = true
	}
	return sel, nil
}

// CheckNames lists every check name.
func CheckNames() []string {
	out := make([]string, len(Checks))
	for i, c := range Checks {
		out[i] = c.Name
	}
	return out
}
