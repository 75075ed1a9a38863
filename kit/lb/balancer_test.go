package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cododemo/cododemo/pkg/testnodes"
)

func TestRangeEnd(t *testing.T) {
	for in, want := range map[string]string{"/app/server/": "/app/server0", "a\xff": "b", "\xff\xff": "\x00"} {
		if got := string(rangeEnd(in)); got != want {
			t.Errorf("rangeEnd(%q) = %q, want %q", in, got, want)
		}
	}
}

// put and del go through etcd's JSON gateway, the way the balancer reads.
func etcdCall(t *testing.T, ep, op string, body map[string]string) {
	t.Helper()
	for k, v := range body {
		body[k] = base64.StdEncoding.EncodeToString([]byte(v))
	}
	b, _ := json.Marshal(body)
	resp, err := http.Post(ep+"/v3/kv/"+op, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		msg, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s: HTTP %d %s", op, resp.StatusCode, msg)
	}
}

func backend(t *testing.T, name string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "Hello, %q - %s\n", r.URL.Path, name)
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

func get(t *testing.T, url string) (int, string, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header.Get(BackendHeader)
}

// TestFollowsEtcdAndRotates runs the balancer against a real etcd member:
// servers registered under the prefix are rotated across, keys outside it
// are ignored, a deleted key drops its server, an empty prefix is a 503.
func TestFollowsEtcdAndRotates(t *testing.T) {
	c := testnodes.Start(t, testnodes.Options{Nodes: 1})
	n := c.Nodes[0]
	ep := fmt.Sprintf("http://%s:%d", n.Addr, n.ClientPort)
	a, b, other := backend(t, "web-a"), backend(t, "web-b"), backend(t, "elsewhere")
	etcdCall(t, ep, "put", map[string]string{"key": "/app/server/8081", "value": a})
	etcdCall(t, ep, "put", map[string]string{"key": "/app/server/8082", "value": b})
	etcdCall(t, ep, "put", map[string]string{"key": "/app/serverX", "value": other})

	// A dead endpoint first: the balancer goes on to the next.
	lb := newBalancer([]string{"http://127.0.0.1:1", ep}, "/app/server/")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	changes := make(chan []string, 10)
	go lb.follow(ctx, 50*time.Millisecond, func(s []string) { changes <- s })
	waitFor(t, changes, 2)
	front := httptest.NewServer(lb)
	defer front.Close()

	seen := map[string]int{}
	for range 6 {
		code, body, via := get(t, front.URL+"/bar")
		if code != 200 {
			t.Fatalf("HTTP %d: %s", code, body)
		}
		seen[body]++
		if via != a && via != b {
			t.Errorf("answered by %q, not a registered server", via)
		}
	}
	if seen["Hello, \"/bar\" - web-a\n"] != 3 || seen["Hello, \"/bar\" - web-b\n"] != 3 {
		t.Errorf("not round-robin over both servers: %v", seen)
	}

	etcdCall(t, ep, "deleterange", map[string]string{"key": "/app/server/8081"})
	waitFor(t, changes, 1)
	for range 3 {
		if _, body, _ := get(t, front.URL+"/x"); body != "Hello, \"/x\" - web-b\n" {
			t.Errorf("after the delete: %q, want only web-b", body)
		}
	}
	etcdCall(t, ep, "deleterange", map[string]string{"key": "/app/server/8082"})
	waitFor(t, changes, 0)
	if code, body, _ := get(t, front.URL+"/"); code != 503 {
		t.Errorf("no servers: HTTP %d %q, want 503", code, body)
	}
}

// TestSkipsDeadServer: a server still listed but gone is skipped.
func TestSkipsDeadServer(t *testing.T) {
	lb := newBalancer(nil, "/app/server/")
	lb.servers = []string{"127.0.0.1:1", backend(t, "alive")}
	front := httptest.NewServer(lb)
	defer front.Close()
	for range 4 {
		if code, body, _ := get(t, front.URL+"/"); code != 200 || body != "Hello, \"/\" - alive\n" {
			t.Errorf("HTTP %d %q", code, body)
		}
	}
}

func waitFor(t *testing.T, changes chan []string, n int) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case s := <-changes:
			if len(s) == n {
				return
			}
		case <-deadline:
			t.Fatalf("the balancer never saw %d servers", n)
		}
	}
}
