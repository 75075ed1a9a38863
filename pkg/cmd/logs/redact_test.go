package logs

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cododemo/cododemo/pkg/cmdutil"
	"github.com/cododemo/cododemo/pkg/exec"
	"github.com/cododemo/cododemo/pkg/vagrant"
)

// The bundle once carried the cluster token in every .bu/.ign, entries of
// mode 0644, and an orphaned .id_ed25519.tmp-* private key of a killed
// render. Now the token is replaced by a marker in every file, a file
// holding it in a form that cannot be cut out is left out, temporaries
// and private keys never go in, and entries and the bundle are 0600.
func TestLogsBundleRedactsTokenAndLeavesKeysOut(t *testing.T) {
	const token = "cododemo-3f9a1c-secret"
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("ETCD_INITIAL_CLUSTER_TOKEN=" + token))
	zw.Close()
	state := t.TempDir()
	for name, body := range map[string]string{
		"cluster-token":           token + "\n",
		"nodes/core-01.bu":        "initial-cluster-token: " + token + "\n",
		"nodes/core-01.ign":       `{"systemd":{"units":[{"contents":"Environment=\"ETCD_INITIAL_CLUSTER_TOKEN=` + token + `\"\n"}]}}`,
		"nodes/core-02.ign":       `{"storage":{"files":[{"contents":{"source":"data:;base64,` + base64.StdEncoding.EncodeToString(gz.Bytes()) + `"}}]}}`,
		"logs/up-1.log":           "core-01 | etcd: initial-cluster-token=" + token + "\n",
		".id_ed25519.tmp-1234567": "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n-----END OPENSSH PRIVATE KEY-----\n",
		"copy-of-key":             "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n",
	} {
		p := filepath.Join(state, name)
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		_ = os.WriteFile(p, []byte(body), 0o644)
	}
	fake := &exec.Fake{Handler: func(c exec.Cmd) (string, error) { return "Vagrant 2.3.4\n", nil }}
	out := filepath.Join(t.TempDir(), "lab-logs.tar.gz")
	var errOut bytes.Buffer
	o := &Options{IO: &cmdutil.IOStreams{ErrOut: &errOut}, StateDir: state, Nodes: []string{"core-01", "core-02"},
		Out: out, Now: time.Now, Driver: vagrant.New(fake, state, "", nil)}
	if err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("bundle mode: %v %v", fi.Mode(), err)
	}
	b, _ := os.ReadFile(out)
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	got := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Mode != 0o600 {
			t.Errorf("%s: mode %o", h.Name, h.Mode)
		}
		data, _ := io.ReadAll(tr)
		got[h.Name] = string(data)
	}
	for name, data := range got {
		if strings.Contains(data, token) || strings.Contains(data, "PRIVATE KEY") || strings.Contains(name, ".tmp-") {
			t.Errorf("%s ships a secret: %q", name, data)
		}
	}
	for _, name := range []string{"nodes/core-01.bu", "nodes/core-01.ign", "logs/up-1.log"} {
		if !strings.Contains(got["lab-logs/"+name], TokenMarker) {
			t.Errorf("%s: no marker where the token was: %q", name, got["lab-logs/"+name])
		}
	}
	for _, name := range []string{"nodes/core-02.ign", "copy-of-key", "cluster-token"} {
		if _, ok := got["lab-logs/"+name]; ok {
			t.Errorf("%s shipped", name)
		}
	}
	if !strings.Contains(errOut.String(), "left out") || !strings.Contains(errOut.String(), "nodes/core-02.ign") {
		t.Errorf("the user is not told what was left out: %q", errOut.String())
	}
}
