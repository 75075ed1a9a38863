// Command testlab starts loopback test nodes (pkg/testnodes) outside `go
// test`, for benchmarks and for trying `cododemo verify`, `ssh` and `exec`
// by hand. It prints the inventory's path, then runs until stdin closes or
// it gets SIGINT/SIGTERM, and kills every process it started.
//
//	go run ./pkg/testnodes/testlab -nodes 3
//	go run ./pkg/testnodes/testlab -sim -nodes 20   # simulated nodes, for scaling figures
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/cododemo/cododemo/pkg/testnodes"
)

// tb runs the harness outside a test: cleanups on exit, temp dirs under
// one root that is removed at the end.
type tb struct {
	root     string
	cleanups []func()
	failed   bool
	n        int
}

func (t *tb) Helper()                 {}
func (t *tb) Cleanup(f func())        { t.cleanups = append(t.cleanups, f) }
func (t *tb) Logf(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) }
func (t *tb) Failed() bool            { return t.failed }
func (t *tb) Fatalf(f string, a ...any) {
	t.failed = true
	fmt.Fprintf(os.Stderr, "testlab: "+f+"\n", a...)
	t.close()
	os.Exit(1)
}

func (t *tb) TempDir() string {
	t.n++
	d := filepath.Join(t.root, fmt.Sprint(t.n))
	if err := os.MkdirAll(d, 0o700); err != nil {
		t.Fatalf("%v", err)
	}
	return d
}

func (t *tb) close() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
	t.cleanups = nil
	_ = os.RemoveAll(t.root)
}

func main() {
	nodes := flag.Int("nodes", 3, "number of nodes (each its own sshd)")
	members := flag.Int("members", 0, "etcd members among them (0: every node); the rest use member i%members")
	services := flag.String("services", "etcd,docker", "services written to the inventory")
	sim := flag.Bool("sim", false, "simulated nodes (testnodes.StartSim: an SSH server per node in this process, three etcd members, no processes) instead of real sshd and etcd")
	flag.Parse()
	root, err := os.MkdirTemp("", "testlab-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "testlab:", err)
		os.Exit(1)
	}
	t := &tb{root: root}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	var c *testnodes.Cluster
	if *sim {
		c = testnodes.StartSim(t, testnodes.SimOptions{Nodes: *nodes})
	} else {
		c = testnodes.Start(t, testnodes.Options{Nodes: *nodes, EtcdMembers: *members, Services: splitComma(*services)})
	}
	fmt.Printf("inventory: %s\nknown_hosts: %s\nidentity: %s\nuser: %s\n", c.InventoryPath, c.KnownHostsPath, c.IdentityFile, c.User)
	for _, n := range c.Nodes {
		fmt.Printf("node: %s %s %d\n", n.Name, n.Addr, n.SSHPort)
	}
	fmt.Println("ready")
	stdin := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(stdin) }()
	select {
	case <-sig:
	case <-stdin:
	}
	t.close()
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	return out
}
