// Command web is the workshop's web server (E9, E11, E12): on every
// request it answers which path was asked for and which host answered,
// `Hello, "/bar" - <hostname>`, as the 2014 workshop's web.go did. In a
// container the hostname is the container ID, so a load balancer rotating
// across containers shows it changing.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("listen", ":8080", "address to serve on")
	flag.Parse()
	host, err := os.Hostname()
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Addr: *addr, Handler: handler(host), ReadHeaderTimeout: 10 * time.Second}
	log.Printf("web: serving on %s as %s", *addr, host)
	serveUntilStopped(srv)
}

// serveUntilStopped serves until SIGTERM or SIGINT, then shuts down and
// returns. As a container's PID 1 the process gets no default action for
// SIGTERM: without a handler `docker stop` waits 10 s and kills it, `docker
// run` exits 137 and systemd marks the unit failed (the node then counts
// as degraded until someone resets it).
func serveUntilStopped(srv *http.Server) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
	log.Printf("web: stopped")
}

func handler(host string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "Hello, %q - %s\n", r.URL.Path, host)
	})
}
