package main

import (
	"os"
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
	})
}
