//go:build unix

package serve

import (
	"net"
	"net/http"
	"os"
	"syscall"
	"testing"
	"time"
)

// SIGTERM (what `docker stop` sends) ends the server cleanly: as a
// container's PID 1 the process would otherwise ignore it until killed.
func TestStopsOnSIGTERM(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	srv := &http.Server{Addr: addr, Handler: http.NotFoundHandler()}
	done := make(chan struct{})
	var served error
	go func() { served = UntilStopped(srv); close(done) }()
	up := false
	for i := 0; i < 100 && !up; i++ { // bounded: 5 s
		if resp, err := http.Get("http://" + addr + "/"); err == nil {
			resp.Body.Close()
			up = true
		} else {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if !up {
		t.Fatal("the server never answered")
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
		if served != nil {
			t.Fatalf("after SIGTERM: %v", served)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("still serving 10 s after SIGTERM")
	}
}
