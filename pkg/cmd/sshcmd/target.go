package sshcmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/cododemo/cododemo/pkg/cmdutil"
	"github.com/cododemo/cododemo/pkg/inventory"
	"github.com/cododemo/cododemo/pkg/lab"
	"github.com/cododemo/cododemo/pkg/labstate"
	"github.com/cododemo/cododemo/pkg/sshx"
)

// Target says where the nodes are and how to trust them; `ssh` and `exec`
// share it (and its flags) so both reach a node the same way `verify` does.
type Target struct {
	Inventory                string
	KnownHosts               string
	ConnectTimeout           time.Duration
	InsecureSkipHostKeyCheck bool
	NoPin                    bool
}

// AddFlags adds the target flags to fs.
func (t *Target) AddFlags(fs *pflag.FlagSet) {
	fs.StringVarP(&t.Inventory, "inventory", "i", "", "inventory file (YAML or JSON) of any cluster; default: the lab's <state_dir>/inventory.yaml")
	fs.StringVar(&t.KnownHosts, "known-hosts", "", "known_hosts file pinning host keys (default: the lab's, or known_hosts beside --inventory)")
	fs.DurationVar(&t.ConnectTimeout, "connect-timeout", 10*time.Second, "time limit for each SSH connect and login")
	fs.BoolVar(&t.InsecureSkipHostKeyCheck, "insecure-skip-host-key-check", false, "INSECURE: accept any host key (anyone on the network path can impersonate the nodes)")
	fs.BoolVar(&t.NoPin, "no-pin", false, "refuse hosts not already in known_hosts instead of pinning them")
}

// Nodes is a resolved target: the inventory and how to dial its nodes.
type Nodes struct {
	Inv *inventory.Inventory
	// Source names where the inventory came from, for messages.
	Source string
	base   sshx.Config
}

// Resolve loads the inventory (--inventory, else the lab's) and the known
// hosts. Every error is a usage or configuration error (exit 2).
func (t *Target) Resolve(cmd *cobra.Command, f *cmdutil.Factory) (*Nodes, error) {
	if t.ConnectTimeout <= 0 {
		return nil, cmdutil.Usage(fmt.Errorf("--connect-timeout %s: want a positive duration", t.ConnectTimeout))
	}
	var path, knownHosts string
	if t.Inventory != "" {
		path = t.Inventory
		if !filepath.IsAbs(path) {
			path = filepath.Join(f.WorkDir, path)
		}
		knownHosts = filepath.Join(filepath.Dir(path), labstate.KnownHostsFile)
	} else {
		lab, err := f.LoadLab(cmd, lab.SecretsRead)
		if err != nil {
			return nil, err
		}
		path = lab.State.Join(labstate.InventoryFile)
		knownHosts = lab.State.Join(labstate.KnownHostsFile)
	}
	inv, err := inventory.Load(path, f.Getenv)
	switch {
	case errors.Is(err, os.ErrNotExist) && t.Inventory == "":
		return nil, cmdutil.Usage(fmt.Errorf("no inventory at %s: start the lab with `cododemo up` first, or pass --inventory FILE", path))
	case err != nil:
		return nil, cmdutil.Usage(fmt.Errorf("inventory: %w", err))
	}
	if t.KnownHosts != "" {
		knownHosts = t.KnownHosts
		if !filepath.IsAbs(knownHosts) {
			knownHosts = filepath.Join(f.WorkDir, knownHosts)
		}
	}
	hk := sshx.NewKnownHosts(knownHosts)
	hk.NoPin = t.NoPin
	if t.InsecureSkipHostKeyCheck {
		fmt.Fprintln(f.IO.ErrOut, "WARNING: --insecure-skip-host-key-check: host keys are NOT verified; anyone on the network path can impersonate the nodes")
	}
	return &Nodes{
		Inv:    inv,
		Source: path,
		base: sshx.Config{
			AgentSocket:           f.Getenv("SSH_AUTH_SOCK"),
			HostKeys:              hk,
			InsecureIgnoreHostKey: t.InsecureSkipHostKeyCheck,
			Timeout:               t.ConnectTimeout,
		},
	}, nil
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
// usage error that lists the nodes there are.
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
		return nil, cmdutil.Usage(fmt.Errorf("%s %s in %s; nodes: %s", what, strings.Join(unknown, ", "), n.Source, strings.Join(n.Names(), ", ")))
	}
	return out, nil
}

// Dial connects and logs in to node.
func (n *Nodes) Dial(ctx context.Context, node inventory.Node) (*sshx.Client, error) {
	cfg := n.base
	cfg.User = node.SSH.User
	cfg.IdentityFile = node.SSH.IdentityFile
	return sshx.Dial(ctx, node.Name, node.SSH.Addr(), cfg)
}
