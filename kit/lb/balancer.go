package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// BackendHeader names the server that answered, for people and tests
// watching the rotation.
const BackendHeader = "X-Cododemo-Backend"

type balancer struct {
	endpoints []string
	prefix    string
	etcd      *http.Client
	proxy     *http.Client

	mu      sync.Mutex
	servers []string
	next    atomic.Uint64
}

func newBalancer(endpoints []string, prefix string) *balancer {
	return &balancer{
		endpoints: endpoints, prefix: prefix,
		etcd:  &http.Client{Timeout: 2 * time.Second},
		proxy: &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
	}
}

// rangeEnd is the end of the range covering every key with prefix, as
// etcdctl --prefix computes it.
func rangeEnd(prefix string) []byte {
	end := []byte(prefix)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return []byte{0}
}

type rangeResponse struct {
	Kvs []struct {
		Key   []byte `json:"key"` // base64 in the gateway's JSON, as []byte decodes it
		Value []byte `json:"value"`
	} `json:"kvs"`
}

// read asks each endpoint in turn for the servers under the prefix.
func (b *balancer) read(ctx context.Context) ([]string, error) {
	body, _ := json.Marshal(map[string]string{
		"key":       base64.StdEncoding.EncodeToString([]byte(b.prefix)),
		"range_end": base64.StdEncoding.EncodeToString(rangeEnd(b.prefix)),
	})
	var errs []error
	for _, ep := range b.endpoints {
		ep = strings.TrimRight(strings.TrimSpace(ep), "/")
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep+"/v3/kv/range", bytes.NewReader(body))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		resp, err := b.etcd.Do(req)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var rr rangeResponse
		err = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&rr)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || err != nil {
			errs = append(errs, fmt.Errorf("%s: HTTP %d %v", ep, resp.StatusCode, err))
			continue
		}
		var servers []string
		for _, kv := range rr.Kvs {
			if v := strings.TrimSpace(string(kv.Value)); v != "" {
				servers = append(servers, v)
			}
		}
		slices.Sort(servers)
		return slices.Compact(servers), nil
	}
	return nil, errors.Join(errs...)
}

// follow reads the prefix every interval until ctx ends, calling changed
// when the list changes.
func (b *balancer) follow(ctx context.Context, interval time.Duration, changed func([]string)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if servers, err := b.read(ctx); err == nil {
			b.mu.Lock()
			diff := !slices.Equal(servers, b.servers)
			b.servers = servers
			b.mu.Unlock()
			if diff && changed != nil {
				changed(servers)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (b *balancer) snapshot() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.servers
}

func (b *balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	servers := b.snapshot()
	if len(servers) == 0 {
		http.Error(w, "no servers registered under "+b.prefix, http.StatusServiceUnavailable)
		return
	}
	// Requests without a body can be retried on the next server: a unit
	// that just stopped may still be listed for a poll interval.
	tries := 1
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		tries = len(servers)
	}
	start := b.next.Add(1) - 1
	var lastErr error
	for i := range tries {
		server := servers[(start+uint64(i))%uint64(len(servers))]
		out, err := http.NewRequestWithContext(r.Context(), r.Method, "http://"+server+r.URL.RequestURI(), r.Body)
		if err != nil {
			lastErr = err
			continue
		}
		out.Header = r.Header.Clone()
		out.Header.Set("X-Forwarded-For", r.RemoteAddr)
		resp, err := b.proxy.Do(out)
		if err != nil {
			lastErr = err
			continue
		}
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.Header().Set(BackendHeader, server)
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
		resp.Body.Close()
		return
	}
	http.Error(w, "no server answered: "+lastErr.Error(), http.StatusBadGateway)
}
