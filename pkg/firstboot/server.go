// Package firstboot serves what nodes fetch on their first boot: the full
// Ignition configs too big for VirtualBox's guest property, and artifacts
// such as fleet's tarball. It serves only the files it is given, each
// opened once and checked against its sha256 when the server is made,
// then streamed from that open file, on one address.
package firstboot

import (
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

// Limits of one server. A lab is a few nodes fetching a few files each;
// these bound what a stuck or hostile client on the same network can hold.
const (
	// MaxConns bounds open connections; more wait in the kernel's
	// accept queue.
	MaxConns = 64
	// WriteIdle drops a client that reads nothing for this long.
	WriteIdle   = 30 * time.Second
	readTimeout = 30 * time.Second
	idleTimeout = 5 * time.Second
)

// served is a verified file, held open: what was hashed is what is sent,
// whatever happens to the path afterwards.
type served struct {
	File
	f       *os.File
	fi      os.FileInfo
	size    int64
	modTime time.Time
}

// reopen gives a request a descriptor of its own (its own offset, so the
// kernel can sendfile from it) on the very file verified at start: the
// same inode, size and mtime, or an error.
func (sv *served) reopen() (*os.File, error) {
	fd, err := openNoBlock(sv.Path)
	if err != nil {
		return nil, err
	}
	fi, err := fd.Stat()
	if err != nil || !os.SameFile(fi, sv.fi) || fi.Size() != sv.size || !fi.ModTime().Equal(sv.modTime) {
		fd.Close()
		return nil, errChanged
	}
	return fd, nil
}

var errChanged = errors.New("changed since it was pinned")

// Server is a first-boot file server.
type Server struct {
	files   map[string]*served
	onFetch func(Fetch)
	allow   func(netip.Addr) bool
	// writeIdle is WriteIdle; tests shorten it.
	writeIdle time.Duration
	srv       *http.Server
	ln        net.Listener
	mu        sync.Mutex
	received  map[string]int // URL path -> successful fetches
}

// New opens and verifies files and returns a server for them. onFetch,
// when set, is called after every request (from the serving goroutine:
// keep it quick). Close releases the files.
func New(files []File, onFetch func(Fetch)) (*Server, error) {
	s := &Server{files: map[string]*served{}, onFetch: onFetch, received: map[string]int{}, writeIdle: WriteIdle}
	for _, f := range files {
		if len(f.SHA256) != 64 {
			s.closeFiles()
			return nil, fmt.Errorf("firstboot: %s has no sha256: refusing to serve an unverifiable file", f.URLPath)
		}
		if _, dup := s.files[f.URLPath]; dup {
			s.closeFiles()
			return nil, fmt.Errorf("firstboot: %s listed twice", f.URLPath)
		}
		sv, err := open(f)
		if err != nil {
			s.closeFiles()
			return nil, err
		}
		s.files[f.URLPath] = sv
	}
	return s, nil
}

// open opens f without blocking (a FIFO at the path would otherwise hang),
// insists on a regular file and checks its sha256 on the open descriptor.
func open(f File) (*served, error) {
	fd, err := openNoBlock(f.Path)
	if err != nil {
		return nil, fmt.Errorf("firstboot: %s: %w", f.URLPath, err)
	}
	fi, err := fd.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s is not a regular file (%s)", f.Path, fi.Mode().Type())
	}
	if err != nil {
		fd.Close()
		return nil, fmt.Errorf("firstboot: %s: %w", f.URLPath, err)
	}
	h := sha256.New()
	n, err := io.Copy(h, io.NewSectionReader(fd, 0, fi.Size()))
	if err == nil && n != fi.Size() {
		err = fmt.Errorf("%s: short read", f.Path)
	}
	if err == nil && hex.EncodeToString(h.Sum(nil)) != f.SHA256 {
		err = fmt.Errorf("%s changed since it was pinned (sha256 %x, want %s); render again", f.Path, h.Sum(nil), f.SHA256)
	}
	if err != nil {
		fd.Close()
		return nil, fmt.Errorf("firstboot: %s: %w", f.URLPath, err)
	}
	return &served{File: f, f: fd, fi: fi, size: fi.Size(), modTime: fi.ModTime()}, nil
}

// Allow restricts clients to remote addresses for which allow returns
// true (others get 403); call it before Start.
func (s *Server) Allow(allow func(netip.Addr) bool) { s.allow = allow }

