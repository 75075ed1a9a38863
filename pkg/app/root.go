package app

import (
	"github.com/spf13/cobra"

	"github.com/cododemo/cododemo/pkg/cmd/box"
	"github.com/cododemo/cododemo/pkg/cmd/bundle"
	"github.com/cododemo/cododemo/pkg/cmd/configcmd"
	"github.com/cododemo/cododemo/pkg/cmd/destroy"
	doctorcmd "github.com/cododemo/cododemo/pkg/cmd/doctor"
	"github.com/cododemo/cododemo/pkg/cmd/env"
	"github.com/cododemo/cododemo/pkg/cmd/execcmd"
	"github.com/cododemo/cododemo/pkg/cmd/halt"
	"github.com/cododemo/cododemo/pkg/cmd/initcmd"
	"github.com/cododemo/cododemo/pkg/cmd/lock"
	"github.com/cododemo/cododemo/pkg/cmd/logs"
	"github.com/cododemo/cododemo/pkg/cmd/reload"
	"github.com/cododemo/cododemo/pkg/cmd/render"
	"github.com/cododemo/cododemo/pkg/cmd/sshcmd"
	"github.com/cododemo/cododemo/pkg/cmd/status"
	"github.com/cododemo/cododemo/pkg/cmd/up"
	"github.com/cododemo/cododemo/pkg/cmd/verify"
	"github.com/cododemo/cododemo/pkg/cmd/version"
	"github.com/cododemo/cododemo/pkg/cmd/workshop"
	"github.com/cododemo/cododemo/pkg/cmdutil"
)

// NewCmdRoot builds the whole command tree. There are no package-level
// commands: every run gets fresh ones, so tests never share flag state.
func NewCmdRoot(f *cmdutil.Factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "cododemo",
		Short: "Stand up a multi-node Flatcar (CoreOS) lab with Vagrant, prove it healthy, tear it down",
		Long: `cododemo renders, starts, verifies and destroys a multi-node
CoreOS-family lab (Flatcar Container Linux, or legacy CoreOS boxes) on a
laptop with Vagrant: etcd clustered across the nodes, fleet scheduling
units, Docker on every node.`,
	}
	root.SetIn(f.IO.In)
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.ErrOut)
	cmdutil.ConfigureRoot(root)

	root.AddCommand(
		initcmd.NewCmdInit(f),
		render.NewCmdRender(f),
		up.NewCmdUp(f, nil),
		verify.NewCmdVerify(f),
		sshcmd.NewCmdSSH(f),
		execcmd.NewCmdExec(f),
		status.NewCmdStatus(f),
		configcmd.NewCmdConfig(f),
		halt.NewCmdHalt(f),
		reload.NewCmdReload(f),
		destroy.NewCmdDestroy(f),
		logs.NewCmdLogs(f),
		env.NewCmdEnv(f),
		doctorcmd.NewCmdDoctor(f),
		box.NewCmdBox(f),
		lock.NewCmdLock(f),
		bundle.NewCmdBundle(f),
		version.NewCmdVersion(f),
		workshop.NewCmdWorkshop(f),
	)
	return root
}
