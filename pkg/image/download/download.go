// Package download fetches files into the cache with go-getter (HTTP and
// file getters only: S3 and GCS live in separate go-getter modules that
// cododemo never links). Every file is hashed as it streams in, checked
// against its pinned sha256, and only then renamed into the cache; an
// interrupted transfer stays in the cache's partial/ dir and resumes with a
// Range request where the server supports it.
package download

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	getter "github.com/hashicorp/go-getter/v2"

	"github.com/cododemo/cododemo/pkg/image/cache"
)

// Downloader fetches pinned files into a cache.
type Downloader struct {
	Cache *cache.Cache
	// HTTP is the client for every request; nil uses NewHTTPClient().
	HTTP *http.Client
	// Progress receives a progress bar; nil (not a terminal) stays quiet.
	Progress io.Writer
	// Offline forbids the network: only cache hits succeed.
	Offline bool
	// IdleTimeout ends a download whose body sends nothing for this long
	// (0 = DefaultIdleTimeout); what arrived is kept for resume.
	IdleTimeout time.Duration
}

// DefaultIdleTimeout is how long a body may send nothing before the
// download counts as stalled: longer than any hiccup of conference wifi,
// shorter than a user's patience.
const DefaultIdleTimeout = 60 * time.Second

func (d *Downloader) idle() time.Duration {
	if d.IdleTimeout > 0 {
		return d.IdleTimeout
	}
	return DefaultIdleTimeout
}

// StalledError says a body sent nothing for too long.
type StalledError struct {
	URL  string
	Idle time.Duration
	Kept int64 // bytes kept for resume (0 for metadata, which is not kept)
}

func (e *StalledError) Error() string {
	if e.Kept > 0 {
		return fmt.Sprintf("download from %s stalled (nothing received for %s); %d bytes kept for resume; run again", e.URL, e.Idle, e.Kept)
	}
	return fmt.Sprintf("download from %s stalled (nothing received for %s); run again", e.URL, e.Idle)
}

// TooBigError says a body is larger than what it can be.
type TooBigError struct {
	URL string
	Max int64
}

func (e *TooBigError) Error() string {
	return fmt.Sprintf("%s: larger than %d bytes, more than it can be; refused", e.URL, e.Max)
}

var errStalled = errors.New("stalled")

// watchdog cancels a transfer when kick is not called for idle: an HTTP
// client has timeouts for connect and headers, none between body reads.
type watchdog struct {
	t *time.Timer
	d time.Duration
}

func newWatchdog(ctx context.Context, idle time.Duration) (context.Context, *watchdog, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	w := &watchdog{d: idle, t: time.AfterFunc(idle, func() { cancel(errStalled) })}
	return ctx, w, func() { w.t.Stop(); cancel(nil) }
}

func (w *watchdog) kick() {
	if w != nil {
		w.t.Reset(w.d)
	}
}

func stalled(ctx context.Context) bool { return errors.Is(context.Cause(ctx), errStalled) }

// NewHTTPClient returns a client with connect and header timeouts but no
// overall deadline (a box is hundreds of MB on conference wifi), and no
// transparent gzip (the bytes hashed must be the bytes served).
func NewHTTPClient() *http.Client {
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   30 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		DisableCompression:    true,
		MaxIdleConnsPerHost:   4,
		ReadBufferSize:        256 << 10,
	}
	return &http.Client{Transport: tr}
}

func (d *Downloader) http() *http.Client {
	if d.HTTP == nil {
		d.HTTP = NewHTTPClient()
	}
	return d.HTTP
}

// OfflineError says what is missing when the network may not be used.
type OfflineError struct{ What, SHA256 string }

func (e *OfflineError) Error() string {
	return fmt.Sprintf("offline: %s (sha256 %s) is not in the cache; fetch it online or import a bundle that has it", e.What, e.SHA256)
}

// HTTPError is a non-2xx answer.
type HTTPError struct {
	URL    string
	Status int
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("GET %s: %d %s", e.URL, e.Status, http.StatusText(e.Status))
}

// IsNotFound says whether err is a 404 (or a missing file:// path).
func IsNotFound(err error) bool {
	var he *HTTPError
	if errors.As(err, &he) {
		return he.Status == http.StatusNotFound || he.Status == http.StatusGone
	}
	return errors.Is(err, os.ErrNotExist)
}

