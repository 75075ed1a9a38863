// Package render turns a plan into the lab's files: a Vagrantfile and, per
// node, Ignition (from Butane) or cloud-config. Everything it renders is
// validated by the real validators (Butane strict, Ignition's own parser,
// coreos-cloudinit's validator) before anything is written.
package render

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/cododemo/cododemo/pkg/labstate"
	"github.com/cododemo/cododemo/pkg/plan"
	"github.com/cododemo/cododemo/templates"
)

// VirtualBoxIgnitionLimit bounds what VirtualBox stores in the
// /Ignition/Config guest property (Flatcar docs; coreos/ignition#2226): the
// value and its terminating NUL must fit, so a config must be shorter.
const VirtualBoxIgnitionLimit = 1024

// File is one rendered file, relative to the state directory.
type File struct {
	Path string
	Data []byte
	Mode uint32
}

// Served is a file the first-boot server must serve while nodes boot.
type Served struct {
	URLPath string // /ignition/core-01.ign
	File    string // state-dir relative path
	SHA256  string
}

// Result is a rendered lab.
type Result struct {
	Plan   *plan.Plan
	Files  []File
	Served []Served
	// RubyChecked says ValidateVagrantfiles checked the Vagrantfile.
	RubyChecked bool
	// vagrant and tmpl rendered the Vagrantfile: to place a Ruby error
	// at its template line.
	vagrant vagrantData
	tmpl    *Templates
	// Notes tell the user what they must know (a pointer config that
	// needs the first-boot server, an unpinned artifact).
	Notes []string
}

// Options tune a render.
type Options struct {
	// Version is printed into the Vagrantfile header.
	Version   string
	Templates *Templates
	// ConfigDir is the config file's directory relative to the state dir
	// ("..", the default); relative shared folders resolve against it.
	ConfigDir string
}

// Render renders and validates the whole lab. It does no I/O.
func Render(p *plan.Plan, opts Options) (*Result, error) {
	if opts.Templates == nil {
		t, err := LoadTemplates("")
		if err != nil {
			return nil, err
		}
		opts.Templates = t
	}
	r := &Result{Plan: p}
	if pr := p.Provision; pr.Assumed {
		r.Notes = append(r.Notes, fmt.Sprintf("no lock yet: %s, so nodes get %s (%s); `cododemo lock` decides from the exact version",
			pr.Generation, pr.Delivery, pr.Why))
	}
	vnodes := make([]vagrantNode, 0, len(p.Nodes))
	var errs []error
	for _, n := range p.Nodes {
		prov, err := renderNode(r, p, n, opts.Templates)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", n.Name, err))
			continue
		}
		vnodes = append(vnodes, vagrantNode{Node: n, Provision: prov, Forwards: forwardsFor(p, n), ProviderMAC: providerMAC(p, n),
			Console: labstate.ConsoleLog(n.Name)})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if err := checkVagrantValues(p); err != nil {
		return nil, err
	}
	vf, err := vagrantfile(p, vnodes, opts)
	if err != nil {
		return nil, err
	}
	r.vagrant, r.tmpl = vagrantDataFor(p, vnodes, opts), opts.Templates
	r.Files = append([]File{{Path: "Vagrantfile", Data: vf, Mode: 0o644}}, r.Files...)
	for _, a := range p.Artifacts {
		if a.SHA256 == "" {
			r.Notes = append(r.Notes, fmt.Sprintf("%s's tarball is not pinned by sha256 yet: run `cododemo lock` so nodes verify it", a.Name))
		}
	}
	return r, nil
}

// vagrantfile executes the Vagrantfile template. The values were checked
// (config.Validate, checkVagrantValues); the template writes each through
// ruby all the same, so an unchecked one still cannot run code.
func vagrantfile(p *plan.Plan, vnodes []vagrantNode, opts Options) ([]byte, error) {
	vf, err := opts.Templates.Execute(templates.Vagrantfile, vagrantDataFor(p, vnodes, opts))
	if err != nil {
		return nil, fmt.Errorf("rendering the Vagrantfile: %w", err)
	}
	return vf, nil
}

func vagrantDataFor(p *plan.Plan, vnodes []vagrantNode, opts Options) vagrantData {
	d := p.Provision.Delivery
	return vagrantData{
		Upload: d == plan.Upload, GuestProperty: d == plan.GuestProperty, FwCfg: d == plan.FwCfg,
		Plan: p, Nodes: vnodes, Version: opts.Version, BoxURL: p.Box.URL, ConfigDir: cmp.Or(opts.ConfigDir, ".."),
	}
}

type nodeData struct {
	Plan *plan.Plan
	Node plan.Node
	// Artifacts are the files the node fetches at first boot; Fleet and
	// Etcd the ones among them that the node installs, Kit the image kit
	// it docker-loads.
	Artifacts []artifactData
	Fleet     *artifactData
	Etcd      *artifactData
	Kit       *artifactData
}

type artifactData struct {
	Name    string
	Version string
	Tarball string
	URL     string
	SHA256  string
}

type vagrantNode struct {
	plan.Node
	Provision   string
	ProviderMAC string
	// Console is the node's serial console log, relative to the state dir.
	Console  string
	Forwards []forward
}

type forward struct{ Guest, Host int }

type vagrantData struct {
	// Upload, GuestProperty and FwCfg say which delivery the plan chose.
	Upload, GuestProperty, FwCfg bool

	Plan      *plan.Plan
	Nodes     []vagrantNode
	Version   string
	BoxURL    string
	ConfigDir string
}

