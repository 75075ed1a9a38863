package image

import (
	"context"
	"testing"

	"github.com/cododemo/cododemo/pkg/config"
	"github.com/cododemo/cododemo/pkg/image/releasetest"
)

// BenchmarkCacheHit measures preparing an already fetched, locked box:
// building the service (parsing the keyring), re-verifying the cached
// catalog's signature, finding the box and its local Vagrant catalog. It
// fails if any request reaches the server.
//
//	go test -run '^$' -bench CacheHit ./pkg/image/
func BenchmarkCacheHit(b *testing.B) {
	srv := releasetest.New(b)
	signer := releasetest.NewSigner(b, "release")
	box := releasetest.Box(b, "virtualbox", 64<<20)
	srv.Publish(b, signer, releasetest.Release{Channel: "stable", Arch: "amd64", Version: testVersion, Provider: "virtualbox", Box: box, Current: true})
	dir := b.TempDir()
	newSvc := func() *Service {
		svc, err := New(Options{CacheDir: dir, Mirror: srv.URL, Keyring: signer.Keyring, Getenv: func(string) string { return "" }})
		if err != nil {
			b.Fatal(err)
		}
		return svc
	}
	ctx := context.Background()
	lab := config.Default()
	lab.Fleet.Enabled = false
	lock, _, err := newSvc().Lock(ctx, lab, nil)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := newSvc().EnsureBox(ctx, lab, lock); err != nil {
		b.Fatal(err)
	}
	before := srv.Total()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bx, err := newSvc().EnsureBox(ctx, lab, lock)
		if err != nil || !bx.Hit {
			b.Fatalf("hit=%v err=%v", bx != nil && bx.Hit, err)
		}
	}
	b.StopTimer()
	if n := srv.Total() - before; n != 0 {
		b.Fatalf("cache hit made %d requests", n)
	}
}

// BenchmarkCacheHitEmbeddedKey is the same preparation cost with the real
// embedded Flatcar keyring (10 RSA-4096 subkeys) parsed each time.
func BenchmarkCacheHitEmbeddedKeyParse(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if _, err := New(Options{CacheDir: b.TempDir(), Getenv: func(string) string { return "" }}); err != nil {
			b.Fatal(err)
		}
	}
}
