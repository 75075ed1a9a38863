package download

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	osexec "os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/cododemo/cododemo/pkg/image/cache"
)

// BenchmarkDownloadVsCurl downloads the same file from a loopback server
// with cododemo's downloader (go-getter, hashing, verify, rename into the
// cache) and with curl, and reports both throughputs and their ratio.
//
//	go test -run '^$' -bench DownloadVsCurl -benchtime 5x ./pkg/image/download/
func BenchmarkDownloadVsCurl(b *testing.B) {
	curl, err := osexec.LookPath("curl")
	if err != nil {
		b.Fatal("curl is required: apt-get install -y curl")
	}
	const size = 256 << 20
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i * 7)
	}
	sum := sha256.Sum256(data)
	sha := hex.EncodeToString(sum[:])
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "", time.Unix(0, 0), bytes.NewReader(data))
	}))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	defer srv.Close()
	url := srv.URL + "/box"
	dir := b.TempDir()
	c := cache.Open(filepath.Join(dir, "cache"))
	d := &Downloader{Cache: c}
	ctx := context.Background()

	var ours, theirs time.Duration
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		_ = os.RemoveAll(c.Dir)
		out := filepath.Join(dir, "curl.out")
		_ = os.Remove(out)
		start := time.Now()
		if err := osexec.Command(curl, "-sS", "-f", "-o", out, url).Run(); err != nil {
			b.Fatal(err)
		}
		theirs += time.Since(start)
		b.StartTimer()

		start = time.Now()
		if _, err := d.Fetch(ctx, Request{URL: url, SHA256: sha, Name: "bench"}); err != nil {
			b.Fatal(err)
		}
		ours += time.Since(start)
	}
	b.StopTimer()
	mbps := func(d time.Duration) float64 { return float64(size) * float64(b.N) / d.Seconds() / 1e6 }
	b.ReportMetric(mbps(ours), "cododemo-MB/s")
	b.ReportMetric(mbps(theirs), "curl-MB/s")
	b.ReportMetric(theirs.Seconds()/ours.Seconds(), "x-curl")
}
