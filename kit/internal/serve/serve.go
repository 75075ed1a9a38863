// Package serve runs the kit's HTTP servers the way a container's PID 1
// must: until SIGTERM (what `docker stop` sends) or SIGINT.
package serve

import (
	"context"
	"errors"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// UntilStopped serves srv until SIGTERM or SIGINT, then shuts it down
// (open requests get 5 s) and returns nil; any other end of serving is
// the error. As a container's PID 1 the process gets no default action for
// SIGTERM: without a handler `docker stop` waits 10 s and kills it, `docker
// run` exits 137 and systemd marks the unit failed (the node then counts
// as degraded until someone resets it).
func UntilStopped(srv *http.Server) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
