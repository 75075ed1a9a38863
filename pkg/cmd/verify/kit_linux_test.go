//go:build linux

package verify

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/cododemo/cododemo/pkg/health"
	"github.com/cododemo/cododemo/pkg/image/releasetest"
	"github.com/cododemo/cododemo/pkg/inventory"
	"github.com/cododemo/cododemo/pkg/kit/kittest"
	"github.com/cododemo/cododemo/pkg/testnodes"
)

// TestVerifyKitForReal: `verify --only kit` on three sshd stand-ins whose
// docker is the real CLI talking to a real dockerd of the test's own
// (shared by the nodes). Before the kit is loaded every node fails naming
// the missing images and the loading unit's state; after a real `docker
// load` every node passes; a node whose Docker does not answer fails with
// Docker's words; an inventory without the kit skips the check.
func TestVerifyKitForReal(t *testing.T) {
	d := kittest.Start(t)
	c := testnodes.Start(t, testnodes.Options{Nodes: 3,
		Services: []string{inventory.ServiceEtcd, inventory.ServiceDocker, inventory.ServiceKit}})
	real, err := exec.LookPath("docker")
	if err != nil {
		t.Fatal(err)
	}
	// A node is cut off from Docker by a file in its own tree.
	wrapper := "#!/bin/sh\n" +
		`if [ -e "$CODODEMO_ROOT/run/docker-down" ]; then echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2; exit 1; fi` + "\n" +
		"exec " + real + " -H " + d.Host + " \"$@\"\n"
	if err := os.WriteFile(filepath.Join(c.Dir, "bin", "docker"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	must(t, c.Node("core-02").SetUnit("cododemo-kit.service", "activating"))

	code, rep := verifyJSON(t, c, "--only", "kit")
	assertFails(t, code, rep, "core-01", health.CheckKit, "3 of 3 kit images missing: cododemo/hello:1, cododemo/web:1, cododemo/lb:1 (cododemo-kit.service: inactive)")
	assertFails(t, code, rep, "core-02", health.CheckKit, "(cododemo-kit.service: activating)")

	tarball := filepath.Join(t.TempDir(), "cododemo-kit.tar")
	if err := os.WriteFile(tarball, releasetest.KitTarball(t, "amd64"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := d.Docker("load", "-i", tarball); err != nil {
		t.Fatalf("docker load: %v: %s", err, out)
	}
	code, rep = verifyJSON(t, c, "--only", "kit")
	if code != 0 || !rep.Healthy {
		t.Fatalf("after docker load: exit %d: %+v", code, rep.Checks)
	}
	for _, n := range []string{"core-01", "core-02", "core-03"} {
		if v, _ := verdict(rep, n, health.CheckKit); v.Status != health.Pass || v.Message != "cododemo/hello:1, cododemo/web:1, cododemo/lb:1 loaded" {
			t.Errorf("%s: %+v", n, v)
		}
	}

	must(t, c.Node("core-03").WriteFile("/run/docker-down", ""))
	code, rep = verifyJSON(t, c, "--only", "kit")
	assertFails(t, code, rep, "core-03", health.CheckKit, "docker image ls: exit status 1: Cannot connect to the Docker daemon")
	if v, _ := verdict(rep, "core-01", health.CheckKit); v.Status != health.Pass {
		t.Errorf("core-01 beside a node without Docker: %+v", v)
	}
	// Docker still starting: the check says so instead of waiting on it.
	must(t, c.Node("core-01").SetUnit("docker.service", "activating"))
	code, rep = verifyJSON(t, c, "--only", "kit")
	assertFails(t, code, rep, "core-01", health.CheckKit, "docker.service is activating: the kit can be read once Docker is up")
	must(t, c.Node("core-01").SetUnit("docker.service", "active"))

	// The same nodes, an inventory that runs no kit: skipped, not failed.
	inv := *c.Inventory
	inv.Services = []string{inventory.ServiceEtcd, inventory.ServiceDocker}
	path := filepath.Join(c.Dir, "inventory-nokit.yaml")
	if err := inventory.Write(path, &inv); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, c.Dir, "--inventory", path, "--only", "kit", "-o", "json", "--timeout", "8s")
	var skipped health.JSONReport
	if err := json.Unmarshal([]byte(out), &skipped); err != nil || code != 0 {
		t.Fatalf("no kit in the services: exit %d %v\n%s\n%s", code, err, out, errOut)
	}
	if v, _ := verdict(skipped, "core-01", health.CheckKit); v.Status != health.Skip || v.Message != "kit is not in the inventory's services" {
		t.Errorf("no kit in the services: %+v", v)
	}
}
