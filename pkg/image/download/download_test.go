package download

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cododemo/cododemo/pkg/image/cache"
)

func TestGetterSourceOnlyHTTPAndFile(t *testing.T) {
	for in, want := range map[string]string{
		"https://x/y.box":  "https://x/y.box",
		"file:///tmp/a":    "file::file:///tmp/a",
		"/tmp/a":           "file::/tmp/a",
		"s3::https://x/y":  "",
		"git::https://x/y": "",
		"github.com/x/y":   "",
	} {
		got, err := getterSource(in)
		if (want == "") != (err != nil) || got != want {
			t.Errorf("getterSource(%q) = %q, %v", in, got, err)
		}
	}
}

func TestStatusCode(t *testing.T) {
	if c, ok := statusCode(errors.New("bad response code: 404")); !ok || c != 404 {
		t.Errorf("%d %v", c, ok)
	}
	if _, ok := statusCode(errors.New("connection reset")); ok {
		t.Error("parsed a code from nothing")
	}
}

func TestFetchFromFileURLAndOffline(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "a.bin")
	data := bytes.Repeat([]byte("x"), 100000)
	os.WriteFile(src, data, 0o644)
	sha, _, _ := cache.HashFile(src)
	c := cache.Open(filepath.Join(dir, "cache"))
	var bar bytes.Buffer
	d := &Downloader{Cache: c, Progress: &bar}
	if _, err := d.Fetch(context.Background(), Request{URL: "file://" + src, SHA256: strings.Repeat("0", 64)}); err == nil {
		t.Fatal("wrong hash accepted")
	}
	res, err := d.Fetch(context.Background(), Request{URL: "file://" + src, SHA256: sha})
	if err != nil || res.Hit {
		t.Fatalf("%+v %v", res, err)
	}
	off := &Downloader{Cache: cache.Open(filepath.Join(dir, "empty")), Offline: true}
	var oe *OfflineError
	if _, err := off.Fetch(context.Background(), Request{URL: "file://" + src, SHA256: sha, Name: "thing"}); !errors.As(err, &oe) || !strings.Contains(err.Error(), "thing") {
		t.Fatalf("offline: %v", err)
	}
	if _, err := d.Fetch(context.Background(), Request{URL: "file://" + src, SHA256: "nothex"}); err == nil {
		t.Fatal("bad pin accepted")
	}
}

func TestHuman(t *testing.T) {
	for n, want := range map[int64]string{10: "10 B", 2048: "2.0 KiB", 5 << 20: "5.0 MiB"} {
		if got := Human(n); got != want {
			t.Errorf("Human(%d) = %s", n, got)
		}
	}
}
