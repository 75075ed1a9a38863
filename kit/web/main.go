// Command web is the workshop's web server (E9, E11, E12): on every
// request it answers which path was asked for and which host answered,
// `Hello, "/bar" - <hostname>`, as the 2014 workshop's web.go did. In a
// container the hostname is the container ID, so a load balancer rotating
// across containers shows it changing.
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/cododemo/cododemo/kit/internal/serve"
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
	if err := serve.UntilStopped(srv); err != nil {
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
