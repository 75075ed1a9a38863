package exec

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestOSRunErrorCarriesCommandOutputAndCode(t *testing.T) {
	var out bytes.Buffer
	err := OS{}.Run(context.Background(), Cmd{Name: "sh", Args: []string{"-c", "echo to-out; echo to-err >&2; exit 3"}, Stdout: &out})
	var re *RunError
	if !errors.As(err, &re) {
		t.Fatalf("err %T %v", err, err)
	}
	if re.ExitCode() != 3 || !strings.Contains(re.Output, "to-err") || !strings.Contains(re.Output, "to-out") {
		t.Fatalf("RunError %+v", re)
	}
	if !strings.HasPrefix(re.Command, "sh -c ") || out.String() != "to-out\n" {
		t.Fatalf("command %q out %q", re.Command, out.String())
	}
}

func TestOSRunMissingBinary(t *testing.T) {
	err := OS{}.Run(context.Background(), Cmd{Name: "cododemo-no-such-tool"})
	var re *RunError
	if !errors.As(err, &re) || re.ExitCode() != -1 {
		t.Fatalf("err %v", err)
	}
}

// Cancelling stops the whole process group: a grandchild must not survive.
func TestOSCancelKillsProcessGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- OS{KillGrace: 2 * time.Second}.Run(ctx, Cmd{Name: "sh", Args: []string{"-c",
			"sleep 300 & echo $! > " + pidFile + "; wait"}})
	}()
	var pid int
	for i := 0; i < 200 && pid == 0; i++ { // bounded: 10 s
		if b, err := os.ReadFile(pidFile); err == nil && len(bytes.TrimSpace(b)) > 0 {
			pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if pid == 0 {
		t.Fatal("child never started")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	for i := 0; i < 100; i++ { // bounded: 5 s
		if syscall.Kill(pid, 0) != nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	t.Fatalf("grandchild %d survived the cancel", pid)
}

func TestFakeRecords(t *testing.T) {
	f := &Fake{Handler: func(c Cmd) (string, error) { return "hi\n", nil }}
	out, err := Output(context.Background(), f, Cmd{Name: "vagrant", Args: []string{"status"}})
	if err != nil || string(out) != "hi\n" || len(f.Calls) != 1 {
		t.Fatalf("%q %v %v", out, err, f.Calls)
	}
}
