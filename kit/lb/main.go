// Command lb is the workshop's load balancer (E13): it follows a key
// prefix in etcd (default /app/server/, where each web@ unit registers
// "ip:port" after it starts and removes it after it stops) and spreads
// requests round-robin across the servers found there, the job confd and
// nginx did in 2014.
//
// It reads etcd v3 through etcd's HTTP/JSON gateway (/v3/kv/range) with
// plain net/http, so the binary stays small and needs no gRPC. It polls
// rather than watches: a poll is one bounded request, and a second of lag
// is nothing next to fleet rescheduling a unit. When etcd cannot be read
// it keeps the last list it had, so a member going down does not take the
// balancer with it; a server that refuses a GET is skipped for the next.
package main

import (
	"context"
	"flag"
	"log"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/cododemo/cododemo/kit/internal/serve"
)

func main() {
	listen := flag.String("listen", ":80", "address to serve on")
	endpoints := flag.String("etcd", envOr("ETCD_ENDPOINTS", "http://127.0.0.1:2379"), "etcd client URLs, comma-separated (ETCD_ENDPOINTS)")
	prefix := flag.String("prefix", "/app/server/", "etcd key prefix whose values are the servers' host:port")
	interval := flag.Duration("interval", time.Second, "how often to read the prefix")
	flag.Parse()
	b := newBalancer(strings.Split(*endpoints, ","), *prefix)
	go b.follow(context.Background(), *interval, func(servers []string) {
		log.Printf("lb: servers under %s: %v", *prefix, servers)
	})
	srv := &http.Server{Addr: *listen, Handler: b, ReadHeaderTimeout: 10 * time.Second}
	log.Printf("lb: serving on %s, following %s in %s", *listen, *prefix, *endpoints)
	// Until SIGTERM: `docker stop` ends it at once, and the unit stops clean.
	if err := serve.UntilStopped(srv); err != nil {
		log.Fatal(err)
	}
	log.Printf("lb: stopped")
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
