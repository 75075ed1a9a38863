package health

import (
	"fmt"
	"strings"
)

// The commands health checks run on a node, in one place so the VM tier
// and `cododemo exec` examples can reuse them. They are Flatcar's: etcdctl
// on the host (ETCDCTL_API=3 is its default; the local member is its
// default endpoint), systemd, and fleetctl where fleet was installed.
//
// File paths are prefixed with ${CODODEMO_ROOT}: unset on a real node, so
// the real files are read; the loopback test nodes (pkg/testnodes) set it to
// a per-node tree because they share one machine's /etc.
const (
	// etcdctlFlags keep etcdctl's own deadlines under a check's timeout, so
	// a dead member is reported by etcdctl ("context deadline exceeded")
	// rather than by the check being cut off.
	etcdctlFlags = "--dial-timeout=2s --command-timeout=4s"

	CmdOSRelease = `cat "${CODODEMO_ROOT}/etc/os-release"; echo ` + updateMarker + `; ` +
		`cat "${CODODEMO_ROOT}/usr/share/coreos/update.conf" "${CODODEMO_ROOT}/usr/share/flatcar/update.conf" ` +
		`"${CODODEMO_ROOT}/etc/coreos/update.conf" "${CODODEMO_ROOT}/etc/flatcar/update.conf" 2>/dev/null; true`
	updateMarker = "--cododemo-update-conf--"

	CmdSystemRunning = "systemctl is-system-running"
	CmdFailedUnits   = "systemctl list-units --failed --plain --no-legend --no-pager"
	CmdDockerActive  = "systemctl is-active docker"

	CmdEtcdLocalHealth   = "etcdctl " + etcdctlFlags + " endpoint health -w json"
	CmdEtcdClusterHealth = "etcdctl " + etcdctlFlags + " endpoint health --cluster -w json"
	CmdEtcdMemberList    = "etcdctl " + etcdctlFlags + " member list -w json"
	CmdEtcdStatus        = "etcdctl " + etcdctlFlags + " endpoint status --cluster -w json"

	CmdFleetMachines = "fleetctl list-machines --full --no-legend --fields=machine,ip,metadata"
	CmdFleetUnits    = "fleetctl list-units --no-legend --full --fields=unit,active"
)

// CmdJournal prints the last lines of a unit's journal.
func CmdJournal(unit string, lines int) string {
	return fmt.Sprintf("journalctl -u %s -n %d --no-pager -o cat", shellQuote(unit), lines)
}

// CmdEtcdPut writes key=value through the node's member (a quorum write).
func CmdEtcdPut(key, value string) string {
	return "etcdctl " + etcdctlFlags + " put " + shellQuote(key) + " " + shellQuote(value)
}

// CmdEtcdGet reads key linearizably (etcdctl's default consistency), so
// the answer went through the leader and a quorum.
func CmdEtcdGet(key string) string {
	return "etcdctl " + etcdctlFlags + " get --consistency=l --print-value-only " + shellQuote(key)
}

// CmdEtcdDel removes key.
func CmdEtcdDel(key string) string {
	return "etcdctl " + etcdctlFlags + " del " + shellQuote(key)
}

// CmdFleetStart writes a unit file on the node and starts it with fleet.
func CmdFleetStart(name, unit string) string {
	path := "/tmp/" + name
	return fmt.Sprintf("cat > %s <<'CODODEMO_UNIT'\n%sCODODEMO_UNIT\nfleetctl start %s", shellQuote(path), unit, shellQuote(path))
}

// CmdFleetDestroy removes the unit from the cluster and the node.
func CmdFleetDestroy(name string) string {
	return fmt.Sprintf("fleetctl destroy %s; rm -f %s", shellQuote(name), shellQuote("/tmp/"+name))
}

// FleetTestUnit is the unit `verify --deep` schedules.
const FleetTestUnit = `[Unit]
Description=cododemo verify probe

[Service]
ExecStart=/bin/sh -c "while true; do sleep 60; done"
`

func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./@:=") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
