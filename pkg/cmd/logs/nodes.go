package logs

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/cododemo/cododemo/pkg/health"
	"github.com/cododemo/cododemo/pkg/inventory"
	"github.com/cododemo/cododemo/pkg/sshx"
)

// JournalUnits are the units whose journal every bundle carries: the ones
// the classic demo depends on.
var JournalUnits = []string{"etcd-member.service", "fleet.service", "docker.service"}

// journalLines bounds each excerpt so a bundle stays small enough to mail.
const journalLines = 500

// NodeCollector gathers one node's evidence over SSH: the boot journal,
// the failed units and their journals, the lab's key units.
type NodeCollector struct {
	Inv     *inventory.Inventory
	Config  sshx.Config // user and identity file come from the inventory
	Timeout time.Duration
}

// Collect returns files named nodes/<node>/<what>.txt for each wanted
// node. A node that cannot be reached gets an error.txt saying why: a
// bundle from a broken lab is when it matters most.
func (c *NodeCollector) Collect(ctx context.Context, want func(node string) bool) map[string][]byte {
	files := map[string][]byte{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, n := range c.Inv.Nodes {
		if !want(n.Name) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			got := c.node(ctx, n)
			mu.Lock()
			defer mu.Unlock()
			for name, b := range got {
				files["nodes/"+n.Name+"/"+name] = b
			}
		}()
	}
	wg.Wait()
	return files
}

func (c *NodeCollector) node(ctx context.Context, n inventory.Node) map[string][]byte {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	cl, err := health.Dial(ctx, c.Config, n)
	if err != nil {
		return map[string][]byte{"error.txt": []byte(err.Error() + "\n")}
	}
	defer cl.Close()
	out := map[string][]byte{}
	run := func(name, cmd string) string {
		res, err := cl.Run(ctx, cmd)
		text := string(res.Stdout)
		if err != nil {
			text += fmt.Sprintf("\n[cododemo: %s: %v]\n", cmd, err)
		} else if res.ExitStatus != 0 {
			text += fmt.Sprintf("\n[cododemo: %s exited %d: %s]\n", cmd, res.ExitStatus, strings.TrimSpace(string(res.Stderr)))
		}
		out[name] = []byte(text)
		return string(res.Stdout)
	}
	run("journal-boot.txt", fmt.Sprintf("journalctl -b -n %d --no-pager", journalLines*4))
	units := append([]string(nil), JournalUnits...)
	for _, u := range health.ParseFailedUnits([]byte(run("failed-units.txt", health.CmdFailedUnits))) {
		if !contains(units, u) {
			units = append(units, u)
		}
	}
	for _, u := range units {
		run("journal-"+u+".txt", health.CmdJournal(u, journalLines))
	}
	return out
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