// Start binds addr and serves in the background until Close or ctx ends.
// Binding the narrowest address (127.0.0.1, or a libvirt network's gateway)
// keeps the files off every other interface; an unspecified address
// (0.0.0.0, ::) is refused.
func (s *Server) Start(ctx context.Context, addr netip.AddrPort) error {
	if addr.Addr().IsUnspecified() {
		return fmt.Errorf("first-boot server: refusing to bind %s (every interface); bind the address guests reach", addr)
	}
	ln, err := net.Listen("tcp", addr.String())
	if err != nil {
		return fmt.Errorf("first-boot server on %s: %w", addr, err)
	}
	s.mu.Lock()
	s.ln = limitListener(ln, MaxConns)
	s.srv = &http.Server{
		Handler:           http.HandlerFunc(s.serve),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       readTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    16 << 10,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	// A node fetches one or two files: keep-alive would only let idle
	// connections hold the MaxConns slots that waiting nodes need.
	s.srv.SetKeepAlivesEnabled(false)
	srv, l := s.srv, s.ln
	s.mu.Unlock()
	go func() { _ = srv.Serve(l) }()
	go func() {
		<-ctx.Done()
		_ = s.Close()
	}()
	return nil
}

// Addr is the bound address (useful with port 0 in tests).
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Close stops the server at once and releases the files.
func (s *Server) Close() error {
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	var err error
	if srv != nil {
		err = srv.Close()
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
	}
	s.closeFiles()
	return err
}

func (s *Server) closeFiles() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.files {
		if f.f != nil {
			_ = f.f.Close()
		}
	}
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
	cw := &countingWriter{w: w, rc: http.NewResponseController(w), idle: s.writeIdle}
	status := http.StatusOK
	defer func() {
		if cw.status != 0 {
			status = cw.status
		}
		if ok && status == http.StatusOK && r.Method == http.MethodGet && cw.n == f.size {
			s.mu.Lock()
			s.received[r.URL.Path]++
			s.mu.Unlock()
		}
		if s.onFetch != nil {
			s.onFetch(Fetch{URLPath: r.URL.Path, Remote: r.RemoteAddr, Status: status, Bytes: cw.n})
		}
	}()
	if s.allow != nil {
		if ap, err := netip.ParseAddrPort(r.RemoteAddr); err != nil || !s.allow(ap.Addr().Unmap()) {
			status = http.StatusForbidden
			http.Error(w, "forbidden: only the lab's guests fetch here", status)
			return
		}
	}
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
	// The descriptor was verified when the server was made; a write into
	// the same file since then shows as a new size or mtime.
	if fi, err := f.f.Stat(); err != nil || fi.Size() != f.size || !fi.ModTime().Equal(f.modTime) {
		status = http.StatusConflict
		http.Error(w, "file changed since it was pinned; re-render", status)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Cache-Control", "no-store")
	// The request's own descriptor of the verified file, so the kernel
	// sends it (sendfile) with no copy through memory; when the path no
	// longer leads to that file, the descriptor held since start is read
	// through a section reader (its own offset, nothing read whole).
	if fd, err := f.reopen(); err == nil {
		defer fd.Close()
		http.ServeContent(cw, r, "", time.Time{}, fd)
		return
	}
	http.ServeContent(cw, r, "", time.Time{}, io.NewSectionReader(f.f, 0, f.size))
}

// countingWriter counts the body bytes sent and pushes the write deadline
// forward on every write: a client that keeps reading gets the whole
// file however slow its link, one that stops is dropped after WriteIdle.
type countingWriter struct {
	w      http.ResponseWriter
	rc     *http.ResponseController
	idle   time.Duration
	n      int64
	status int
}

func (c *countingWriter) Header() http.Header { return c.w.Header() }

func (c *countingWriter) WriteHeader(code int) {
	c.status = code
	c.w.WriteHeader(code)
}

func (c *countingWriter) Write(p []byte) (int, error) {
	_ = c.rc.SetWriteDeadline(time.Now().Add(c.idle))
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// sendChunk is how much one sendfile call may send before the write
// deadline moves: a client must take 4 MiB per WriteIdle to stay.
const sendChunk = 4 << 20

// ReadFrom lets http.ServeContent's copy reach the connection's
// ReadFrom (sendfile from an *os.File), in chunks so the write deadline
// still moves with progress.
func (c *countingWriter) ReadFrom(src io.Reader) (int64, error) {
	rf, ok := c.w.(io.ReaderFrom)
	lr, isLimited := src.(*io.LimitedReader)
	if !ok || !isLimited {
		return io.Copy(writerOnly{c}, src)
	}
	var total int64
	for lr.N > 0 {
		_ = c.rc.SetWriteDeadline(time.Now().Add(c.idle))
		chunk := &io.LimitedReader{R: lr.R, N: min(lr.N, sendChunk)}
		n, err := rf.ReadFrom(chunk)
		lr.N -= n
		total += n
		c.n += n
		if err != nil {
			return total, err
		}
		if n == 0 {
			break
		}
	}
	return total, nil
}

// writerOnly hides ReadFrom, so io.Copy does not come back to it.
type writerOnly struct{ io.Writer }

// limitListener accepts at most n connections at a time.
func limitListener(l net.Listener, n int) net.Listener {
	return &limited{Listener: l, sem: make(chan struct{}, n)}
}

type limited struct {
	net.Listener
	sem chan struct{}
}

func (l *limited) Accept() (net.Conn, error) {
	l.sem <- struct{}{}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitedConn{Conn: c, release: func() { <-l.sem }}, nil
}

type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// ReadFrom keeps the TCP connection's sendfile path reachable through
// the wrapper.
func (c *limitedConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(writerOnly{c.Conn}, r)
}
