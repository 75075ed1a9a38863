package health

import (
	"fmt"
	"regexp"
	"strconv"
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

	CmdOSRelease = `cat "${CODODEMO_ROOT}/etc/os-release"; echo ` + UpdateConfMarker + `; ` +
		`cat "${CODODEMO_ROOT}/usr/share/coreos/update.conf" "${CODODEMO_ROOT}/usr/share/flatcar/update.conf" ` +
		`"${CODODEMO_ROOT}/etc/coreos/update.conf" "${CODODEMO_ROOT}/etc/flatcar/update.conf" 2>/dev/null; true`
	// UpdateConfMarker separates os-release from update.conf in
	// CmdOSRelease's output.
	UpdateConfMarker = "--cododemo-update-conf--"

	CmdSystemRunning = "systemctl is-system-running"
	CmdFailedUnits   = "systemctl list-units --failed --plain --no-legend --no-pager"
	CmdDockerActive  = "systemctl is-active docker"
	// CmdKitImages lists the images Docker has, one repo:tag a line, once
	// docker.service is active (Type=notify: its API answers). Before that
	// the docker CLI would wait on the socket for a dockerd still starting,
	// for the whole check timeout and with it the batch of every node
	// check (90 s an attempt at first boot under emulation), or would
	// socket-activate a stopped one; instead it says the unit's state on
	// stderr and exits ExitDockerNotActive.
	CmdKitImages = `if systemctl is-active --quiet docker; then docker image ls --format '{{.Repository}}:{{.Tag}}'; ` +
		`else echo "docker.service is $(systemctl is-active docker)" >&2; exit 3; fi`
	// ExitDockerNotActive is CmdKitImages' exit status when docker.service
	// is not active (systemctl is-active's own).
	ExitDockerNotActive = 3
	// CmdKitUnit is the state of the unit that loads the kit at boot.
	CmdKitUnit = "systemctl is-active " + KitUnit
	// KitUnit docker-loads the kit on a cododemo node (templates/).
	KitUnit = "cododemo-kit.service"

	CmdEtcdLocalHealth   = "etcdctl " + etcdctlFlags + " endpoint health -w json"
	CmdEtcdClusterHealth = "etcdctl " + etcdctlFlags + " endpoint health --cluster -w json"
	CmdEtcdMemberList    = "etcdctl " + etcdctlFlags + " member list -w json"
	CmdEtcdStatus        = "etcdctl " + etcdctlFlags + " endpoint status --cluster -w json"

	CmdFleetMachines = "fleetctl list-machines --full --no-legend --fields=machine,ip,metadata"
	CmdFleetUnits    = "fleetctl list-units --no-legend --full --fields=unit,active"
)

// AtEndpoints runs an etcdctl command against the given client URLs
// instead of the node's own endpoint: cluster-wide checks and the probe
// write reach every member, so the node they run from having a dead
// member does not blind them (etcdctl takes ETCDCTL_ENDPOINTS, as
// --endpoints, and uses whichever answers).
func AtEndpoints(urls []string, cmd string) string {
	if len(urls) == 0 {
		return cmd
	}
	return "ETCDCTL_ENDPOINTS=" + shellQuote(strings.Join(urls, ",")) + " " + cmd
}

// SplitEndpoints is AtEndpoints' inverse, for stand-in nodes: the URLs
// (nil for none) and the command.
func SplitEndpoints(cmd string) ([]string, string) {
	rest, ok := strings.CutPrefix(cmd, "ETCDCTL_ENDPOINTS=")
	if !ok {
		return nil, cmd
	}
	urls, cmd, _ := strings.Cut(rest, " ")
	return strings.Split(strings.Trim(urls, "'"), ","), cmd
}

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

// BatchScript runs several commands in one SSH session (one shell, one
// fork of sshd) and frames each one's output with a marker carrying
// nonce, so that no command output can forge a frame: on stdout its start
// time, then its output, then its exit status and end time; on stderr
// (SSH keeps the two streams apart) a start marker, then its errors.
// Only builtins and one subshell per command: no temp file, no helper
// processes, since on a loaded machine every fork shows. ParseBatch
// splits the output. Fewer sessions is most of what makes a 20-node
// verify cheap.
func BatchScript(nonce string, cmds []string) string {
	var b strings.Builder
	for i, c := range cmds {
		fmt.Fprintf(&b, "printf '\\n@@%s %d %%s\\n' \"${EPOCHREALTIME:-}\"; printf '\\n@@%s %d\\n' >&2\n", nonce, i, nonce, i)
		fmt.Fprintf(&b, "( %s\n)\n", c) // a subshell: an exit in c ends only c
		fmt.Fprintf(&b, "printf '\\n@@%s-rc %d %%d %%s\\n' $? \"${EPOCHREALTIME:-}\"\n", nonce, i)
	}
	fmt.Fprintf(&b, "printf '\\n@@%s-end\\n'; printf '\\n@@%s-end\\n' >&2\n", nonce, nonce)
	return b.String()
}