// Request is one pinned file.
type Request struct {
	URL    string
	SHA256 string
	Size   int64  // optional; checked when > 0, and no byte beyond it is read
	Name   string // for messages and the progress bar
	// Max bounds the body when Size is not known (0 = no bound).
	Max int64
}

// Result says where the file is and whether the network was used.
type Result struct {
	Path string
	Hit  bool
}

// Fetch returns the cached blob for req.SHA256, downloading it first if
// needed. On any error the cache holds no new blob.
func (d *Downloader) Fetch(ctx context.Context, req Request) (Result, error) {
	if !cache.ValidSHA256(req.SHA256) {
		return Result{}, fmt.Errorf("%s: pinned sha256 %q is not 64 hex digits", req.Name, req.SHA256)
	}
	if p, ok := d.Cache.Path(req.SHA256); ok {
		return Result{Path: p, Hit: true}, nil
	}
	if d.Offline {
		return Result{}, &OfflineError{What: req.Name, SHA256: req.SHA256}
	}
	if req.Name == "" {
		req.Name = path.Base(req.URL)
	}
	p, err := d.fetch(ctx, req)
	var mm *cache.MismatchError
	if errors.As(err, &mm) && mm.Resumed {
		// A server that advertises ranges but ignores them appends a
		// whole body to the partial file; start over once.
		p, err = d.fetch(ctx, req)
	}
	if err != nil {
		return Result{}, err
	}
	return Result{Path: p}, nil
}

// fetch downloads into a partial file of its own: it claims the shared
// partial/<sha> of an interrupted fetch by an atomic rename (so it
// resumes it), or starts a new one, and on interruption puts what it has
// back under the shared name for the next run. Two fetches at once never
// write, resume or commit the same file; the second to finish finds the
// blob committed and drops its copy.
func (d *Downloader) fetch(ctx context.Context, req Request) (string, error) {
	shared := d.Cache.PartialPath(req.SHA256)
	if err := os.MkdirAll(filepath.Dir(shared), 0o755); err != nil {
		return "", err
	}
	mine := fmt.Sprintf("%s.%d-%08x", shared, os.Getpid(), rand.Uint32())
	if err := os.Rename(shared, mine); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	max := req.Max
	if req.Size > 0 {
		max = req.Size
	}
	got, n, resumed, err := d.get(ctx, req.URL, req.Name, mine, max)
	if err != nil {
		if p, ok := d.Cache.Path(req.SHA256); ok {
			_ = os.Remove(mine) // a concurrent fetch finished it
			return p, nil
		}
		keepPartial(mine, shared)
		return "", err
	}
	if got != req.SHA256 || (req.Size > 0 && n != req.Size) {
		_ = os.Remove(mine)
		return "", &cache.MismatchError{What: fmt.Sprintf("%s from %s", req.Name, req.URL), Want: req.SHA256, Got: got,
			WantSize: req.Size, GotSize: n, Resumed: resumed}
	}
	return d.Cache.Commit(mine, req.SHA256)
}

// keepPartial puts an interrupted download back under the shared name,
// unless a concurrent fetch left a longer one there.
func keepPartial(mine, shared string) {
	if size(mine) == 0 || size(shared) > size(mine) {
		_ = os.Remove(mine)
		return
	}
	if os.Rename(mine, shared) != nil {
		_ = os.Remove(mine)
	}
}

// FetchUnpinned downloads a file cododemo has no hash for (trust on first
// use, for `cododemo lock` to pin) and returns its cache path and sha256.
// It reads at most max bytes (0 = no bound): with no hash, the size is
// the only thing that bounds what a server can make it store.
func (d *Downloader) FetchUnpinned(ctx context.Context, rawURL, name string, max int64) (string, string, error) {
	if d.Offline {
		return "", "", fmt.Errorf("offline: %s has no pinned sha256 yet; run `cododemo lock` online once", name)
	}
	dir, err := d.Cache.TempDir()
	if err != nil {
		return "", "", err
	}
	tmp, err := os.MkdirTemp(dir, "unpinned-*")
	if err != nil {
		return "", "", err
	}
	defer os.RemoveAll(tmp)
	dst := filepath.Join(tmp, "file")
	sha, _, _, err := d.get(ctx, rawURL, name, dst, max)
	if err != nil {
		return "", "", err
	}
	p, err := d.Cache.Commit(dst, sha)
	return p, sha, err
}

