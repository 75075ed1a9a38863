package logs

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/cododemo/cododemo/pkg/cmdutil"
	"github.com/cododemo/cododemo/pkg/exec"
	"github.com/cododemo/cododemo/pkg/sshx"
	"github.com/cododemo/cododemo/pkg/testnodes"
	"github.com/cododemo/cododemo/pkg/vagrant"
)

func TestLogsBundleLeavesSecretsOut(t *testing.T) {
	state := t.TempDir()
	for name, body := range map[string]string{
		"Vagrantfile": "#", "id_ed25519": "PRIVATE", "id_ed25519.pub": "ssh-ed25519 AAA", "cluster-token": "tok",
		"core-01.ign": "{}", "core-02.ign": "{}", "logs/up-1.log": "core-01 | Booting VM...\n",
		".vagrant/machines/core-01/virtualbox/id": "uuid",
	} {
		p := filepath.Join(state, name)
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		_ = os.WriteFile(p, []byte(body), 0o600)
	}
	fake := &exec.Fake{Handler: func(c exec.Cmd) (string, error) {
		if c.Args[0] == "--version" {
			return "Vagrant 2.3.4\n", nil
		}
		return "1,core-02,state,running\n", nil
	}}
	out := filepath.Join(t.TempDir(), "lab-logs.tar.gz")
	o := &Options{IO: &cmdutil.IOStreams{ErrOut: io.Discard}, StateDir: state, Nodes: []string{"core-01", "core-02"},
		Node: "core-02", Out: out, Now: time.Now, Driver: vagrant.New(fake, state, "", nil)}
	if err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	gz, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
	sort.Strings(names)
	want := []string{"lab-logs/Vagrantfile", "lab-logs/core-02.ign", "lab-logs/id_ed25519.pub", "lab-logs/logs/up-1.log", "lab-logs/vagrant-status.txt", "lab-logs/vagrant-version.txt"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("bundle holds %v", names)
	}
}

// The bundle carries each node's failed units and journals, fetched over
// real SSH; a node that cannot be reached is named with the reason.
func TestLogsCollectsJournalsOverSSH(t *testing.T) {
	c := testnodes.Start(t, testnodes.Options{Nodes: 2})
	if err := c.Node("core-02").SetUnit("etcd-member.service", "failed", "etcd: member core-02 lost its data dir"); err != nil {
		t.Fatal(err)
	}
	c.Node("core-01").StopSSHD()
	state := t.TempDir()
	if err := os.WriteFile(filepath.Join(state, "Vagrantfile"), []byte("#"), 0o644); err != nil {
		t.Fatal(err)
	}
	fake := &exec.Fake{Handler: func(c exec.Cmd) (string, error) { return "Vagrant 2.3.4\n", nil }}
	out := filepath.Join(t.TempDir(), "lab-logs.tar.gz")
	o := &Options{IO: &cmdutil.IOStreams{ErrOut: io.Discard}, StateDir: state, Nodes: []string{"core-01", "core-02"},
		Out: out, Now: time.Now, Driver: vagrant.New(fake, state, "", nil),
		Collector: &NodeCollector{Inv: c.Inventory, Timeout: 20 * time.Second,
			Config: sshx.Config{HostKeys: sshx.NewKnownHosts(c.KnownHostsPath), Timeout: 5 * time.Second}}}
	if err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	files := untar(t, out)
	if !bytes.Contains(files["lab-logs/nodes/core-02/failed-units.txt"], []byte("etcd-member.service")) {
		t.Errorf("failed units: %q", files["lab-logs/nodes/core-02/failed-units.txt"])
	}
	if !bytes.Contains(files["lab-logs/nodes/core-02/journal-etcd-member.service.txt"], []byte("lost its data dir")) {
		t.Errorf("journal: %q", files["lab-logs/nodes/core-02/journal-etcd-member.service.txt"])
	}
	if e := files["lab-logs/nodes/core-01/error.txt"]; !bytes.Contains(e, []byte("core-01")) {
		t.Errorf("unreachable node: %q", e)
	}
}

func untar(t *testing.T, path string) map[string][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	gz, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	out := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		out[h.Name] = data
	}
}
