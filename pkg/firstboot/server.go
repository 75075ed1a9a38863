// Package firstboot serves what nodes fetch on their first boot: the full
// Ignition configs too big for VirtualBox's guest property, and artifacts
// such as fleet's tarball. It serves only the files it is given, each
// checked against its sha256 before every response, on one address.
package firstboot

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sort"
	"sync"
	"time"
)

// File is one servable file.
type File struct {
	URLPath string // "/ignition/core-01.ign"
	Path    string // on disk
	SHA256  string // hex; a file whose bytes differ is never served
}

// Fetch is one request the server answered, for progress and logs.
type Fetch struct {
	URLPath string
	Remote  string
	Status  int
	Bytes   int64
}

// Server is a first-boot file server.
type Server struct {
	files    map[string]File
	onFetch  func(Fetch)
	srv      *http.Server
	ln       net.Listener
	mu       sync.Mutex
	received map[string]int // URL path -> successful fetches
}

// New returns a server for files. onFetch, when set, is called after every
// request (from the serving goroutine: keep it quick).
func New(files []File, onFetch func(Fetch)) (*Server, error) {
	s := &Server{files: map[string]File{}, onFetch: onFetch, received: map[string]int{}}
	for _, f := range files {
		if len(f.SHA256) != 64 {
			return nil, fmt.Errorf("firstboot: %s has no sha256: refusing to serve an unverifiable file", f.URLPath)
		}
		if _, dup := s.files[f.URLPath]; dup {
			return nil, fmt.Errorf("firstboot: %s listed twice", f.URLPath)
		}
		s.files[f.URLPath] = f
	}
	return s, nil
}

// Start binds addr and serves in the background until Close or ctx ends.
// Binding the narrowest address (127.0.0.1, or a libvirt network's gateway)
// keeps the files off every other interface.
func (s *Server) Start(ctx context.Context, addr netip.AddrPort) error {
	ln, err := net.Listen("tcp", addr.String())
	if err != nil {
		return fmt.Errorf("first-boot server on %s: %w", addr, err)
	}
	s.ln = ln
	s.srv = &http.Server{
		Handler:           http.HandlerFunc(s.serve),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	go func() { _ = s.srv.Serve(ln) }()
	go func() {
		<-ctx.Done()
		_ = s.Close()
	}()
	return nil
}

// Addr is the bound address (useful with port 0 in tests).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the server at once.
func (s *Server) Close() error {
	if s.srv == nil {
		return nil
	}
	err := s.srv.Close()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Fetched says how often path was served successfully.
func (s *Server) Fetched(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.received[path]
}

// Pending lists the paths not fetched yet, sorted.
func (s *Server) Pending() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for p := range s.files {
		if s.received[p] == 0 {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	f, ok := s.files[r.URL.Path]
	status, n := http.StatusOK, int64(0)
	defer func() {
		if status == http.StatusOK && r.Method == http.MethodGet {
			s.mu.Lock()
			s.received[r.URL.Path]++
			s.mu.Unlock()
		}
		if s.onFetch != nil {
			s.onFetch(Fetch{URLPath: r.URL.Path, Remote: r.RemoteAddr, Status: status, Bytes: n})
		}
	}()
	switch {
	case !ok:
		status = http.StatusNotFound
		http.NotFound(w, r)
		return
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		status = http.StatusMethodNotAllowed
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", status)
		return
	}
	data, err := os.ReadFile(f.Path)
	if err != nil {
		status = http.StatusInternalServerError
		http.Error(w, "unavailable", status)
		return
	}
	sum := sha256.Sum256(data)
	if hex.EncodeToString(sum[:]) != f.SHA256 {
		// The file changed since it was rendered or cached: a node would
		// reject it anyway; say so here, where it can be fixed.
		status = http.StatusConflict
		http.Error(w, "file changed since it was pinned; re-render", status)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", fmt.Sprint(len(data)))
	w.Header().Set("Cache-Control", "no-store")
	if r.Method == http.MethodHead {
		return
	}
	n, _ = io.Copy(w, bytes.NewReader(data))
}
