package doctor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/spf13/cobra"

	"github.com/cododemo/cododemo/pkg/cmdutil"
)

// mainEnv makes the test binary act as `cododemo` with the doctor command,
// so tests and the benchmark run the whole process the way a user does
// before the command is registered in pkg/app.
const mainEnv = "CODODEMO_DOCTOR_TEST_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(mainEnv) == "1" {
		os.Exit(cliMain(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// cliMain mirrors app.Run for a root holding only doctor.
func cliMain(args []string) int {
	f, err := cmdutil.New("test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	root := &cobra.Command{Use: "cododemo", SilenceUsage: true, SilenceErrors: true}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return cmdutil.Usage(err) })
	cmdutil.AddGlobalFlags(root)
	root.AddCommand(NewCmdDoctor(f))
	root.SetArgs(args)
	err = root.ExecuteContext(context.Background())
	var silent *cmdutil.SilentError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &silent):
		return silent.Code
	}
	fmt.Fprintln(os.Stderr, "Error:", err)
	if cmdutil.IsUsage(err) {
		return 2
	}
	return 1
}
