package main

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/cododemo/cododemo/pkg/app"
)

// TestMain lets testscript run the real CLI as the `cododemo` command in
// scripts, in-process-built but as a separate process per invocation.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"cododemo": func() { os.Exit(app.Main()) },
	})
}

// TestScripts runs the CLI behaviour tests in testdata/script/*.txtar.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "../../testdata/script",
		Setup: func(env *testscript.Env) error {
			// Real vagrant runs in some scripts: keep its state in the sandbox.
			env.Setenv("VAGRANT_HOME", env.WorkDir+"/.vagrant.d")
			env.Setenv("VAGRANT_CHECKPOINT_DISABLE", "1")
			env.Setenv("NO_COLOR", "1")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){"exits": exits},
	})
}

// exits N CMD ARGS... runs CMD like exec and fails unless it exits with
// status N: `! exec` only says non-zero, and the exit code is part of the
// CLI's contract (2 usage or configuration, 1 failure).
func exits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits N command [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exits: %q is not an exit status", args[0])
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("exits: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", args[1], got, want)
	}
}