// get downloads rawURL to dst (resuming what dst holds) and returns the
// sha256 and size of the finished file, reading at most max bytes (0 =
// no bound) and giving up when the body stalls.
func (d *Downloader) get(ctx context.Context, rawURL, name, dst string, max int64) (string, int64, bool, error) {
	if name == "" {
		name = path.Base(rawURL)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", 0, false, err
	}
	src, err := getterSource(rawURL)
	if err != nil {
		return "", 0, false, fmt.Errorf("%s: %w", name, err)
	}
	ctx, dog, stop := newWatchdog(ctx, d.idle())
	defer stop()
	tr := &tracker{partial: dst, out: d.Progress, name: name, max: max, dog: dog}
	client := &getter.Client{
		Getters: []getter.Getter{
			&getter.HttpGetter{Client: d.http(), XTerraformGetDisabled: true},
			&getter.FileGetter{},
		},
		// No decompressors: a .tar.gz artifact is stored as published.
		Decompressors:   map[string]getter.Decompressor{},
		DisableSymlinks: true,
	}
	_, gerr := client.Get(ctx, &getter.Request{
		Src:              src,
		Dst:              dst,
		GetMode:          getter.ModeFile,
		Copy:             true,
		ProgressListener: tr,
	})
	tr.finish()
	if gerr != nil {
		if code, ok := statusCode(gerr); ok {
			removeEmpty(dst, true)
			return "", 0, false, fmt.Errorf("%s: %w", name, &HTTPError{URL: rawURL, Status: code})
		}
		var big *TooBigError
		switch {
		case errors.As(gerr, &big) || tr.tooBig:
			_ = os.Remove(dst)
			return "", 0, false, fmt.Errorf("%s: %w", name, &TooBigError{URL: rawURL, Max: max})
		case stalled(ctx):
			n := size(dst)
			removeEmpty(dst, false)
			return "", 0, false, fmt.Errorf("%s: %w", name, &StalledError{URL: rawURL, Idle: d.idle(), Kept: n})
		case ctx.Err() != nil:
			return "", 0, false, fmt.Errorf("%s: %w", name, context.Cause(ctx))
		}
		n := size(dst)
		removeEmpty(dst, false)
		if n > 0 {
			return "", 0, false, fmt.Errorf("%s: download from %s interrupted after %d bytes (kept for resume; run again): %w", name, rawURL, n, gerr)
		}
		return "", 0, false, fmt.Errorf("%s: download from %s: %w", name, rawURL, gerr)
	}
	if max > 0 && size(dst) > max {
		// A file:// source is copied without the tracker.
		_ = os.Remove(dst)
		return "", 0, false, fmt.Errorf("%s: %w", name, &TooBigError{URL: rawURL, Max: max})
	}
	sha, n, err := tr.sum()
	return sha, n, tr.start > 0, err
}

// getterSource turns a URL into a go-getter source that can only use the
// http or file getter, never guessing (no "github.com/x" shorthands).
func getterSource(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	switch u.Scheme {
	case "http", "https":
		return raw, nil
	case "file":
		return "file::" + raw, nil
	case "":
		if filepath.IsAbs(raw) {
			return "file::" + raw, nil
		}
	}
	return "", fmt.Errorf("unsupported URL %q: use http(s):// or file://", raw)
}

// statusCode digs the HTTP status out of go-getter's "bad response code: N".
func statusCode(err error) (int, bool) {
	var code int
	msg := err.Error()
	i := strings.LastIndex(msg, "bad response code: ")
	if i < 0 {
		return 0, false
	}
	if _, e := fmt.Sscanf(msg[i:], "bad response code: %d", &code); e != nil {
		return 0, false
	}
	return code, true
}

