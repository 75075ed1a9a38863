// Package releasetest runs a local server laid out like the Flatcar release
// server, signed with a key generated for the test, for the image tests.
package releasetest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/cododemo/cododemo/pkg/image/verify"
	"github.com/cododemo/cododemo/pkg/kit"
	"github.com/cododemo/cododemo/pkg/kit/imagetar"
)

// Signer is a test OpenPGP key.
type Signer struct {
	Entity  *openpgp.Entity
	Keyring *verify.Keyring
}

// NewSigner generates an Ed25519 signing key (fast, unlike RSA 4096).
func NewSigner(t testing.TB, name string) *Signer {
	t.Helper()
	cfg := &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA}
	e, err := openpgp.NewEntity(name, "test", name+"@example.invalid", cfg)
	if err != nil {
		t.Fatal(err)
	}
	var pub bytes.Buffer
	if err := e.Serialize(&pub); err != nil {
		t.Fatal(err)
	}
	kr, err := verify.Parse(pub.Bytes(), "test keyring "+name)
	if err != nil {
		t.Fatal(err)
	}
	return &Signer{Entity: e, Keyring: kr}
}

// Rotate adds a new signing subkey, as Flatcar does yearly: signatures made
// from now on are by it, while Keyring still holds only the old ones (a
// binary built before the rotation). It returns the armored public key as
// the publisher now serves it.
func (s *Signer) Rotate(t testing.TB) []byte {
	t.Helper()
	if err := s.Entity.AddSigningSubkey(&packet.Config{Algorithm: packet.PubKeyAlgoEdDSA}); err != nil {
		t.Fatal(err)
	}
	return s.armoredPublic(t)
}

