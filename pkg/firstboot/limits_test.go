package firstboot

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func bigFile(t *testing.T, size int) File {
	t.Helper()
	data := bytes.Repeat([]byte("fleet tarball stand-in "), size/23+1)[:size]
	p := filepath.Join(t.TempDir(), "fleet.tar.gz")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return File{URLPath: "/artifacts/fleet.tar.gz", Path: p, SHA256: sum(data)}
}

// 50 clients that never read once held the whole file in memory each for
// 75 s, and one that never reads was never dropped: now the response
// streams from the open file and a client that reads nothing for the
// write-idle time is cut off.
func TestClientThatNeverReadsIsDropped(t *testing.T) {
	f := bigFile(t, 16<<20)
	done := make(chan Fetch, 1)
	s, err := New([]File{f}, func(fe Fetch) { done <- fe })
	if err != nil {
		t.Fatal(err)
	}
	s.writeIdle = 200 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := s.Start(ctx, netip.MustParseAddrPort("127.0.0.1:0")); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4 << 10)
	}
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", f.URLPath)
	select {
	case fe := <-done:
		if fe.Bytes >= 16<<20 {
			t.Fatalf("a client that never reads got the whole file: %+v", fe)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a client that never reads is still being served")
	}
	if s.Fetched(f.URLPath) != 0 {
		t.Error("a cut-off response counted as fetched")
	}
}

// A FIFO at a served path hung the request forever (the server read the
// path per request); now the file is opened without blocking when the
// server is made, and only a regular file is served.
func TestFIFOIsRefusedNotHung(t *testing.T) {
	p := filepath.Join(t.TempDir(), "core-01.ign")
	if err := mkfifo(p); err != nil {
		t.Skipf("no FIFOs here: %v", err)
	}
	type result struct {
		s   *Server
		err error
	}
	made := make(chan result, 1)
	go func() {
		s, err := New([]File{{URLPath: "/ignition/core-01.ign", Path: p, SHA256: strings.Repeat("a", 64)}}, nil)
		made <- result{s, err}
	}()
	var r result
	select {
	case r = <-made:
	case <-time.After(10 * time.Second):
		t.Fatal("New hangs on a FIFO")
	}
	if r.err == nil {
		defer r.s.Close()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		if err := r.s.Start(ctx, netip.MustParseAddrPort("127.0.0.1:0")); err != nil {
			t.Fatal(err)
		}
		cl := &http.Client{Timeout: 5 * time.Second}
		resp, err := cl.Get("http://" + r.s.Addr() + "/ignition/core-01.ign")
		if err != nil {
			t.Fatalf("a request for a FIFO hangs: %v", err)
		}
		resp.Body.Close()
		t.Fatalf("a FIFO was served: %d", resp.StatusCode)
	}
	if !strings.Contains(r.err.Error(), "not a regular file") {
		t.Fatalf("err = %v", r.err)
	}
}

// Connections beyond MaxConns wait in the accept queue instead of each
// getting a goroutine and buffers.
func TestConnectionsAreBounded(t *testing.T) {
	ign := []byte(`{"ignition":{"version":"3.4.0"}}`)
	p := filepath.Join(t.TempDir(), "core-01.ign")
	if err := os.WriteFile(p, ign, 0o600); err != nil {
		t.Fatal(err)
	}
	s, base, _ := start(t, []File{{URLPath: "/ignition/core-01.ign", Path: p, SHA256: sum(ign)}})
	var idle []net.Conn
	for range MaxConns {
		c, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		idle = append(idle, c)
	}
	cl := &http.Client{Timeout: 500 * time.Millisecond}
	if resp, err := cl.Get(base + "/ignition/core-01.ign"); err == nil {
		resp.Body.Close()
		t.Fatalf("served connection %d while %d were open: %d", MaxConns+1, MaxConns, resp.StatusCode)
	}
	idle[0].Close()
	// The freed slot goes to the next connection in the accept queue
	// (maybe the timed-out one's): retry a bounded number of times.
	var err error
	for range 20 {
		var resp *http.Response
		if resp, err = (&http.Client{Timeout: 2 * time.Second}).Get(base + "/ignition/core-01.ign"); err == nil {
			resp.Body.Close()
			return
		}
		idle[len(idle)-1].Close()
		idle = idle[:len(idle)-1]
	}
	t.Fatalf("no request served after connections closed: %v", err)
}

