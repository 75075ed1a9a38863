package firstboot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func sum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func start(t *testing.T, files []File) (*Server, string, *[]Fetch) {
	t.Helper()
	var mu sync.Mutex
	var log []Fetch
	s, err := New(files, func(f Fetch) { mu.Lock(); log = append(log, f); mu.Unlock() })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := s.Start(ctx, netip.MustParseAddrPort("127.0.0.1:0")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, "http://" + s.Addr(), &log
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServesOnlyPinnedFiles(t *testing.T) {
	dir := t.TempDir()
	ign := []byte(`{"ignition":{"version":"3.4.0"}}`)
	p := filepath.Join(dir, "core-01.ign")
	if err := os.WriteFile(p, ign, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "secret"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, base, log := start(t, []File{{URLPath: "/ignition/core-01.ign", Path: p, SHA256: sum(ign)}})

	if got := s.Pending(); len(got) != 1 {
		t.Fatalf("pending %v", got)
	}
	code, body := get(t, base+"/ignition/core-01.ign")
	if code != 200 || body != string(ign) {
		t.Fatalf("GET: %d %q", code, body)
	}
	if s.Fetched("/ignition/core-01.ign") != 1 || len(s.Pending()) != 0 {
		t.Fatalf("fetch not counted")
	}
	for _, path := range []string{"/secret", "/ignition/../secret", "/ignition/", "/", "/ignition/core-02.ign"} {
		if code, _ := get(t, base+path); code != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, code)
		}
	}
	resp, err := http.Post(base+"/ignition/core-01.ign", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", resp.StatusCode)
	}
	// A file changed on disk after it was pinned is refused.
	if err := os.WriteFile(p, []byte(`{"tampered":true}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _ := get(t, base+"/ignition/core-01.ign"); code != http.StatusConflict {
		t.Errorf("tampered file: %d, want 409", code)
	}
	if len(*log) < 7 {
		t.Errorf("fetch log has %d entries", len(*log))
	}
}

func TestRefusesUnpinned(t *testing.T) {
	if _, err := New([]File{{URLPath: "/a", Path: "/dev/null"}}, nil); err == nil {
		t.Fatal("a file without sha256 was accepted")
	}
}

func TestBindsOnlyTheGivenAddress(t *testing.T) {
	s, _, _ := start(t, nil)
	if !strings.HasPrefix(s.Addr(), "127.0.0.1:") {
		t.Fatalf("bound %s", s.Addr())
	}
}

type hasher struct{ h hash.Hash }

func newHash() *hasher                        { return &hasher{sha256.New()} }
func (h *hasher) Write(p []byte) (int, error) { return h.h.Write(p) }
func (h *hasher) hex() string                 { return hex.EncodeToString(h.h.Sum(nil)) }
