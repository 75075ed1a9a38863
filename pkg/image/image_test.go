package image

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/cododemo/cododemo/pkg/config"
	"github.com/cododemo/cododemo/pkg/image/cache"
	"github.com/cododemo/cododemo/pkg/image/download"
	"github.com/cododemo/cododemo/pkg/image/releasetest"
	"github.com/cododemo/cododemo/pkg/image/verify"
)

type fixture struct {
	srv    *releasetest.Server
	signer *releasetest.Signer
	box    []byte
	svc    *Service
	dir    string
}

const testVersion = "4593.2.5"

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{srv: releasetest.New(t), signer: releasetest.NewSigner(t, "release"), dir: t.TempDir()}
	f.box = releasetest.Box(t, "virtualbox", 3<<20)
	for _, v := range []string{"4459.2.4", "4593.1.0", "4593.2.4"} {
		f.srv.Publish(t, f.signer, releasetest.Release{Channel: "stable", Arch: "amd64", Version: v, Provider: "virtualbox", Box: releasetest.Box(t, "virtualbox", 1024)})
	}
	f.srv.Publish(t, f.signer, releasetest.Release{Channel: "stable", Arch: "amd64", Version: testVersion, Provider: "virtualbox", Box: f.box, Current: true})
	f.svc = f.service(t, false)
	return f
}

