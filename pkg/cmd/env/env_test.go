package env

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cododemo/cododemo/pkg/cmdutil"
	"github.com/cododemo/cododemo/pkg/config"
	"github.com/cododemo/cododemo/pkg/plan"
)

func TestEnvShells(t *testing.T) {
	lab := config.Default()
	lab.Docker.TCP = true
	p, err := plan.New(lab, nil, plan.Secrets{SSHPrivateKeyFile: "/lab/.cododemo/id_ed25519"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"sh": "export DOCKER_HOST='tcp://192.168.56.102:2375'\n" +
			"export ETCDCTL_ENDPOINTS='http://192.168.56.101:2379,http://192.168.56.102:2379,http://192.168.56.103:2379'\n" +
			"export FLEETCTL_TUNNEL='192.168.56.102:22'\n",
		"fish":       "set -gx DOCKER_HOST 'tcp://192.168.56.102:2375';\n",
		"powershell": "$Env:DOCKER_HOST = 'tcp://192.168.56.102:2375'\n",
		"cmd": "SET \"DOCKER_HOST=tcp://192.168.56.102:2375\"\n" +
			"SET \"ETCDCTL_ENDPOINTS=http://192.168.56.101:2379,http://192.168.56.102:2379,http://192.168.56.103:2379\"\n" +
			"SET \"FLEETCTL_TUNNEL=192.168.56.102:22\"\n" +
			"REM fleetctl --tunnel needs the lab's key",
	}
	for shell, prefix := range want {
		var out, errOut bytes.Buffer
		err := Run(&Options{IO: &cmdutil.IOStreams{Out: &out, ErrOut: &errOut}, Plan: p, Node: "core-02", Shell: shell})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(out.String(), prefix) || !strings.Contains(out.String(), "Run this to configure your shell") {
			t.Errorf("%s:\n%s", shell, out.String())
		}
		if shell == "cmd" && strings.Contains(out.String(), "\n#") {
			t.Errorf("cmd output with a # line, which cmd would run:\n%s", out.String())
		}
		if errOut.Len() != 0 {
			t.Errorf("%s: stderr %q", shell, errOut.String())
		}
	}
	err = Run(&Options{IO: &cmdutil.IOStreams{}, Plan: p, Node: "core-02", Shell: "csh"})
	if !cmdutil.IsUsage(err) {
		t.Fatalf("csh: %v", err)
	}
	err = Run(&Options{IO: &cmdutil.IOStreams{}, Plan: p, Node: "core-07", Shell: "sh"})
	if !cmdutil.IsUsage(err) {
		t.Fatalf("unknown node: %v", err)
	}
}
