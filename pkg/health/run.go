package health

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/cododemo/cododemo/pkg/inventory"
)

// RunOptions say how `verify` (and `up`'s verify step) checks a cluster.
type RunOptions struct {
	Options
	// Wait retries with backoff until healthy or this long has passed; 0
	// checks once.
	Wait time.Duration
	// Progress receives a line per unhealthy attempt while waiting.
	Progress io.Writer
}

// Run checks inv over conn and returns the report. While waiting, every
// attempt gets fresh connections when conn is an *SSHConnector: a node
// that came back since the last attempt is dialled again.
func Run(ctx context.Context, inv *inventory.Inventory, conn Connector, o RunOptions) *Report {
	verify := func(ctx context.Context) *Report {
		c := conn
		if sc, ok := conn.(*SSHConnector); ok && o.Wait > 0 {
			fresh := &SSHConnector{Base: sc.Base}
			defer fresh.Close()
			c = fresh
		}
		v := &Verifier{Inv: inv, Conn: c, Opts: o.Options}
		return v.Verify(ctx)
	}
	if o.Wait <= 0 {
		return verify(ctx)
	}
	return Wait(ctx, verify, WaitOptions{
		Deadline: o.Wait,
		Progress: func(attempt int, r *Report, next time.Duration) {
			if o.Progress != nil {
				fmt.Fprintf(o.Progress, "attempt %d: still failing: %s; next try in %s\n",
					attempt, strings.Join(r.Failing(), ", "), next.Round(time.Second))
			}
		},
	})
}