// batchCmd finds a BatchScript's commands, for SplitBatch.
var batchCmd = regexp.MustCompile(`(?s)printf '\\n@@(\w+) (\d+) %s\\n' "\$\{EPOCHREALTIME:-\}"; printf '\\n@@\w+ \d+\\n' >&2\n\( (.*?)\n\)\n`)

// SplitBatch is BatchScript's inverse, for stand-in nodes that answer
// commands without a shell: the nonce and the commands, or false when
// script is not a batch.
func SplitBatch(script string) (nonce string, cmds []string, ok bool) {
	for i, m := range batchCmd.FindAllStringSubmatch(script, -1) {
		if m[2] != strconv.Itoa(i) || (nonce != "" && m[1] != nonce) {
			return "", nil, false
		}
		nonce = m[1]
		cmds = append(cmds, m[3])
	}
	return nonce, cmds, len(cmds) > 0
}

// FrameBatch is what a shell prints running BatchScript(nonce, ...) whose
// commands gave results; ParseBatch reads it back.
func FrameBatch(nonce string, results []BatchResult) (stdout, stderr []byte) {
	var o, e strings.Builder
	for i, r := range results {
		fmt.Fprintf(&o, "\n@@%s %d \n%s\n@@%s-rc %d %d \n", nonce, i, r.Stdout, nonce, i, r.ExitStatus)
		fmt.Fprintf(&e, "\n@@%s %d\n%s", nonce, i, r.Stderr)
	}
	fmt.Fprintf(&o, "\n@@%s-end\n", nonce)
	fmt.Fprintf(&e, "\n@@%s-end\n", nonce)
	return []byte(o.String()), []byte(e.String())
}

// BatchResult is one command's share of a batch.
type BatchResult struct {
	Stdout, Stderr []byte
	ExitStatus     int
	// Seconds is how long it ran, when the shell has $EPOCHREALTIME (bash
	// 5); -1 otherwise.
	Seconds float64
}

// ParseBatch splits BatchScript output into n results. A command whose
// frame is missing or cut short (the batch was killed) is absent from the
// map: its check runs on its own.
func ParseBatch(nonce string, n int, stdout, stderr []byte) map[int]BatchResult {
	res := map[int]BatchResult{}
	out, errOut := string(stdout), string(stderr)
	begin := "\n@@" + nonce + " "
	rcM := "\n@@" + nonce + "-rc "
	for i := 0; i < n; i++ {
		id := strconv.Itoa(i)
		b := strings.Index(out, begin+id+" ")
		if b < 0 {
			continue
		}
		rest := out[b+len(begin):]
		nl := strings.IndexByte(rest, '\n')
		if nl < 0 {
			continue
		}
		startF := strings.Fields(rest[:nl])
		body := rest[nl+1:]
		e := strings.Index(body, rcM+id+" ")
		if e < 0 {
			continue // cut short: the command never finished
		}
		tail := body[e+len(rcM):]
		nl = strings.IndexByte(tail, '\n')
		if nl < 0 {
			continue
		}
		f := strings.Fields(tail[:nl])
		if len(f) < 2 {
			continue
		}
		status, err := strconv.Atoi(f[1])
		if err != nil {
			continue
		}
		r := BatchResult{Stdout: []byte(body[:e]), ExitStatus: status, Seconds: -1}
		// Its stderr runs from its marker to the next marker, or to the
		// end when the batch was cut right after it.
		if m := strings.Index(errOut, "\n@@"+nonce+" "+id+"\n"); m >= 0 {
			e := errOut[m+len("\n@@"+nonce+" "+id+"\n"):]
			if next := strings.Index(e, "\n@@"+nonce); next >= 0 {
				e = e[:next]
			}
			r.Stderr = []byte(e)
		}
		if len(startF) == 2 && len(f) == 3 {
			t0, err0 := strconv.ParseFloat(startF[1], 64)
			t1, err1 := strconv.ParseFloat(f[2], 64)
			if err0 == nil && err1 == nil && t1 >= t0 {
				r.Seconds = t1 - t0
			}
		}
		res[i] = r
	}
	return res
}
