package download

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cododemo/cododemo/pkg/image/cache"
)

func shaOf(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// slowReader paces a body so that concurrent fetches overlap.
type slowReader struct{ *bytes.Reader }

func (s slowReader) Read(p []byte) (int, error) {
	time.Sleep(2 * time.Millisecond)
	return s.Reader.Read(p[:min(len(p), 32<<10)])
}

// Two `box fetch` at once once failed with "open .../partial/<sha>: no
// such file or directory": both wrote one partial file and the first to
// finish renamed it away. Every fetcher now has its own.
func TestConcurrentFetchesOfOneFile(t *testing.T) {
	body := bytes.Repeat([]byte("flatcar box "), 200<<10/12*10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "box", time.Time{}, slowReader{bytes.NewReader(body)})
	}))
	defer srv.Close()
	c := cache.Open(t.TempDir())
	sha := shaOf(body)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	paths := make([]string, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := &Downloader{Cache: c, HTTP: srv.Client()}
			res, err := d.Fetch(context.Background(), Request{URL: srv.URL + "/box", SHA256: sha, Name: "box"})
			errs[i], paths[i] = err, res.Path
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("fetch %d: %v", i, err)
		} else if paths[i] != c.BlobPath(sha) {
			t.Errorf("fetch %d: path %s", i, paths[i])
		}
	}
	if got, _, err := cache.HashFile(c.BlobPath(sha)); err != nil || got != sha {
		t.Errorf("blob: %s %v", got, err)
	}
	if left, _ := os.ReadDir(filepath.Join(c.Dir, "partial")); len(left) != 0 {
		t.Errorf("partial files left: %v", left)
	}
}

// A body that stops sending once hung the fetch forever (the client has
// only connect and header timeouts): now it ends as stalled, the bytes it
// got are kept, and the next fetch resumes from them.
func TestStalledDownloadKeptForResume(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	half := len(body) / 2
	var stall atomic.Bool
	stall.Store(true)
	release := make(chan struct{})
	var ranges []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ranges = append(ranges, r.Method+" "+r.Header.Get("Range"))
		mu.Unlock()
		if r.Method == http.MethodGet && stall.Load() {
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			w.Write(body[:half])
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		http.ServeContent(w, r, "box", time.Time{}, bytes.NewReader(body))
	}))
	defer srv.Close()
	defer close(release)
	c := cache.Open(t.TempDir())
	d := &Downloader{Cache: c, HTTP: srv.Client(), IdleTimeout: 300 * time.Millisecond}
	sha := shaOf(body)
	done := make(chan error, 1)
	go func() {
		_, err := d.Fetch(context.Background(), Request{URL: srv.URL + "/box", SHA256: sha, Name: "box"})
		done <- err
	}()
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("a stalled download still hangs")
	}
	var se *StalledError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "stalled") || !strings.Contains(err.Error(), "kept for resume") {
		t.Fatalf("err = %v", err)
	}
	if n := size(c.PartialPath(sha)); n != int64(half) {
		t.Fatalf("partial holds %d bytes, want %d", n, half)
	}
	stall.Store(false)
	res, err := d.Fetch(context.Background(), Request{URL: srv.URL + "/box", SHA256: sha, Name: "box"})
	if err != nil {
		t.Fatal(err)
	}
	if got, _, _ := cache.HashFile(res.Path); got != sha {
		t.Fatalf("resumed blob sha256 %s", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(strings.Join(ranges, ","), fmt.Sprintf("GET bytes=%d-", half)) {
		t.Errorf("second fetch did not resume: requests %v", ranges)
	}
}

func TestStalledMetadataEnds(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("4593."))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	d := &Downloader{Cache: cache.Open(t.TempDir()), HTTP: srv.Client(), IdleTimeout: 300 * time.Millisecond}
	done := make(chan error, 1)
	go func() { _, err := d.Small(context.Background(), srv.URL+"/version.txt"); done <- err }()
	select {
	case err := <-done:
		var se *StalledError
		if !errors.As(err, &se) {
			t.Fatalf("err = %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a stalled catalog still hangs")
	}
}

// `lock` once pinned a 1 GiB "fleet": with no hash, the size is what
// bounds an unpinned artifact; a pinned one reads no byte past its size.
func TestUnpinnedAndSizedDownloadsAreBounded(t *testing.T) {
	body := bytes.Repeat([]byte("x"), 2<<20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(w, bytes.NewReader(body)) // no Content-Length, no ranges
	}))
	defer srv.Close()
	c := cache.Open(t.TempDir())
	d := &Downloader{Cache: c, HTTP: srv.Client()}
	var tb *TooBigError
	if _, _, err := d.FetchUnpinned(context.Background(), srv.URL+"/fleet.tar.gz", "fleet", 1<<20); !errors.As(err, &tb) {
		t.Fatalf("unpinned: err = %v", err)
	}
	if _, _, err := d.FetchUnpinned(context.Background(), srv.URL+"/fleet.tar.gz", "fleet", 2<<20); err != nil {
		t.Fatalf("unpinned at the bound: %v", err)
	}
	if _, err := d.Fetch(context.Background(), Request{URL: srv.URL + "/a", SHA256: shaOf(body[:1<<20]), Size: 1 << 20, Name: "a"}); !errors.As(err, &tb) {
		t.Fatalf("sized: err = %v", err)
	}
	for _, sub := range []string{"tmp", "partial"} {
		if left, _ := os.ReadDir(filepath.Join(c.Dir, sub)); len(left) != 0 {
			t.Errorf("%s left: %v", sub, left)
		}
	}
}