// renderNode renders one node's provisioning files into r and returns the
// file the Vagrantfile hands to the provider.
func renderNode(r *Result, p *plan.Plan, n plan.Node, t *Templates) (string, error) {
	data := nodeData{Plan: p, Node: n}
	for _, a := range p.Artifacts {
		data.Artifacts = append(data.Artifacts, artifactData{Name: a.Name, Version: a.Version, Tarball: path.Base(a.Path), URL: a.URL, SHA256: a.SHA256})
	}
	for i := range data.Artifacts {
		switch a := &data.Artifacts[i]; a.Name {
		case "fleet":
			data.Fleet = a
		case "etcd":
			data.Etcd = a
		case "kit":
			data.Kit = a
		}
	}
	base := "nodes/" + n.Name
	if n.Delivery == plan.Upload {
		cc, err := t.Execute(templates.CloudConfig, data)
		if err != nil {
			return "", err
		}
		var allowed []string
		if p.Lab.Distro == "coreos" {
			allowed = LegacyKeys
		}
		if err := ValidateCloudConfig(cc, allowed...); err != nil {
			return "", fmt.Errorf("%s.user-data: %w", base, err)
		}
		r.Files = append(r.Files, File{Path: base + ".user-data", Data: cc, Mode: 0o600})
		return base + ".user-data", nil
	}

	bu, err := t.Execute(templates.Butane, data)
	if err != nil {
		return "", err
	}
	r.Files = append(r.Files, File{Path: base + ".bu", Data: bu, Mode: 0o600})
	ign, err := butaneAt(bu, base+".bu", func(line int) (location, bool) {
		return t.lineOf(templates.Butane, data, bu, line)
	})
	if err != nil {
		return "", err
	}
	if err := ValidateIgnition(ign); err != nil {
		return "", fmt.Errorf("%s.ign: %w", base, err)
	}
	if n.Delivery == plan.FwCfg {
		// QEMU reads the fw_cfg file as libvirt's qemu user, not as the
		// user running cododemo. It holds no secret (a public key, the
		// cluster's addresses and token).
		r.Files = append(r.Files, File{Path: base + ".ign", Data: ign, Mode: 0o644})
		return base + ".ign", nil
	}
	r.Files = append(r.Files, File{Path: base + ".ign", Data: ign, Mode: 0o600})
	compact, err := compactJSON(ign)
	if err != nil {
		return "", err
	}
	if len(compact) < VirtualBoxIgnitionLimit {
		r.Files = append(r.Files, File{Path: base + ".vbox.ign", Data: compact, Mode: 0o600})
		return base + ".vbox.ign", nil
	}
	// Too big for the guest property: hand VirtualBox a small config that
	// replaces itself with the full one, fetched from `cododemo up`'s
	// first-boot server and checked against its hash.
	sum := sha256.Sum256(ign)
	s := Served{URLPath: "/ignition/" + n.Name + ".ign", File: base + ".ign", SHA256: hex.EncodeToString(sum[:])}
	ptr, err := PointerConfig(p.FirstBoot.GuestBase+s.URLPath, s.SHA256)
	if err != nil {
		return "", err
	}
	if len(ptr) >= VirtualBoxIgnitionLimit {
		return "", fmt.Errorf("pointer config is %d bytes: VirtualBox's guest property holds less than %d", len(ptr), VirtualBoxIgnitionLimit)
	}
	r.Served = append(r.Served, s)
	r.Files = append(r.Files, File{Path: base + ".vbox.ign", Data: ptr, Mode: 0o600})
	if len(r.Served) == 1 {
		r.Notes = append(r.Notes, fmt.Sprintf(
			"Ignition configs exceed VirtualBox's %d-byte guest property: nodes get a pointer config and fetch the full one from %s (`cododemo up` serves it on %s while they boot)",
			VirtualBoxIgnitionLimit, p.FirstBoot.GuestBase, p.FirstBoot.Listen))
	}
	return base + ".vbox.ign", nil
}

// PointerConfig is an Ignition 3.4.0 config that replaces itself with the
// config at url, verified by its sha256.
func PointerConfig(url, sha256hex string) ([]byte, error) {
	type verification struct {
		Hash string `json:"hash"`
	}
	type resource struct {
		Source       string       `json:"source"`
		Verification verification `json:"verification"`
	}
	cfg := map[string]any{"ignition": map[string]any{
		"version": "3.4.0",
		"config":  map[string]any{"replace": resource{Source: url, Verification: verification{Hash: "sha256-" + sha256hex}}},
	}}
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	if err := ValidateIgnition(b); err != nil {
		return nil, fmt.Errorf("pointer config: %w", err)
	}
	return b, nil
}

func compactJSON(b []byte) ([]byte, error) {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// forwardsFor lists the port forwards of one node: those named for it and,
// for those naming no node, the host port plus the node's offset.
func forwardsFor(p *plan.Plan, n plan.Node) []forward {
	var out []forward
	for _, f := range p.Lab.ForwardPorts {
		switch {
		case f.Node == n.Name:
			out = append(out, forward{Guest: f.Guest, Host: f.Host})
		case f.Node == "":
			out = append(out, forward{Guest: f.Guest, Host: f.Host + n.Index - 1})
		}
	}
	return out
}

// providerMAC writes the MAC the way the provider wants it: VBoxManage
// takes 12 hex digits, libvirt the colon form.
func providerMAC(p *plan.Plan, n plan.Node) string {
	if p.Lab.Provider == "virtualbox" {
		return strings.ToUpper(strings.ReplaceAll(n.MAC, ":", ""))
	}
	return n.MAC
}