func size(p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// removeEmpty drops a partial file that holds nothing worth resuming (or
// always, for a definitive answer such as 404).
func removeEmpty(p string, always bool) {
	if always || size(p) == 0 {
		_ = os.Remove(p)
	}
}

// tracker hashes the body as go-getter streams it (one pass over the
// bytes instead of a second read of the file) and draws the progress bar.
type tracker struct {
	partial string
	out     io.Writer
	name    string
	max     int64 // 0 = no bound
	dog     *watchdog
	tooBig  bool

	used  bool
	start int64 // bytes already in the partial file when the body began
	n     int64 // bytes of body read
	total int64
	h     hash.Hash
	err   error
	bar   *bar

	cur     []byte
	chunks  chan []byte
	free    chan []byte
	hashed  chan struct{}
	flushed bool
}

func (t *tracker) TrackProgress(_ string, current, total int64, stream io.ReadCloser) io.ReadCloser {
	t.used = true
	t.start = current
	t.total = total
	t.h = sha256.New()
	if current > 0 {
		// Resuming: the hash starts with what is already on disk.
		f, err := os.Open(t.partial)
		if err == nil {
			var k int64
			k, err = io.Copy(t.h, io.LimitReader(f, current))
			f.Close()
			if err == nil && k != current {
				err = fmt.Errorf("partial file shrank")
			}
		}
		t.err = err
		t.dog.kick() // hashing the partial file is not the server's stall
	}
	if t.out != nil {
		t.bar = newBar(t.out, t.name, current, total)
	}
	return &trackedBody{t: t, rc: stream}
}

type trackedBody struct {
	t  *tracker
	rc io.ReadCloser
}

func (b *trackedBody) Read(p []byte) (int, error) {
	if b.t.max > 0 && b.t.start+b.t.n >= b.t.max {
		// Allow reading exactly max bytes and the EOF after them, no more.
		p = p[:min(len(p), 1)]
	}
	n, err := b.rc.Read(p)
	if n > 0 {
		b.t.dog.kick()
		if b.t.max > 0 && b.t.start+b.t.n+int64(n) > b.t.max {
			b.t.tooBig = true
			return 0, &TooBigError{Max: b.t.max}
		}
		b.t.hashAsync(p[:n])
		b.t.n += int64(n)
		if b.t.bar != nil {
			b.t.bar.set(b.t.start + b.t.n)
		}
	}
	return n, err
}

func (b *trackedBody) Close() error {
	b.t.flush()
	return b.rc.Close()
}

// Hashing runs on its own goroutine, fed in 1 MiB chunks: sha256 costs
// about as much CPU as the transfer itself, and doing it inline made
// downloads ~40% slower than curl on loopback.
const hashChunk = 1 << 20

func (t *tracker) hashAsync(p []byte) {
	if t.chunks == nil {
		t.chunks = make(chan []byte, 8)
		t.free = make(chan []byte, 10)
		t.hashed = make(chan struct{})
		go func() {
			defer close(t.hashed)
			for c := range t.chunks {
				t.h.Write(c)
				select {
				case t.free <- c[:0]:
				default:
				}
			}
		}()
	}
	for len(p) > 0 {
		if t.cur == nil {
			select {
			case t.cur = <-t.free:
			default:
				t.cur = make([]byte, 0, hashChunk)
			}
		}
		k := copy(t.cur[len(t.cur):cap(t.cur)], p)
		t.cur = t.cur[:len(t.cur)+k]
		p = p[k:]
		if len(t.cur) == cap(t.cur) {
			t.chunks <- t.cur
			t.cur = nil
		}
	}
}

// flush hands the last chunk over and waits for the hasher.
func (t *tracker) flush() {
	if t.chunks == nil || t.flushed {
		return
	}
	t.flushed = true
	if len(t.cur) > 0 {
		t.chunks <- t.cur
		t.cur = nil
	}
	close(t.chunks)
	<-t.hashed
}

func (t *tracker) finish() {
	t.flush()
	if t.bar != nil {
		t.bar.done()
	}
}

// sum returns the sha256 and size of the finished partial file: from the
// stream when the whole file went through it, else by reading the file
// (file:// sources, or a file go-getter found already complete).
func (t *tracker) sum() (string, int64, error) {
	onDisk := size(t.partial)
	if t.used && t.err == nil && t.start+t.n == onDisk {
		return hex.EncodeToString(t.h.Sum(nil)), onDisk, nil
	}
	return cache.HashFile(t.partial)
}
