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
