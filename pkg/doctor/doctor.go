// Package doctor finds what on a laptop would stop a lab before anything is
// created, and says how to fix it. Probing the host (running vagrant,
// reading /proc, trying a port) and judging what was found are separate:
// Gather runs the probes, each under its own timeout, into Facts; every
// check is a pure function of Facts and the Target lab, so tests judge any
// laptop from a struct literal.
package doctor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Status is a finding's verdict.
type Status string

// Statuses, mildest first. A fail is fatal: `up` refuses to start.
const (
	StatusOK   Status = "ok"
	StatusSkip Status = "skip" // not applicable to this lab, or cannot be checked here
	StatusWarn Status = "warn"
	StatusFail Status = "fail"
)

// Finding is one check's verdict on this host.
type Finding struct {
	Code    string `json:"code"`
	Check   string `json:"check"`
	Status  Status `json:"status"`
	Finding string `json:"finding"`
	Fix     string `json:"fix"` // "" when nothing needs fixing
}

// Check is one row of the code table: a stable code an attendee can read
// out, a short name, and the pure function that judges the facts.
type Check struct {
	Code  string
	Name  string
	Title string // one line for the README table
	Run   func(t Target, f *Facts) Finding
}

// Checks returns the code table in code order. Codes never change meaning
// and are never reused: a retired check keeps its number.
func Checks() []Check {
	return []Check{
		{"CD001", "vagrant", "Vagrant is installed and runs", checkVagrant},
		{"CD002", "vagrant-version", "Vagrant is as new as the box needs: 2.2.5, and 2.2.19 for Flatcar 4722 and later (alpha, beta)", checkVagrantVersion},
		{"CD003", "virtualbox", "VirtualBox (VBoxManage) is installed and its kernel driver loaded", checkVirtualBox},
		{"CD004", "vagrant-virtualbox", "this Vagrant supports this VirtualBox release (7.1 needs Vagrant 2.4.2, 7.2 needs 2.4.9)", checkVagrantVirtualBox},
		{"CD005", "libvirt", "virsh is installed and qemu:///system answers", checkLibvirt},
		{"CD006", "vagrant-libvirt", "the vagrant-libvirt plugin is installed", checkVagrantLibvirt},
		{"CD007", "virtualization", "hardware virtualisation (VT-x/AMD-V, /dev/kvm) is usable", checkVirtualization},
		{"CD008", "arch", "the host can run the box's architecture (Flatcar has no arm64 Vagrant box: Apple silicon uses a lab elsewhere)", checkArch},
		{"CD009", "memory", "free memory holds every node plus a reserve for the host", checkMemory},
		{"CD010", "disk", "free disk holds the box and the VM disks", checkDisk},
		{"CD011", "forwarded-ports", "the host ports the lab forwards are free", checkForwardedPorts},
		{"CD012", "first-boot-port", "the first-boot server's port is free", checkFirstBootPort},
		{"CD013", "hostonly-range", "VirtualBox allows the lab's subnet for host-only networks", checkHostOnlyRange},
		{"CD014", "subnet-clash", "no host interface or route (docker0, VPN) overlaps the lab's subnet", checkSubnetClash},
		{"CD015", "box", "the box the lock pins is in Vagrant's cache", checkBox},
		{"CD016", "ssh-key", "the lab's SSH key is readable by its owner only", checkSSHKey},
		{"CD017", "kvm-virtualbox", "on Linux, no KVM module holds VT-x/AMD-V while the provider is VirtualBox", checkKVMVirtualBox},
		{"CD018", "signing-key", "Flatcar's image-signing subkey does not expire within 90 days", checkSigningKey},
	}
}

// SchemaVersion is the version of the JSON report. It changes only when a
// field is removed or changes meaning; new fields keep it.
const SchemaVersion = 1

// Report is the result of one doctor run.
type Report struct {
	SchemaVersion int       `json:"schema_version"`
	Lab           string    `json:"lab"`
	Provider      string    `json:"provider"`
	Host          string    `json:"host"` // GOOS/GOARCH
	OK            bool      `json:"ok"`   // no fatal finding
	Summary       Summary   `json:"summary"`
	Findings      []Finding `json:"findings"`
}

// Summary counts findings by status.
type Summary struct {
	OK   int `json:"ok"`
	Warn int `json:"warn"`
	Fail int `json:"fail"`
	Skip int `json:"skip"`
}

// Fatal returns the findings that stop `up`.
func (r Report) Fatal() []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.Status == StatusFail {
			out = append(out, f)
		}
	}
	return out
}

// Options tune a run.
type Options struct {
	// Timeout bounds each probe on its own; zero means DefaultTimeout.
	Timeout time.Duration
}

// DefaultTimeout bounds one probe. Vagrant's Ruby start-up costs 1-2 s on
// a slow laptop; a tool that needs more than this is stuck, not slow.
const DefaultTimeout = 10 * time.Second

// Run probes the host for target and judges every check.
func Run(ctx context.Context, p Probes, t Target, o Options) Report {
	facts := Gather(ctx, p, t, o.Timeout)
	return Judge(t, facts)
}

// Judge runs every check over facts already gathered.
func Judge(t Target, f *Facts) Report {
	r := Report{
		SchemaVersion: SchemaVersion,
		Lab:           t.Name,
		Provider:      t.Provider,
		Host:          f.HostOS + "/" + f.HostArch,
	}
	for _, c := range Checks() {
		fd := c.Run(t, f)
		fd.Code, fd.Check = c.Code, c.Name
		switch fd.Status {
		case StatusOK:
			r.Summary.OK++
		case StatusWarn:
			r.Summary.Warn++
		case StatusFail:
			r.Summary.Fail++
		case StatusSkip:
			r.Summary.Skip++
		}
		r.Findings = append(r.Findings, fd)
	}
	r.OK = r.Summary.Fail == 0
	return r
}

// PreflightError lists the fatal findings that stop `up`.
type PreflightError struct{ Findings []Finding }

func (e *PreflightError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "preflight: %d problem(s) would stop the lab (run `cododemo doctor` for the full report, or --skip-preflight to go on anyway):", len(e.Findings))
	for _, f := range e.Findings {
		fmt.Fprintf(&b, "\n  %s %s: %s", f.Code, f.Check, f.Finding)
		if f.Fix != "" {
			fmt.Fprintf(&b, "\n        fix: %s", f.Fix)
		}
	}
	return b.String()
}

// Preflight is what `up` runs before creating anything: the same checks as
// doctor, and an error (a *PreflightError) listing every fatal finding.
// Warnings do not stop the lab; they are in the returned report.
func Preflight(ctx context.Context, p Probes, t Target, o Options) (Report, error) {
	r := Run(ctx, p, t, o)
	if err := ctx.Err(); err != nil {
		return r, err
	}
	if fatal := r.Fatal(); len(fatal) > 0 {
		return r, &PreflightError{Findings: fatal}
	}
	return r, nil
}

// IsPreflight says whether err is (or wraps) a *PreflightError.
func IsPreflight(err error) bool {
	var pe *PreflightError
	return errors.As(err, &pe)
}

// MarkdownTable renders the code table for the README, from Checks() so
// the two never drift apart (a golden test holds the rendered copy).
func MarkdownTable() string {
	var b strings.Builder
	b.WriteString("| code | check | what it makes sure of |\n|---|---|---|\n")
	for _, c := range Checks() {
		fmt.Fprintf(&b, "| %s | `%s` | %s |\n", c.Code, c.Name, c.Title)
	}
	return b.String()
}
