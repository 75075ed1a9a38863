// Package sshtarget says where the nodes are and how to trust them, for
// every command that logs in to them (verify, ssh, exec): the target
// flags, the inventory they name (a file, or the lab's own), the known
// hosts that pin the nodes' keys, and dialing a node.
package sshtarget

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/cododemo/cododemo/pkg/health"
	"github.com/cododemo/cododemo/pkg/inventory"
	"github.com/cododemo/cododemo/pkg/lab"
	"github.com/cododemo/cododemo/pkg/labstate"
	"github.com/cododemo/cododemo/pkg/sshx"
)

// Flags are the target flags.
type Flags struct {
	Inventory                string
	KnownHosts               string
	ConnectTimeout           time.Duration
	InsecureSkipHostKeyCheck bool
	NoPin                    bool
}

// AddFlags adds the target flags to fs.
func (t *Flags) AddFlags(fs *pflag.FlagSet) {
	fs.StringVarP(&t.Inventory, "inventory", "i", "", "inventory file (YAML or JSON) of any cluster; default: the lab's <state_dir>/inventory.yaml")
	fs.StringVar(&t.KnownHosts, "known-hosts", "", "known_hosts file pinning host keys (default: the lab's, or known_hosts beside --inventory)")
	fs.DurationVar(&t.ConnectTimeout, "connect-timeout", health.DefaultConnectTimeout, "time limit for each SSH connect and login")
	fs.BoolVar(&t.InsecureSkipHostKeyCheck, "insecure-skip-host-key-check", false, "INSECURE: accept any host key (anyone on the network path can impersonate the nodes)")
	fs.BoolVar(&t.NoPin, "no-pin", false, "refuse hosts not already in known_hosts instead of pinning them")
}

// Env is what Resolve needs of the process.
type Env struct {
	WorkDir string
	Getenv  func(string) string
	// LoadLab loads the lab; called only when no --inventory is given.
	LoadLab func() (*lab.Lab, error)
	// Warn receives the warning that host keys are not checked.
	Warn io.Writer
}

// Nodes is a resolved target: the inventory and how to dial its nodes.
type Nodes struct {
	Inv *inventory.Inventory
	// Source names where the inventory came from, for messages.
	Source string
	// Lab is the lab the inventory is of; nil with --inventory.
	Lab *lab.Lab
	// Base holds the SSH settings every node shares (host keys, agent,
	// timeout); each node's user and key come from the inventory.
	Base sshx.Config
}

// Resolve loads the inventory (--inventory, else the lab's) and the known
// hosts, and warns when host keys are not to be checked. Every error is a
// *lab.Error: the user's to fix.
func (t Flags) Resolve(env Env) (*Nodes, error) {
	if t.ConnectTimeout <= 0 {
		return nil, &lab.Error{Err: fmt.Errorf("--connect-timeout %s: want a positive duration", t.ConnectTimeout)}
	}
	n := &Nodes{}
	var knownHosts string
	if t.Inventory != "" {
		n.Source = abs(env.WorkDir, t.Inventory)
		knownHosts = filepath.Join(filepath.Dir(n.Source), labstate.KnownHostsFile)
	} else {
		l, err := env.LoadLab()
		if err != nil {
			return nil, err
		}
		n.Lab = l
		n.Source = l.State.Join(labstate.InventoryFile)
		knownHosts = l.State.Join(labstate.KnownHostsFile)
	}
	inv, err := inventory.Load(n.Source, env.Getenv)
	switch {
	case errors.Is(err, os.ErrNotExist) && t.Inventory == "":
		return nil, &lab.Error{Err: fmt.Errorf("no inventory at %s: start the lab with `cododemo up` first, or pass --inventory FILE", n.Source)}
	case err != nil:
		return nil, &lab.Error{Err: fmt.Errorf("inventory: %w", err)}
	}
	n.Inv = inv
	if n.Lab != nil {
		expectLab(inv, n.Lab)
	}
	if t.KnownHosts != "" {
		knownHosts = abs(env.WorkDir, t.KnownHosts)
	}
	hk := sshx.NewKnownHosts(knownHosts)
	hk.NoPin = t.NoPin
	if t.InsecureSkipHostKeyCheck && env.Warn != nil {
		fmt.Fprintln(env.Warn, "WARNING: --insecure-skip-host-key-check: host keys are NOT verified; anyone on the network path can impersonate the nodes")
	}
	n.Base = sshx.Config{
		AgentSocket:           env.Getenv("SSH_AUTH_SOCK"),
		HostKeys:              hk,
		InsecureIgnoreHostKey: t.InsecureSkipHostKeyCheck,
		Timeout:               t.ConnectTimeout,
	}
	return n, nil
}

// expectLab fills in what the nodes of the lab's own inventory should run
// (the checks compare), from the lab's config and lock.
func expectLab(inv *inventory.Inventory, l *lab.Lab) {
	// The lab's own settings say what the nodes should run, unless the lab
	// brings its own box: then cododemo cannot know what OS it carries.
	if l.Lab.Box.Name != "" {
		return
	}
	if inv.OS.ID == "" {
		inv.OS.ID = l.Lab.Distro
	}
	if inv.OS.Channel == "" && l.Lab.Distro == "flatcar" {
		inv.OS.Channel = l.Lab.Channel
	}
	if l.Lock != nil && l.Lock.OS.Version != "" {
		inv.OS.Version = l.Lock.OS.Version
	}
}

func abs(dir, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// Names lists the nodes in inventory order.
func (n *Nodes) Names() []string {
	out := make([]string, len(n.Inv.Nodes))
	for i, nd := range n.Inv.Nodes {
		out[i] = nd.Name
	}
	return out
}

// Lookup returns the named nodes in the order given; an unknown name is a
// *lab.Error that lists the nodes there are.
func (n *Nodes) Lookup(names ...string) ([]inventory.Node, error) {
	var out []inventory.Node
	var unknown []string
	seen := map[string]bool{}
	for _, name := range names {
		nd, ok := n.Inv.Node(name)
		switch {
		case !ok:
			unknown = append(unknown, fmt.Sprintf("%q", name))
		case !seen[name]:
			seen[name] = true
			out = append(out, nd)
		}
	}
	if len(unknown) > 0 {
		what := "no node"
		if len(unknown) > 1 {
			what = "no nodes"
		}
		return nil, &lab.Error{Err: fmt.Errorf("%s %s in %s; nodes: %s", what, strings.Join(unknown, ", "), n.Source, strings.Join(n.Names(), ", "))}
	}
	return out, nil
}

// Dial connects and logs in to node.
func (n *Nodes) Dial(ctx context.Context, node inventory.Node) (*sshx.Client, error) {
	return health.Dial(ctx, n.Base, node)
}

// Connector dials the nodes for health checks, keeping the connections
// until its Close.
func (n *Nodes) Connector() *health.SSHConnector { return &health.SSHConnector{Base: n.Base} }