func (f *fixture) service(t *testing.T, offline bool) *Service {
	t.Helper()
	svc, err := New(Options{CacheDir: f.dir, Mirror: f.srv.URL, Offline: offline, Keyring: f.signer.Keyring,
		Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// refreshing is a service that treats the test key as cododemo treats the
// embedded Flatcar key: newer subkeys its primary certifies may come in.
func (f *fixture) refreshing(t *testing.T, offline bool) *Service {
	t.Helper()
	svc, err := New(Options{CacheDir: f.dir, Mirror: f.srv.URL, Offline: offline, Keyring: f.signer.Keyring, RefreshKeyring: true,
		Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func lab() config.Lab {
	l := config.Default()
	l.Fleet.Enabled = false
	return l
}

// snapshot lists the cache's blobs and refs: what "the cache is unchanged"
// means. partial/ (resume state) is not part of it.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var out []string
	for _, sub := range []string{"blobs", "refs", "trees", "keys"} {
		_ = filepath.WalkDir(filepath.Join(dir, sub), func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				rel, _ := filepath.Rel(dir, p)
				out = append(out, rel)
			}
			return nil
		})
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

func TestFetchCurrentThenCacheHit(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	b, err := f.svc.EnsureBox(ctx, lab(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if b.Name != "flatcar-stable" || b.Version != testVersion || b.Provider != "virtualbox" || b.Hit {
		t.Fatalf("box = %+v", b)
	}
	if b.SHA256 != releasetest.SHA256(f.box) {
		t.Fatalf("sha = %s", b.SHA256)
	}
	data, err := os.ReadFile(b.Path)
	if err != nil || releasetest.SHA256(data) != b.SHA256 {
		t.Fatalf("cached box wrong: %v", err)
	}
	cat, err := os.ReadFile(b.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"name": "flatcar-stable"`, `"version": "` + testVersion + `"`, `"url": "file://` + b.Path + `"`, `"checksum": "` + b.SHA256 + `"`} {
		if !strings.Contains(string(cat), want) {
			t.Errorf("local catalog lacks %s:\n%s", want, cat)
		}
	}

	// With the version now exact (as a lock has it), a second fetch
	// touches no network at all.
	before := f.srv.Total()
	l := lab()
	l.Version = testVersion
	b2, err := f.svc.EnsureBox(ctx, l, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !b2.Hit || f.srv.Total() != before {
		t.Fatalf("cache hit used the network: hit=%v requests %d -> %d", b2.Hit, before, f.srv.Total())
	}

	// Offline, "current" falls back to the newest cached release.
	off := f.service(t, true)
	b3, err := off.EnsureBox(ctx, lab(), nil)
	if err != nil || b3.Version != testVersion || f.srv.Total() != before {
		t.Fatalf("offline current: %v %+v", err, b3)
	}
}

func TestBadInputsLeaveCacheUnchanged(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name  string
		setup func(t *testing.T, f *fixture) config.Lab
		want  []string
		check func(t *testing.T, err error)
	}{
		{"unknown channel", func(t *testing.T, f *fixture) config.Lab {
			l := lab()
			l.Channel = "nightly"
			return l
		}, []string{`unknown channel "nightly"`, "alpha, beta, stable, lts"}, nil},
		{"channel missing on mirror", func(t *testing.T, f *fixture) config.Lab {
			l := lab()
			l.Channel = "beta"
			return l
		}, []string{"beta/amd64-usr/current/version.txt not found", `channel "beta"`}, nil},
		{"no such version", func(t *testing.T, f *fixture) config.Lab {
			l := lab()
			l.Version = "4593.2.6"
			return l
		}, []string{"has no version 4593.2.6", "nearest: 4459.2.4, 4593.1.0, 4593.2.4, 4593.2.5"}, nil},
		{"box 404", func(t *testing.T, f *fixture) config.Lab {
			f.srv.Delete("/stable/amd64-usr/" + testVersion + "/flatcar_production_vagrant.box")
			return lab()
		}, []string{"404 Not Found", "flatcar_production_vagrant.box"}, func(t *testing.T, err error) {
			if !download.IsNotFound(err) {
				t.Errorf("IsNotFound(%v) = false", err)
			}
		}},
		{"wrong checksum", func(t *testing.T, f *fixture) config.Lab {
			bad := append([]byte(nil), f.box...)
			bad[len(bad)/2] ^= 0xff
			f.srv.Put("/stable/amd64-usr/"+testVersion+"/flatcar_production_vagrant.box", bad)
			return lab()
		}, []string{"sha256", "want " + releasetest.SHA256(newBoxForName(t))}, nil},
		{"bad signature", func(t *testing.T, f *fixture) config.Lab {
			other := releasetest.NewSigner(t, "mallory")
			cat := f.srv.Publish(t, other, releasetest.Release{Channel: "stable", Arch: "amd64", Version: testVersion, Provider: "virtualbox", Box: f.box, Current: true})
			_ = cat
			return lab()
		}, []string{"bad signature", "which is not in the test keyring", "--keyring"}, func(t *testing.T, err error) {
			if !errors.Is(err, verify.ErrBadSignature) {
				t.Errorf("not ErrBadSignature: %v", err)
			}
		}},
		{"forger's key at the key's address", func(t *testing.T, f *fixture) config.Lab {
			f.svc = f.refreshing(t, false)
			other := releasetest.NewSigner(t, "mallory")
			f.srv.Publish(t, other, releasetest.Release{Channel: "stable", Arch: "amd64", Version: testVersion, Provider: "virtualbox", Box: f.box, Current: true})
			f.srv.Put("/"+KeyMirrorPath, other.Rotate(t))
			return lab()
		}, []string{"bad signature", "is no help", "holds no key with the primary key of the test keyring"}, func(t *testing.T, err error) {
			if !errors.Is(err, verify.ErrBadSignature) {
				t.Errorf("not ErrBadSignature: %v", err)
			}
		}},
		{"tampered catalog", func(t *testing.T, f *fixture) config.Lab {
			p := "/stable/amd64-usr/" + testVersion + "/flatcar_production_vagrant.json"
			f.srv.Publish(t, f.signer, releasetest.Release{Channel: "stable", Arch: "amd64", Version: testVersion, Provider: "virtualbox", Box: f.box, Current: true})
			f.srv.Put(p, []byte(strings.Replace(string(mustGet(t, f, p)), "flatcar-stable", "flatcar-stab1e", 1)))
			return lab()
		}, []string{"bad signature"}, nil},
		{"libvirt, and the release has no QEMU image", func(t *testing.T, f *fixture) config.Lab {
			l := lab()
			l.Provider = "libvirt"
			return l
		}, []string{"flatcar_production_qemu_image.img.DIGESTS not found", "packed from Flatcar's QEMU image", "beside its .sig and .DIGESTS"}, nil},
		{"truncated download", func(t *testing.T, f *fixture) config.Lab {
			f.srv.TruncateAt.Store(100000)
			f.srv.TruncateNext.Store("/flatcar_production_vagrant.box")
			return lab()
		}, []string{"interrupted after 100000 bytes", "kept for resume"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			l := tc.setup(t, f)
			before := snapshot(t, f.dir)
			_, err := f.svc.EnsureBox(ctx, l, nil)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if tc.check != nil {
				tc.check(t, err)
			}
			if after := snapshot(t, f.dir); after != before {
				t.Errorf("cache changed:\nbefore:\n%s\nafter:\n%s", before, after)
			}
			if _, ok := f.svc.Cache.Path(releasetest.SHA256(f.box)); ok {
				t.Error("box blob in cache after failure")
			}
		})
	}
}

// newBoxForName rebuilds the fixture's box bytes (deterministic) so a case
// table can name its hash.
func newBoxForName(t *testing.T) []byte { return releasetest.Box(t, "virtualbox", 3<<20) }

func mustGet(t *testing.T, f *fixture, p string) []byte {
	t.Helper()
	d := &download.Downloader{}
	b, err := d.Small(context.Background(), f.srv.URL+p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestResumeAfterInterruptedTransfer(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.srv.TruncateAt.Store(1 << 20)
	f.srv.TruncateNext.Store("/flatcar_production_vagrant.box")
	if _, err := f.svc.EnsureBox(ctx, lab(), nil); err == nil {
		t.Fatal("truncated download succeeded")
	}
	partial := f.svc.Cache.PartialPath(releasetest.SHA256(f.box))
	if fi, err := os.Stat(partial); err != nil || fi.Size() != 1<<20 {
		t.Fatalf("partial file: %v", err)
	}
	b, err := f.svc.EnsureBox(ctx, lab(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if f.srv.RangeRequests.Load() != 1 {
		t.Errorf("range requests = %d, want 1 (resume)", f.srv.RangeRequests.Load())
	}
	if data, _ := os.ReadFile(b.Path); releasetest.SHA256(data) != releasetest.SHA256(f.box) {
		t.Error("resumed box differs")
	}
	if _, err := os.Stat(partial); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("partial left behind: %v", err)
	}
}

func TestServerWithoutRanges(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.srv.NoRanges.Store(true)
	f.srv.TruncateAt.Store(1 << 20)
	f.srv.TruncateNext.Store("/flatcar_production_vagrant.box")
	if _, err := f.svc.EnsureBox(ctx, lab(), nil); err == nil {
		t.Fatal("truncated download succeeded")
	}
	b, err := f.svc.EnsureBox(ctx, lab(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := f.srv.RangeRequests.Load(); n != 0 {
		t.Errorf("range requests = %d against a server without ranges", n)
	}
	if data, _ := os.ReadFile(b.Path); releasetest.SHA256(data) != releasetest.SHA256(f.box) {
		t.Error("box differs")
	}
}

func TestOfflineSaysWhatIsMissing(t *testing.T) {
	f := newFixture(t)
	off := f.service(t, true)
	l := lab()
	l.Version = testVersion
	_, err := off.EnsureBox(context.Background(), l, nil)
	if err == nil || !strings.Contains(err.Error(), "offline: no signed catalog for flatcar stable amd64 "+testVersion) {
		t.Fatalf("err = %v", err)
	}
	if f.srv.Total() != 0 {
		t.Fatalf("offline used the network: %d requests", f.srv.Total())
	}
	// The catalog cached but not the box: the error names the box.
	if _, _, err := f.svc.Lock(context.Background(), lab(), nil); err != nil {
		t.Fatal(err)
	}
	_, err = off.EnsureBox(context.Background(), l, nil)
	var oe *download.OfflineError
	if !errors.As(err, &oe) || !strings.Contains(err.Error(), "flatcar-stable "+testVersion+" (virtualbox)") {
		t.Fatalf("err = %v", err)
	}
}

func TestLockPinsAndIsHonoured(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	fleet := []byte("pretend fleet tarball")
	f.srv.Put("/artifacts/fleet-v1.0.0-linux-amd64.tar.gz", fleet)
	etcd := releasetest.EtcdTarball(t, "v3.5.21", "amd64")
	f.srv.Put("/artifacts/etcd-v3.5.21-linux-amd64.tar.gz", etcd)
	l := config.Default()
	l.Etcd.ReleaseSHA256 = releasetest.SHA256(etcd)
	lock, warnings, err := f.svc.Lock(ctx, l, nil)
	if err != nil {
		t.Fatal(err)
	}
	if lock.OS.Version != testVersion || lock.OS.Box.SHA256 != releasetest.SHA256(f.box) || !lock.Resolved() {
		t.Fatalf("lock = %+v", lock)
	}
	if !strings.HasPrefix(lock.OS.Box.URL, "https://bincache.invalid/") {
		t.Errorf("lock records the mirror URL %s, want upstream's", lock.OS.Box.URL)
	}
	fa := lock.Artifacts["fleet"]
	if fa.SHA256 != releasetest.SHA256(fleet) || fa.Size != int64(len(fleet)) || fa.URL != "https://github.com/coreos/fleet/releases/download/v1.0.0/fleet-v1.0.0-linux-amd64.tar.gz" {
		t.Errorf("fleet = %+v", fa)
	}
	if ea := lock.Artifacts["etcd"]; ea.SHA256 != releasetest.SHA256(etcd) || ea.URL != "https://github.com/etcd-io/etcd/releases/download/v3.5.21/etcd-v3.5.21-linux-amd64.tar.gz" {
		t.Errorf("etcd = %+v", ea)
	}
	if len(warnings) != 2 || !strings.Contains(warnings[0], "first use") || !strings.Contains(warnings[1], "replaces cododemo's built-in pin") {
		t.Errorf("warnings = %q", warnings)
	}
	if !lock.Complete(l) {
		t.Errorf("lock %+v is not complete", lock)
	}
	path := filepath.Join(t.TempDir(), config.LockFile)
	if err := config.WriteLock(path, lock); err != nil {
		t.Fatal(err)
	}
	back, err := config.ReadLock(path)
	if err != nil {
		t.Fatal(err)
	}

	// A new release appears: the locked lab does not move.
	f.srv.Publish(t, f.signer, releasetest.Release{Channel: "stable", Arch: "amd64", Version: "4593.3.0", Provider: "virtualbox", Box: releasetest.Box(t, "virtualbox", 10), Current: true})
	b, err := f.svc.EnsureBox(ctx, l, back)
	if err != nil || b.Version != testVersion {
		t.Fatalf("locked fetch: %v %+v", err, b)
	}
	arts, err := f.svc.EnsureArtifacts(ctx, back)
	if err != nil || len(arts) != 2 || arts[0].Name != "etcd" || arts[1].Name != "fleet" {
		t.Fatalf("artifacts: %v %+v", err, arts)
	}
	p, err := ArtifactPath(f.svc.Cache, back, "fleet")
	if err != nil || p != arts[1].Path {
		t.Fatalf("ArtifactPath = %s, %v", p, err)
	}
	// Re-locking keeps the first-use pin rather than trusting again.
	f.srv.Put("/artifacts/fleet-v1.0.0-linux-amd64.tar.gz", []byte("swapped"))
	again, _, err := f.svc.Lock(ctx, l, back)
	if err != nil || again.Artifacts["fleet"].SHA256 != fa.SHA256 || again.OS.Version != "4593.3.0" {
		t.Fatalf("relock: %v %+v", err, again)
	}

	// Filling a lock that lacks only an artifact keeps its OS release
	// although a newer one is current; re-locking moves on.
	partial := *back
	partial.Artifacts = map[string]config.Artifact{"fleet": fa}
	filled, _, err := f.svc.Fill(ctx, l, &partial)
	if err != nil || filled.OS != back.OS || filled.Artifacts["etcd"].SHA256 != releasetest.SHA256(etcd) || !filled.Complete(l) {
		t.Fatalf("fill: %v %+v", err, filled)
	}
	// ... unless the lab no longer fits it (another provider's box).
	libvirt := l
	libvirt.Provider = "libvirt"
	if _, _, err := f.svc.Fill(ctx, libvirt, &partial); err == nil || !strings.Contains(err.Error(), "libvirt") {
		t.Fatalf("fill for another provider kept the virtualbox box: %v", err)
	}

	// A lock whose pin the signed catalog contradicts is refused.
	bad := *back
	bad.OS.Box.SHA256 = strings.Repeat("0", 64)
	if _, err := f.svc.EnsureBox(ctx, l, &bad); err == nil || !strings.Contains(err.Error(), "but the signed catalog") {
		t.Fatalf("contradicted lock: %v", err)
	}
}

// With no override, etcd is pinned by cododemo's built-in hash of the
// upstream tarball: lock needs no download for it, and a server handing
// out anything else is refused without touching the cache.
func TestEtcdBuiltinPinRefusesOtherBytes(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.srv.Put("/artifacts/etcd-v3.5.21-linux-amd64.tar.gz", releasetest.EtcdTarball(t, "v3.5.21", "amd64"))
	l := lab()
	lock, warnings, err := f.svc.Lock(ctx, l, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := config.Artifact{URL: "https://github.com/etcd-io/etcd/releases/download/v3.5.21/etcd-v3.5.21-linux-amd64.tar.gz",
		SHA256: "adddda4b06718e68671ffabff2f8cee48488ba61ad82900e639d108f2148501c"}
	if got := lock.Artifacts["etcd"]; got != want || len(warnings) != 0 {
		t.Fatalf("etcd = %+v, warnings %q", got, warnings)
	}
	if n := f.srv.Count("GET /artifacts/etcd-v3.5.21-linux-amd64.tar.gz"); n != 0 {
		t.Fatalf("lock downloaded a tarball it has a pin for (%d GETs)", n)
	}
	before := snapshot(t, f.dir)
	arts, err := f.svc.EnsureArtifacts(ctx, lock)
	if err == nil || len(arts) != 0 {
		t.Fatalf("EnsureArtifacts accepted a tarball that is not upstream's: %+v", arts)
	}
	for _, w := range []string{"artifact etcd", "etcd-v3.5.21-linux-amd64.tar.gz", "adddda4b06718e68671ffabff2f8cee48488ba61ad82900e639d108f2148501c"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
	if after := snapshot(t, f.dir); after != before {
		t.Fatalf("cache changed:\n%s\n---\n%s", before, after)
	}
	if _, err := ArtifactPath(f.svc.Cache, lock, "etcd"); err == nil || !strings.Contains(err.Error(), "not in the cache") {
		t.Fatalf("ArtifactPath: %v", err)
	}
}

// The image kit, on: pinned on first use from the mirror's artifacts/
// (said out loud, and only once the file is a kit for the lab's arch),
// or by kit.sha256 with no download at lock time; fetched into the cache
// by EnsureArtifacts; refused when the mirror serves something else.
func TestKitLockedFetchedAndChecked(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.srv.Put("/artifacts/fleet-v1.0.0-linux-amd64.tar.gz", []byte("pretend fleet tarball"))
	f.srv.Put("/artifacts/etcd-v3.5.21-linux-amd64.tar.gz", releasetest.EtcdTarball(t, "v3.5.21", "amd64"))
	kitTar := releasetest.KitTarball(t, "amd64")
	f.srv.Put("/artifacts/cododemo-kit-amd64.tar", kitTar)
	l := config.Default()
	l.Etcd.From = "box"
	l.Kit.Enabled = true

	lock, warnings, err := f.svc.Lock(ctx, l, nil)
	if err != nil {
		t.Fatal(err)
	}
	ka := lock.Artifacts["kit"]
	want := config.Artifact{URL: f.srv.URL + "/artifacts/cododemo-kit-amd64.tar", SHA256: releasetest.SHA256(kitTar), Size: int64(len(kitTar))}
	if ka != want {
		t.Fatalf("kit = %+v, want %+v", ka, want)
	}
	if len(warnings) != 2 || !strings.Contains(warnings[1], "kit: no kit.sha256 set; pinned what "+want.URL+" served ("+want.SHA256+") on first use") {
		t.Errorf("warnings = %q", warnings)
	}
	if !lock.Complete(l) {
		t.Fatalf("lock %+v is not complete", lock)
	}
	arts, err := f.svc.EnsureArtifacts(ctx, lock)
	if err != nil || len(arts) != 2 || arts[1].Name != "kit" || arts[1].SHA256 != want.SHA256 || arts[1].File != "cododemo-kit-amd64.tar" {
		t.Fatalf("artifacts: %v %+v", err, arts)
	}
	if p, err := ArtifactPath(f.svc.Cache, lock, "kit"); err != nil || p != arts[1].Path {
		t.Fatalf("ArtifactPath = %s, %v", p, err)
	}

	// kit.sha256 pins it: lock downloads nothing for it, and a kit.sha256
	// the mirror's file does not have is refused at the fetch, the cache
	// untouched.
	gets := f.srv.Count("GET /artifacts/cododemo-kit-amd64.tar")
	pinned := l
	pinned.Kit.SHA256 = strings.Repeat("e", 64)
	lock2, warnings, err := f.svc.Lock(ctx, pinned, nil)
	if err != nil || lock2.Artifacts["kit"].SHA256 != pinned.Kit.SHA256 || len(warnings) != 1 {
		t.Fatalf("pinned lock: %v %+v %q", err, lock2.Artifacts, warnings)
	}
	if n := f.srv.Count("GET /artifacts/cododemo-kit-amd64.tar"); n != gets {
		t.Errorf("lock downloaded a kit it has a pin for (%d GETs)", n-gets)
	}
	before := snapshot(t, f.dir)
	if _, err := f.svc.EnsureArtifacts(ctx, lock2); err == nil || !strings.Contains(err.Error(), "artifact kit") {
		t.Fatalf("EnsureArtifacts of a kit with another hash: %v", err)
	}
	if after := snapshot(t, f.dir); after != before {
		t.Fatalf("cache changed:\n%s\n---\n%s", before, after)
	}

	// On first use, a file that is not the lab's kit is refused naming it.
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"not a tarball", []byte("<html>not found</html>"), "not an image kit"},
		{"another arch", releasetest.KitTarball(t, "arm64"), "is for arm64, the lab is amd64"},
		{"a tarball of something else", releasetest.EtcdTarball(t, "v3.5.21", "amd64"), "not an image kit"},
	} {
		f.srv.Put("/artifacts/cododemo-kit-amd64.tar", c.data)
		_, _, err := f.svc.Lock(ctx, l, nil)
		if err == nil || !strings.Contains(err.Error(), "artifact kit: cododemo-kit-amd64.tar served by "+want.URL) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v", c.name, err)
		}
	}

	// Without a mirror there is nowhere to get it from: the error says
	// what to do.
	noMirror, err := New(Options{CacheDir: t.TempDir(), Keyring: f.signer.Keyring, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	own := l
	own.Box.Name, own.Fleet.Enabled = "mine", false
	if _, _, err := noMirror.Lock(ctx, own, nil); err == nil || !strings.Contains(err.Error(), "artifact kit: cododemo-kit-amd64.tar has no public download; set mirror:") {
		t.Fatalf("no mirror: %v", err)
	}
	// ... unless kit.url and kit.sha256 say where and what.
	own.Kit.URL, own.Kit.SHA256 = f.srv.URL+"/own/cododemo-kit-amd64.tar", releasetest.SHA256(kitTar)
	f.srv.Put("/own/cododemo-kit-amd64.tar", kitTar)
	lock3, _, err := noMirror.Lock(ctx, own, nil)
	if err != nil || lock3.Artifacts["kit"].URL != own.Kit.URL {
		t.Fatalf("kit.url: %v %+v", err, lock3)
	}
	if arts, err := noMirror.EnsureArtifacts(ctx, lock3); err != nil || len(arts) != 1 || arts[0].Hit {
		t.Fatalf("kit.url fetch: %v %+v", err, arts)
	}
}

// etcd.from: box pins no etcd; an unknown arch is refused naming what is
// known.
func TestLabArtifacts(t *testing.T) {
	l := config.Default()
	pins, err := LabArtifacts(l)
	if err != nil || len(pins) != 2 || pins[0].Name != "fleet" || pins[1].Name != "etcd" || pins[1].MirrorPath != "artifacts/etcd-v3.5.21-linux-amd64.tar.gz" {
		t.Fatalf("default: %v %+v", err, pins)
	}
	l.Etcd.From = "box"
	if pins, err := LabArtifacts(l); err != nil || len(pins) != 1 || pins[0].Name != "fleet" {
		t.Fatalf("from box: %v %+v", err, pins)
	}
	l = config.Default()
	l.Distro = "coreos"
	if pins, err := LabArtifacts(l); err != nil || len(pins) != 0 {
		t.Fatalf("coreos: %v %+v", err, pins)
	}
	l = config.Default()
	l.Fleet.Enabled, l.Arch = false, "riscv64"
	if _, err := LabArtifacts(l); err == nil || !strings.Contains(err.Error(), "etcd v3.5.21 has no linux-riscv64 release known to cododemo (known: v3.5.21/amd64, v3.5.21/arm64)") {
		t.Fatalf("riscv64: %v", err)
	}
}

func TestLTSCurrentFollowsLTSInfo(t *testing.T) {
	f := newFixture(t)
	f.srv.Put("/lts/lts-info", []byte("3033:2022:unsupported\n3510:2023:supported\n4081:2024:supported\n"))
	f.srv.Publish(t, f.signer, releasetest.Release{Channel: "lts", Arch: "amd64", Version: "4081.3.6", Provider: "virtualbox", Box: f.box})
	f.srv.Put("/lts/amd64-usr/current-2024/version.txt", releasetest.VersionTxt("4081.3.6"))
	rel, err := f.svc.ResolveOS(context.Background(), "lts", "amd64", "current", "virtualbox")
	if err != nil || rel.Version != "4081.3.6" {
		t.Fatalf("lts: %v %+v", err, rel)
	}
}

func TestCacheDirFromEnv(t *testing.T) {
	d := t.TempDir()
	got, err := cache.DefaultDir(func(k string) string {
		if k == cache.EnvDir {
			return d
		}
		return ""
	})
	if err != nil || got != d {
		t.Fatalf("DefaultDir = %s, %v", got, err)
	}
}

func TestEmbeddedFlatcarKey(t *testing.T) {
	kr, err := verify.Flatcar()
	if err != nil {
		t.Fatal(err)
	}
	e := kr.Entities()
	if len(e) != 1 || e[0].PrimaryKey.KeyIdString() != verify.FlatcarKeyID {
		t.Fatalf("embedded key id = %s", e[0].PrimaryKey.KeyIdString())
	}
	// A signature by the test key is not a Flatcar signature.
	s := releasetest.NewSigner(t, "x")
	if err := kr.DetachedBytes([]byte("data"), s.Sign(t, []byte("data"))); !errors.Is(err, verify.ErrBadSignature) {
		t.Fatalf("foreign signature: %v", err)
	}
}

// Flatcar rotates its signing subkey yearly. A catalog signed by a subkey
// newer than the binary's key is taken in once from the publisher (only
// subkeys the trusted primary certifies), kept in the cache, and used from
// there offline; without that copy, the error says what to do.
func TestSigningSubkeyRotation(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	newKey := f.signer.Rotate(t) // the old Keyring lacks the new subkey
	f.srv.Publish(t, f.signer, releasetest.Release{Channel: "stable", Arch: "amd64", Version: testVersion, Provider: "virtualbox", Box: f.box, Current: true})

	// Offline, and with no refreshed copy: the advice.
	before := snapshot(t, f.dir)
	if _, err := f.refreshing(t, true).ResolveOS(ctx, "stable", "amd64", testVersion, "virtualbox"); err == nil || !strings.Contains(err.Error(), "offline") {
		t.Fatalf("offline: %v", err)
	}
	// Online, before the publisher has the new key: the same advice.
	svc := f.refreshing(t, false)
	_, err := svc.ResolveOS(ctx, "stable", "amd64", "current", "virtualbox")
	if err == nil || !strings.Contains(err.Error(), "fetching Flatcar's current key") || !errors.Is(err, verify.ErrBadSignature) {
		t.Fatalf("no key published: %v", err)
	}
	if after := snapshot(t, f.dir); after != before {
		t.Errorf("cache changed by failures")
	}
	if _, err := os.Stat(svc.RefreshedKeyPath()); err == nil {
		t.Fatal("refreshed key kept after failures")
	}

	// Online with the key published: taken in, kept, the box fetched.
	f.srv.Put("/"+KeyMirrorPath, newKey)
	var log strings.Builder
	svc = f.refreshing(t, false)
	svc.Log = &log
	b, err := svc.EnsureBox(ctx, lab(), nil)
	if err != nil || b.Version != testVersion {
		t.Fatalf("after rotation: %v", err)
	}
	if !strings.Contains(log.String(), "taken in from") {
		t.Errorf("log: %q", log.String())
	}
	if got, err := os.ReadFile(svc.RefreshedKeyPath()); err != nil || !bytes.Equal(got, newKey) {
		t.Fatalf("refreshed key not kept: %v", err)
	}

	// A later offline run verifies the cached catalog with the kept copy,
	// fetching nothing.
	f.srv.Delete("/" + KeyMirrorPath)
	n := f.srv.Total()
	if rel, err := f.refreshing(t, true).ResolveOS(ctx, "stable", "amd64", testVersion, "virtualbox"); err != nil || rel.Version != testVersion {
		t.Fatalf("offline after refresh: %v", err)
	}
	if f.srv.Total() != n {
		t.Errorf("offline run made %d requests", f.srv.Total()-n)
	}
	// A user's own keyring is never refreshed behind their back.
	if _, err := f.service(t, false).ResolveOS(ctx, "stable", "amd64", testVersion, "virtualbox"); err == nil || !strings.Contains(err.Error(), "--keyring") {
		t.Fatalf("user keyring: %v", err)
	}
}
