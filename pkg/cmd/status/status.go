// Package status implements `cododemo status`.
package status

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/cododemo/cododemo/pkg/cmdutil"
	"github.com/cododemo/cododemo/pkg/lab"
	"github.com/cododemo/cododemo/pkg/vagrant"
)

// Options are the inputs of `cododemo status`.
type Options struct {
	IO     *cmdutil.IOStreams
	Output cmdutil.Output
	Driver *vagrant.Driver
	// Rendered is false before the first render: nothing exists yet.
	Rendered bool
	Lab      string
	Provider string
	Nodes    []NodeInfo // from the plan, in order
}

// NodeInfo is what the plan knows of a node.
type NodeInfo struct {
	Name string
	IP   string
}

// SchemaVersion is the version of `status -o json`, as doctor's and
// verify's: it changes only when a field changes meaning or goes.
const SchemaVersion = 1

// Report is what `status -o json` prints.
type Report struct {
	SchemaVersion int          `json:"schema_version"`
	Lab           string       `json:"lab"`
	Provider      string       `json:"provider"`
	Rendered      bool         `json:"rendered"`
	Nodes         []NodeStatus `json:"nodes"`
}

// NodeStatus is one node's line.
type NodeStatus struct {
	Name       string `json:"name"`
	IP         string `json:"ip"`
	State      string `json:"state"`
	StateHuman string `json:"state_human"`
	Provider   string `json:"provider,omitempty"`
}

// NewCmdStatus builds `cododemo status`.
func NewCmdStatus(f *cmdutil.Factory) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show each node's state (one vagrant status call)",
		Example: `  cododemo status
  cododemo status -o json | jq -r '.nodes[] | select(.state != "running") | .name'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out, err := cmdutil.CheckOutput(output, cmdutil.OutputTable, cmdutil.OutputJSON)
			if err != nil {
				return err
			}
			lab, err := f.LoadLab(cmd, lab.SecretsRead)
			if err != nil {
				return err
			}
			opts := &Options{
				IO: f.IO, Output: out, Lab: lab.Lab.Name, Provider: lab.Lab.Provider,
				Driver:   vagrant.New(f.Runner, lab.StatePath(), lab.Lab.Provider, f.Getenv),
				Rendered: vagrant.Rendered(lab.StatePath()),
			}
			for _, n := range lab.Plan.Nodes {
				opts.Nodes = append(opts.Nodes, NodeInfo{Name: n.Name, IP: n.IP.String()})
			}
			return Run(cmd.Context(), opts)
		},
	}
	cmdutil.AddOutputFlag(cmd, &output, cmdutil.OutputTable, cmdutil.OutputJSON)
	return cmd
}

// Run asks Vagrant once and prints the report.
func Run(ctx context.Context, o *Options) error {
	rep := Report{SchemaVersion: SchemaVersion, Lab: o.Lab, Provider: o.Provider, Rendered: o.Rendered}
	states := map[string]vagrant.Machine{}
	names := make([]string, len(o.Nodes))
	for i, n := range o.Nodes {
		names[i] = n.Name
	}
	// A lab never brought up is "not created" from its state dir alone:
	// Vagrant is not asked, so a provider missing here is no error.
	if o.Rendered && len(vagrant.Created(o.Driver.Dir, names)) > 0 {
		ms, err := o.Driver.Status(ctx)
		if err != nil {
			return fmt.Errorf("vagrant status: %w", err)
		}
		for _, m := range ms {
			states[m.Name] = m
		}
	}
	for _, n := range o.Nodes {
		ns := NodeStatus{Name: n.Name, IP: n.IP, State: string(vagrant.StateNotCreated), StateHuman: "not created", Provider: o.Provider}
		if m, ok := states[n.Name]; ok {
			ns.State, ns.StateHuman, ns.Provider = string(m.State), m.Short, m.Provider
		}
		rep.Nodes = append(rep.Nodes, ns)
	}
	if o.Output == cmdutil.OutputJSON {
		enc := json.NewEncoder(o.IO.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	printTable(o.IO.Out, rep)
	if !o.Rendered {
		fmt.Fprintln(o.IO.ErrOut, "The lab is not rendered yet: `cododemo up` creates it.")
	}
	return nil
}

func printTable(w io.Writer, rep Report) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tSTATE\tIP")
	for _, n := range rep.Nodes {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", n.Name, n.StateHuman, n.IP)
	}
	_ = tw.Flush()
}