// armoredPublic is the signer's public key, armored.
func (s *Signer) armoredPublic(t testing.TB) []byte {
	t.Helper()
	var pub bytes.Buffer
	w, err := armor.Encode(&pub, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Entity.Serialize(w); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return pub.Bytes()
}

// Sign returns a binary detached signature over data.
func (s *Signer) Sign(t testing.TB, data []byte) []byte {
	t.Helper()
	var sig bytes.Buffer
	if err := openpgp.DetachSign(&sig, s.Entity, bytes.NewReader(data), nil); err != nil {
		t.Fatal(err)
	}
	return sig.Bytes()
}

// Box makes a small but real Vagrant box: a gzipped tar with metadata.json,
// a Vagrantfile and a dummy disk of diskSize pseudo-random bytes.
func Box(t testing.TB, provider string, diskSize int) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	disk := make([]byte, diskSize)
	x := uint32(2463534242)
	for i := range disk {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		disk[i] = byte(x)
	}
	files := []struct {
		name string
		data []byte
	}{
		{"metadata.json", []byte(fmt.Sprintf(`{"provider":%q,"architecture":"amd64"}`, provider))},
		{"Vagrantfile", []byte("Vagrant.configure(\"2\") do |config|\nend\n")},
		{"box-disk1.vmdk", disk},
	}
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), ModTime: time.Unix(1700000000, 0)}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(f.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// EtcdTarball makes a gzipped tar laid out like etcd's release tarball:
// etcd-<version>-linux-<arch>/{etcd,etcdctl,etcdutl,README.md}, the
// binaries being small shell scripts that print their name. It stands in
// for a tarball of the user's own build (etcd.release_sha256).
func EtcdTarball(t testing.TB, version, arch string) []byte {
	t.Helper()
	dir := fmt.Sprintf("etcd-%s-linux-%s/", version, arch)
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	put := func(name string, mode int64, data string) {
		if err := tw.WriteHeader(&tar.Header{Name: dir + name, Mode: mode, Size: int64(len(data)), ModTime: time.Unix(1700000000, 0)}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	for _, bin := range []string{"etcd", "etcdctl", "etcdutl"} {
		put(bin, 0o755, "#!/bin/sh\necho "+bin+" "+version+"\n")
	}
	put("README.md", 0o644, "etcd stand-in\n")
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// KitTarball makes a docker-save tarball holding every image of
// cododemo's kit for arch, each a small shell script instead of the
// program (`cododemo lock` checks a kit's images and arch, not what they
// run). Builds of the real kit are pkg/kit's tests.
func KitTarball(t testing.TB, arch string) []byte {
	t.Helper()
	var images []imagetar.Image
	for _, p := range kit.Programs {
		images = append(images, imagetar.Image{Tags: []string{p.Image()}, Arch: arch, Entrypoint: []string{"/" + p.Name},
			Files: []imagetar.File{{Path: "/" + p.Name, Mode: 0o755, Data: []byte("#!/bin/sh\necho " + p.Name + "\n")}}})
	}
	var buf bytes.Buffer
	if err := imagetar.Write(&buf, images); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// SHA256 is hex sha256.
func SHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// Server is the fake release server.
type Server struct {
	*httptest.Server
	mu    sync.Mutex
	files map[string][]byte

	// NoRanges makes the server ignore Range and never advertise it.
	NoRanges atomic.Bool
	// TruncateNext cuts the next GET of a path ending in this suffix after
	// TruncateAt bytes (a dropped connection).
	TruncateNext atomic.Value // string
	TruncateAt   atomic.Int64
	// Requests counts requests by "METHOD path".
	reqs sync.Map
	// RangeRequests counts GETs that carried a Range header.
	RangeRequests atomic.Int64
}

// New starts an empty server on 127.0.0.1.
func New(t testing.TB) *Server {
	s := &Server{files: map[string][]byte{}}
	s.TruncateNext.Store("")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.Server.Listener.Close()
	s.Server.Listener = ln
	s.Server.Start()
	t.Cleanup(s.Close)
	return s
}

// Put serves data at path.
func (s *Server) Put(path string, data []byte) {
	s.mu.Lock()
	s.files[path] = data
	s.mu.Unlock()
}

// Delete stops serving path.
func (s *Server) Delete(path string) {
	s.mu.Lock()
	delete(s.files, path)
	s.mu.Unlock()
}

// Count returns how many requests "METHOD path" got.
func (s *Server) Count(key string) int64 {
	v, ok := s.reqs.Load(key)
	if !ok {
		return 0
	}
	return v.(*atomic.Int64).Load()
}

// Total returns the number of requests of any kind.
func (s *Server) Total() int64 {
	var n int64
	s.reqs.Range(func(_, v any) bool { n += v.(*atomic.Int64).Load(); return true })
	return n
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	v, _ := s.reqs.LoadOrStore(r.Method+" "+r.URL.Path, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
	s.mu.Lock()
	data, ok := s.files[r.URL.Path]
	var listing []string
	if !ok && strings.HasSuffix(r.URL.Path, "/") {
		for p := range s.files {
			if rest, found := strings.CutPrefix(p, r.URL.Path); found {
				if i := strings.Index(rest, "/"); i > 0 {
					listing = append(listing, rest[:i+1])
				}
			}
		}
	}
	s.mu.Unlock()
	if !ok {
		if len(listing) > 0 {
			var b strings.Builder
			b.WriteString("<html><body><pre>\n")
			seen := map[string]bool{}
			for _, l := range listing {
				if !seen[l] {
					seen[l] = true
					fmt.Fprintf(&b, "<a href=\"%s\">%s</a>\n", l, l)
				}
			}
			b.WriteString("</pre></body></html>\n")
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte(b.String()))
			return
		}
		http.NotFound(w, r)
		return
	}
	if r.Method == http.MethodGet && r.Header.Get("Range") != "" {
		s.RangeRequests.Add(1)
	}
	if suffix := s.TruncateNext.Load().(string); suffix != "" && r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, suffix) {
		s.TruncateNext.Store("")
		// Promise everything, send part, drop the connection.
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(data[:s.TruncateAt.Load()])
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
			}
		}
		return
	}
	if s.NoRanges.Load() {
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(data)
		return
	}
	http.ServeContent(w, r, "", time.Unix(1700000000, 0), bytes.NewReader(data))
}

// Release describes one published release.
type Release struct {
	Channel  string
	Arch     string
	Version  string
	Provider string
	Box      []byte
	// Current marks it as the channel's current release.
	Current bool
}

// Publish lays out a release like the real server: version.txt, the
// signed Vagrant catalog and the box beside it. The catalog's box URL is
// "upstream"'s (a host the tests never contact: a mirror rewrites it).
func (s *Server) Publish(t testing.TB, signer *Signer, rel Release) (catalog []byte) {
	t.Helper()
	dir := fmt.Sprintf("/%s/%s-usr/%s/", rel.Channel, rel.Arch, rel.Version)
	name := "flatcar-" + rel.Channel
	cat := map[string]any{
		"name":        name,
		"description": "Flatcar " + rel.Channel,
		"versions": []any{map[string]any{
			"version": rel.Version,
			"providers": []any{map[string]any{
				"name":          rel.Provider,
				"url":           fmt.Sprintf("https://bincache.invalid/images/%s/%s/flatcar_production_vagrant.box", rel.Arch, rel.Version),
				"checksum_type": "sha256",
				"checksum":      SHA256(rel.Box),
				"architecture":  rel.Arch,
			}},
		}},
	}
	catalog, err := json.MarshalIndent(cat, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	vt := VersionTxt(rel.Version)
	s.Put(dir+"version.txt", vt)
	s.Put(dir+"flatcar_production_vagrant.json", catalog)
	s.Put(dir+"flatcar_production_vagrant.json.sig", signer.Sign(t, catalog))
	s.Put(dir+"flatcar_production_vagrant.box", rel.Box)
	if rel.Current {
		s.Put(fmt.Sprintf("/%s/%s-usr/current/version.txt", rel.Channel, rel.Arch), vt)
	}
	return catalog
}

// VersionTxt is a release's version.txt.
func VersionTxt(v string) []byte {
	parts := strings.SplitN(v, ".", 3)
	return []byte(fmt.Sprintf("FLATCAR_BUILD=%s\nFLATCAR_BRANCH=%s\nFLATCAR_PATCH=%s\nFLATCAR_VERSION=%s\nFLATCAR_VERSION_ID=%s\nFLATCAR_BUILD_ID=\"\"\nFLATCAR_SDK_VERSION=%s.0.0\n",
		parts[0], parts[1], parts[2], v, v, parts[0]))
}

// WritePublic writes the signer's public key, armored, to path (for
// --keyring / CODODEMO_KEYRING).
func (s *Signer) WritePublic(t testing.TB, path string) {
	t.Helper()
	if err := os.WriteFile(path, s.armoredPublic(t), 0o644); err != nil {
		t.Fatal(err)
	}
}

// QCOW2 is a small real qcow2 image (testdata/README.md says how it was
// made), standing in for Flatcar's QEMU image.
//
//go:embed testdata/tiny.qcow2
var QCOW2 []byte

// QEMURelease is one release's QEMU image.
type QEMURelease struct {
	Channel string
	Arch    string
	Version string
	// File is the image's name (qemubox.ImageName of Arch).
	File  string
	Image []byte
}

// PublishQEMU lays out a QEMU image as Flatcar's release server does
// (ci_automation_common.sh): the image, its detached "<file>.sig", its
// "<file>.DIGESTS" (MD5, SHA1 and SHA512 sections) and the DIGESTS'
// own "<file>.DIGESTS.sig". It returns the path of the image.
func (s *Server) PublishQEMU(t testing.TB, signer *Signer, rel QEMURelease) string {
	t.Helper()
	p := fmt.Sprintf("/%s/%s-usr/%s/%s", rel.Channel, rel.Arch, rel.Version, rel.File)
	d := Digests(rel.File, rel.Image)
	s.Put(p, rel.Image)
	s.Put(p+".sig", signer.Sign(t, rel.Image))
	s.Put(p+".DIGESTS", d)
	s.Put(p+".DIGESTS.sig", signer.Sign(t, d))
	return p
}

// Digests writes a DIGESTS file as ci_automation_common.sh does.
func Digests(name string, data []byte) []byte {
	return []byte(fmt.Sprintf("# MD5 HASH\n%x  %s\n# SHA1 HASH\n%x  %s\n# SHA512 HASH\n%x  %s\n",
		md5.Sum(data), name, sha1.Sum(data), name, sha512.Sum512(data), name))
}

// ClearSign returns data clearsigned (gpg --clearsign), by the key Sign
// uses.
func (s *Signer) ClearSign(t testing.TB, data []byte) []byte {
	t.Helper()
	k, ok := s.Entity.SigningKey(time.Now())
	if !ok {
		t.Fatal("the test key has no signing key")
	}
	var buf bytes.Buffer
	w, err := clearsign.Encode(&buf, k.PrivateKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