func TestAllowRefusesOthers(t *testing.T) {
	ign := []byte(`{}`)
	p := filepath.Join(t.TempDir(), "core-01.ign")
	if err := os.WriteFile(p, ign, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := New([]File{{URLPath: "/ignition/core-01.ign", Path: p, SHA256: sum(ign)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Allow(func(a netip.Addr) bool { return !a.IsLoopback() })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := s.Start(ctx, netip.MustParseAddrPort("127.0.0.1:0")); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if code, _ := get(t, "http://"+s.Addr()+"/ignition/core-01.ign"); code != http.StatusForbidden {
		t.Fatalf("GET from a refused address: %d", code)
	}
}

// Many concurrent fetches of one file all get it whole (one open file,
// a section reader each).
func TestConcurrentFetchesGetWholeFile(t *testing.T) {
	f := bigFile(t, 2<<20)
	_, base, _ := start(t, []File{f})
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Get(base + f.URLPath)
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			h := newHash()
			n, err := bufio.NewReader(resp.Body).WriteTo(h)
			if err != nil || n != 2<<20 || h.hex() != f.SHA256 {
				errs <- fmt.Errorf("got %d bytes, sha256 %s: %v", n, h.hex(), err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestRefusesUnspecifiedAddress(t *testing.T) {
	s, err := New(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background(), netip.MustParseAddrPort("0.0.0.0:0")); err == nil {
		s.Close()
		t.Fatal("bound every interface")
	}
}

// On libvirt a port already taken was retried silently while `up` said
// "serving": now it is an error naming the port; an address that does
// not exist yet is waited for, and the wait is said.
func TestStartGuestNetwork(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	s, err := New(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var log bytes.Buffer
	addr := netip.MustParseAddrPort(taken.Addr().String())
	if err := s.StartGuestNetwork(ctx, addr, &log); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("another program holds port %d", addr.Port())) {
		t.Fatalf("taken port: %v", err)
	}
	absent := netip.MustParseAddrPort("192.0.2.1:18080") // TEST-NET-1: on no host
	var mu sync.Mutex
	w := writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return log.Write(p) })
	if err := s.StartGuestNetwork(ctx, absent, w); err != nil {
		t.Fatalf("absent address: %v", err)
	}
	mu.Lock()
	got := log.String()
	mu.Unlock()
	if !strings.Contains(got, "waiting for 192.0.2.1 to exist") {
		t.Fatalf("log = %q", got)
	}
	allow := guestsOf(netip.MustParseAddr("127.0.0.1"))
	for _, a := range []string{"127.0.0.1", "127.0.0.2", "192.0.2.7"} {
		if allow(netip.MustParseAddr(a)) {
			t.Errorf("%s admitted as a guest of 127.0.0.1", a)
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// What was hashed at start is what is sent: a file renamed over the path
// afterwards is not served in its place.
func TestServesTheVerifiedFileNotThePath(t *testing.T) {
	ign := []byte(`{"ignition":{"version":"3.4.0"}}`)
	dir := t.TempDir()
	p := filepath.Join(dir, "core-01.ign")
	if err := os.WriteFile(p, ign, 0o600); err != nil {
		t.Fatal(err)
	}
	_, base, _ := start(t, []File{{URLPath: "/ignition/core-01.ign", Path: p, SHA256: sum(ign)}})
	evil := filepath.Join(dir, "evil")
	if err := os.WriteFile(evil, []byte(`{"ignition":{"version":"3.4.0"},"passwd":{}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(evil, p); err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, base+"/ignition/core-01.ign"); code != http.StatusOK || body != string(ign) {
		t.Fatalf("after a swap: %d %q", code, body)
	}
}
