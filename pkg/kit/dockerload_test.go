//go:build linux

package kit

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// dockerd starts a Docker daemon of the test's own (socket, data and exec
// roots in a temp dir; no bridge, no iptables: containers use the host's
// network or none), so the kit is loaded by the real thing. Missing
// dockerd is a failure, not a skip: CI installs docker.io.
func dockerd(t *testing.T) func(args ...string) (string, error) {
	t.Helper()
	bin, err := exec.LookPath("dockerd")
	if err != nil {
		t.Fatalf("dockerd not found (apt-get install docker.io): %v", err)
	}
	// Unix socket paths are short: keep the dir near /tmp.
	dir, err := os.MkdirTemp("", "kitd")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "d.sock")
	log, err := os.Create(filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--data-root", filepath.Join(dir, "data"), "--exec-root", filepath.Join(dir, "x"),
		"--pidfile", filepath.Join(dir, "pid"), "--host", "unix://"+sock, "--iptables=false", "--bridge=none",
		"--storage-driver=vfs")
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "log"))
			t.Logf("dockerd log:\n%s", b)
		}
		_ = os.RemoveAll(dir)
	})
	docker := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "docker", append([]string{"-H", "unix://" + sock}, args...)...).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	for i := 0; ; i++ {
		if _, err := docker("version"); err == nil {
			return docker
		}
		select {
		case <-done:
			b, _ := os.ReadFile(filepath.Join(dir, "log"))
			t.Fatalf("dockerd exited: %s", b)
		case <-time.After(250 * time.Millisecond):
		}
		if i == 120 {
			t.Fatal("dockerd did not answer in 30s")
		}
	}
}

// TestKitLoadsAndRunsInDocker builds the whole kit for this machine,
// docker-loads it into a real Docker, and runs each image: hello prints
// its line, web answers, lb starts and says how it is used.
func TestKitLoadsAndRunsInDocker(t *testing.T) {
	arch := hostArch(t)
	b, err := Build(context.Background(), Options{ModuleDir: "../.."}, arch, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	docker := dockerd(t)
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

func hostArch(t *testing.T) string {
	out, err := exec.Command("uname", "-m").Output()
	if err != nil {
		t.Fatal(err)
	}
	switch m := strings.TrimSpace(string(out)); m {
	case "x86_64":
		return "amd64"
	case "aarch64":
		return "arm64"
	default:
		t.Fatalf("no kit for %s", m)
	}
	return ""
}
