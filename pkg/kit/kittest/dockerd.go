//go:build linux

// Package kittest starts a real Docker daemon for tests of the workshop's
// image kit: its own socket, data and exec roots in a temp dir, the vfs
// storage driver, no bridge and no iptables (containers use the host's
// network or none), so it touches nothing of the machine's own Docker.
// Missing dockerd is a test failure, not a skip: CI installs docker.io.
package kittest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// TB is the part of testing.TB the daemon needs.
type TB interface {
	Helper()
	Cleanup(func())
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	Failed() bool
}

// Daemon is a running dockerd.
type Daemon struct {
	// Host is its DOCKER_HOST (unix://...).
	Host string
}

// Docker runs the docker CLI against the daemon: combined output, trimmed.
func (d *Daemon) Docker(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", append([]string{"-H", d.Host}, args...)...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// Start starts a daemon and stops it at the test's cleanup.
func Start(t TB) *Daemon {
	t.Helper()
	bin, err := exec.LookPath("dockerd")
	if err != nil {
		t.Fatalf("dockerd not found (apt-get install docker.io): %v", err)
	}
	// Unix socket paths are short: keep the dir right under the temp dir.
	dir, err := os.MkdirTemp("", "kitd")
	if err != nil {
		t.Fatalf("%v", err)
	}
	logPath := filepath.Join(dir, "log")
	log, err := os.Create(logPath)
	if err != nil {
		t.Fatalf("%v", err)
	}
	defer log.Close()
	d := &Daemon{Host: "unix://" + filepath.Join(dir, "d.sock")}
	cmd := exec.Command(bin, "--data-root", filepath.Join(dir, "data"), "--exec-root", filepath.Join(dir, "x"),
		"--pidfile", filepath.Join(dir, "pid"), "--host", d.Host, "--iptables=false", "--bridge=none",
		"--storage-driver=vfs")
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("dockerd: %v", err)
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
			b, _ := os.ReadFile(logPath)
			t.Logf("dockerd log:\n%s", b)
		}
		_ = os.RemoveAll(dir)
	})
	for i := 0; ; i++ {
		if _, err := d.Docker("version"); err == nil {
			return d
		}
		select {
		case <-done:
			b, _ := os.ReadFile(logPath)
			t.Fatalf("dockerd exited: %s", b)
		case <-time.After(250 * time.Millisecond):
		}
		if i == 120 {
			t.Fatalf("dockerd did not answer in 30s")
		}
	}
}

// HostArch is this machine's architecture as Go names it (the kit to load).
func HostArch() (string, error) {
	out, err := exec.Command("uname", "-m").Output()
	if err != nil {
		return "", err
	}
	switch m := strings.TrimSpace(string(out)); m {
	case "x86_64":
		return "amd64", nil
	case "aarch64":
		return "arm64", nil
	default:
		return m, nil
	}
}
