package sshtarget_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cododemo/cododemo/pkg/lab"
	"github.com/cododemo/cododemo/pkg/sshtarget"
)

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	inv := "nodes:\n  - name: core-01\n    address: 10.0.0.1\n    ssh: {host: 127.0.0.1, port: 2222, user: core}\n"
	if err := os.WriteFile(filepath.Join(dir, "hosts.yaml"), []byte(inv), 0o644); err != nil {
		t.Fatal(err)
	}
	var warn bytes.Buffer
	noLab := func() (*lab.Lab, error) { return nil, errors.New("the lab must not be loaded with --inventory") }
	env := sshtarget.Env{WorkDir: dir, Getenv: func(string) string { return "" }, LoadLab: noLab, Warn: &warn}

	fl := sshtarget.Flags{Inventory: "hosts.yaml", ConnectTimeout: 1, InsecureSkipHostKeyCheck: true}
	n, err := fl.Resolve(env)
	if err != nil {
		t.Fatal(err)
	}
	if n.Lab != nil || n.Source != filepath.Join(dir, "hosts.yaml") || len(n.Names()) != 1 {
		t.Errorf("resolved %+v", n)
	}
	if n.Base.HostKeys.Path != filepath.Join(dir, "known_hosts") || !n.Base.InsecureIgnoreHostKey {
		t.Errorf("known hosts %s beside the inventory, insecure %v", n.Base.HostKeys.Path, n.Base.InsecureIgnoreHostKey)
	}
	if !strings.Contains(warn.String(), "WARNING: --insecure-skip-host-key-check") {
		t.Errorf("no insecure warning: %q", warn.String())
	}
	if _, err := n.Lookup("core-01", "core-09"); !lab.IsConfig(err) || !strings.Contains(err.Error(), `no node "core-09"`) {
		t.Errorf("unknown node: %v", err)
	}

	for _, bad := range []sshtarget.Flags{
		{Inventory: "hosts.yaml"},                      // no connect timeout
		{Inventory: "missing.yaml", ConnectTimeout: 1}, // no such file
	} {
		if _, err := bad.Resolve(env); !lab.IsConfig(err) {
			t.Errorf("%+v: want a *lab.Error, got %v", bad, err)
		}
	}
}
