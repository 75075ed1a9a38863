//go:build linux

package kit

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cododemo/cododemo/pkg/kit/kittest"
)

// TestKitLoadsAndRunsInDocker builds the whole kit for this machine,
// docker-loads it into a real Docker, and runs each image: hello prints
// its line, web answers, lb starts and says how it is used.
func TestKitLoadsAndRunsInDocker(t *testing.T) {
	arch, err := kittest.HostArch()
	if err != nil {
		t.Fatal(err)
	}
	b, err := Build(context.Background(), Options{ModuleDir: "../.."}, arch, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	docker := kittest.Start(t).Docker
	out, err := docker("load", "-i", b.Path)
	if err != nil {
		t.Fatalf("docker load: %v: %s", err, out)
	}
	for _, p := range Programs {
		if !strings.Contains(out, "Loaded image: "+p.Image()) {
			t.Errorf("docker load did not load %s: %s", p.Image(), out)
		}
	}
	if out, err := docker("run", "--rm", "--network", "none", "cododemo/hello:1"); err != nil || out != "hello World" {
		t.Errorf("hello: %v %q", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	if out, err := docker("run", "-d", "--name", "kit-web", "--network", "host", "cododemo/web:1", "-listen", addr); err != nil {
		t.Fatalf("web: %v %s", err, out)
	}
	defer func() { _, _ = docker("rm", "-f", "kit-web") }()
	var body string
	for i := 0; i < 100 && body == ""; i++ {
		if resp, err := http.Get("http://" + addr + "/bar"); err == nil {
			bb, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(bb)
		} else {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if !strings.HasPrefix(body, `Hello, "/bar" - `) {
		t.Errorf("web in Docker answered %q", body)
	}
	if out, _ := docker("run", "--rm", "--network", "none", "cododemo/lb:1", "-h"); !strings.Contains(out, "-prefix string") {
		t.Errorf("lb -h: %q", out)
	}
}
