// Command benchfirstboot is the two halves of scripts/bench-firstboot.sh:
//
//	benchfirstboot serve FILE ADDR   serve FILE at /file with the first-boot server until stdin closes
//	benchfirstboot load URL N        N concurrent GETs of URL; prints bytes, seconds and MiB/s
//
// The server runs in its own process so the script can read its resident
// memory; the same load client fetches from nginx for the comparison.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/cododemo/cododemo/pkg/firstboot"
)

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: benchfirstboot serve FILE ADDR | load URL N")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2], os.Args[3])
	case "load":
		err = load(os.Args[2], os.Args[3])
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchfirstboot:", err)
		os.Exit(1)
	}
}

func serve(path, addr string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	f.Close()
	srv, err := firstboot.New([]firstboot.File{{URLPath: "/file", Path: path, SHA256: hex.EncodeToString(h.Sum(nil))}}, nil)
	if err != nil {
		return err
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := srv.Start(ctx, ap); err != nil {
		return err
	}
	fmt.Println("listening", srv.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin) // until the script closes stdin
	return srv.Close()
}

func load(url, nStr string) error {
	n, err := strconv.Atoi(nStr)
	if err != nil || n < 1 || n > 10000 {
		return fmt.Errorf("clients %q: want 1..10000", nStr)
	}
	tr := &http.Transport{MaxConnsPerHost: n, MaxIdleConnsPerHost: n, DisableCompression: true}
	cl := &http.Client{Transport: tr, Timeout: 10 * time.Minute}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var total int64
	var firstErr error
	start := time.Now()
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := cl.Get(url)
			var k int64
			if err == nil {
				if resp.StatusCode != http.StatusOK {
					err = fmt.Errorf("GET %s: %s", url, resp.Status)
				} else {
					k, err = io.Copy(io.Discard, resp.Body)
				}
				resp.Body.Close()
			}
			mu.Lock()
			total += k
			if err != nil && firstErr == nil {
				firstErr = err
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	if firstErr != nil {
		return firstErr
	}
	fmt.Printf("%d clients %d bytes %.3f s %.1f MiB/s\n", n, total, secs, float64(total)/secs/(1<<20))
	return nil
}
