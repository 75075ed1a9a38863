// Package env implements `cododemo env`.
package env

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cododemo/cododemo/pkg/cmdutil"
	"github.com/cododemo/cododemo/pkg/hostos"
	"github.com/cododemo/cododemo/pkg/lab"
	"github.com/cododemo/cododemo/pkg/plan"
)

// Shells `env` writes for.
var Shells = []string{"sh", "fish", "powershell", "cmd"}

// Options are the inputs of `cododemo env`.
type Options struct {
	IO    *cmdutil.IOStreams
	Plan  *plan.Plan
	Node  string
	Shell string
}

// Var is one exported variable.
type Var struct{ Name, Value string }

// NewCmdEnv builds `cododemo env`.
func NewCmdEnv(f *cmdutil.Factory) *cobra.Command {
	o := &Options{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "env NODE",
		Short: "Print shell exports that point docker, etcdctl and fleetctl at a node",
		Example: `  eval "$(cododemo env core-01)"
  cododemo env core-01 --shell fish | source
  cododemo env core-01 --shell powershell | Invoke-Expression
  FOR /F "tokens=*" %i IN ('cododemo env core-01 --shell cmd') DO @%i`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			lab, err := f.LoadLab(cmd, lab.SecretsRead)
			if err != nil {
				return err
			}
			o.Plan, o.Node = lab.Plan, args[0]
			return Run(o)
		},
	}
	cmd.Flags().StringVar(&o.Shell, "shell", hostos.CurrentDefaultShell(f.Getenv), "shell syntax: "+strings.Join(Shells, ", "))
	_ = cmd.RegisterFlagCompletionFunc("shell", cobra.FixedCompletions(Shells, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// Vars lists the exports for node.
func Vars(p *plan.Plan, node string) ([]Var, error) {
	n, ok := p.Node(node)
	if !ok {
		return nil, lab.CheckNames([]string{node}, p.NodeNames())
	}
	var vs []Var
	if p.Lab.Docker.TCP {
		vs = append(vs, Var{"DOCKER_HOST", fmt.Sprintf("tcp://%s:%d", n.IP, p.Lab.Docker.Port)})
	}
	if p.Etcd.Enabled {
		vs = append(vs, Var{"ETCDCTL_ENDPOINTS", strings.Join(p.EtcdEndpoints(), ",")})
	}
	if p.Lab.Fleet.Enabled {
		// fleetctl reaches fleet through SSH to the node's private address.
		vs = append(vs, Var{"FLEETCTL_TUNNEL", fmt.Sprintf("%s:22", n.IP)})
	}
	return vs, nil
}

// Run prints the exports in the chosen shell's syntax.
func Run(o *Options) error {
	if !contains(Shells, o.Shell) {
		return cmdutil.Usage(fmt.Errorf("--shell %q: want one of %s", o.Shell, strings.Join(Shells, ", ")))
	}
	vs, err := Vars(o.Plan, o.Node)
	if err != nil {
		return err
	}
	if !o.Plan.Lab.Docker.TCP {
		fmt.Fprintln(o.IO.ErrOut, "note: docker.tcp is off in this lab, so no DOCKER_HOST; set docker.tcp: true to reach Docker from the host")
	}
	Write(o.IO.Out, o.Shell, vs)
	if o.Plan.Lab.Fleet.Enabled && o.Plan.Secrets.SSHPrivateKeyFile != "" {
		comment(o.IO.Out, o.Shell, "fleetctl --tunnel needs the lab's key in your agent: ssh-add "+o.Plan.Secrets.SSHPrivateKeyFile)
	}
	comment(o.IO.Out, o.Shell, usage(o.Shell, o.Node))
	return nil
}

// Write prints vs in shell's syntax.
func Write(w io.Writer, shell string, vs []Var) {
	for _, v := range vs {
		switch shell {
		case "fish":
			fmt.Fprintf(w, "set -gx %s %s;\n", v.Name, quoteSingle(v.Value))
		case "powershell":
			fmt.Fprintf(w, "$Env:%s = %s\n", v.Name, quoteSingle(v.Value))
		case "cmd":
			// set "NAME=value": the quotes keep trailing spaces out;
			// cmd has no quoting inside them, so none may be in value.
			fmt.Fprintf(w, "SET \"%s=%s\"\n", v.Name, strings.NewReplacer(`"`, "", "%", "").Replace(v.Value))
		default:
			fmt.Fprintf(w, "export %s=%s\n", v.Name, quoteSingle(v.Value))
		}
	}
}

// quoteSingle quotes for all three shells: single quotes are literal in
// sh, fish and PowerShell; the values (URLs, addresses) hold none.
func quoteSingle(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "") + "'"
}

func comment(w io.Writer, shell string, text string) {
	if shell == "cmd" {
		// REM, because `FOR /F ... DO @%i` runs every line it is given.
		fmt.Fprintf(w, "REM %s\n", text)
		return
	}
	fmt.Fprintf(w, "# %s\n", text)
}

func usage(shell, node string) string {
	switch shell {
	case "fish":
		return "Run this to configure your shell: cododemo env " + node + " --shell fish | source"
	case "powershell":
		return "Run this to configure your shell: cododemo env " + node + " --shell powershell | Invoke-Expression"
	case "cmd":
		return `Run this to configure your shell: FOR /F "tokens=*" %i IN ('cododemo env ` + node + ` --shell cmd') DO @%i`
	}
	return `Run this to configure your shell: eval "$(cododemo env ` + node + `)"`
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}
