package doctor

import (
	"context"
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
	root := &cobra.Command{Use: "cododemo"}
	cmdutil.ConfigureRoot(root)
	root.AddCommand(NewCmdDoctor(f))
	root.SetArgs(args)
	ctx := context.Background()
	return cmdutil.ExitCode(ctx, os.Stderr, root.ExecuteContext(ctx))
}
