package workshop

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/cododemo/cododemo/pkg/exec"
)

// up NODE gets the workshop's check limit and a verify wait that ends
// before the step's own limit, so an unhealthy lab is reported, not cut off.
func TestSelfLabUpPassesCheckTimeoutAndWait(t *testing.T) {
	fake := &exec.Fake{Handler: func(exec.Cmd) (string, error) { return "", nil }}
	l := &selfLab{runner: fake, config: "lab.yaml", out: io.Discard, checkTimeout: 90 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := l.Up(ctx, "core-01"); err != nil {
		t.Fatal(err)
	}
	args := strings.Join(fake.Calls[0].Args, " ")
	if !strings.HasPrefix(args, "up core-01 --timeout 1m30s --wait 5m5") || !strings.HasSuffix(args, "--config lab.yaml") {
		t.Fatalf("args %q", args)
	}
	// Halt takes neither.
	if err := l.Halt(ctx, "core-01"); err != nil {
		t.Fatal(err)
	}
	if args := strings.Join(fake.Calls[1].Args, " "); args != "halt core-01 --config lab.yaml" {
		t.Fatalf("halt args %q", args)
	}
	// Little time left: verify still gets a minute.
	short, cancel2 := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel2()
	if err := l.Up(short, "core-01"); err != nil {
		t.Fatal(err)
	}
	if args := strings.Join(fake.Calls[2].Args, " "); !strings.Contains(args, "--wait 1m0s") {
		t.Fatalf("args %q", args)
	}
}

// A failed up says why in its error: the failed rows of its last verify
// table and its last line, not the headings it began with.
func TestSelfLabUpSaysWhy(t *testing.T) {
	out := strings.Join([]string{
		"==> preflight",
		"==> verify --wait 6m0s",
		"attempt 1: still failing: cluster/etcd-write; next try in 1s",
		"NODE     CHECK           STATUS  TIME   MESSAGE",
		"core-01  ssh             FAIL    10.0s  cannot log in",
		"cluster  etcd-write      FAIL    15.0s  timed out",
		"cluster  etcd-health     PASS    8.3s   3/3 members healthy",
		"",
		"UNHEALTHY: 3 nodes, 21 pass, 0 warn, 2 fail, 0 skip in 6m0s after 9 attempts",
	}, "\n") + "\n"
	fake := &exec.Fake{Handler: func(exec.Cmd) (string, error) { return out, errors.New("exit status 1") }}
	var shown strings.Builder
	l := &selfLab{runner: fake, out: &shown, checkTimeout: time.Minute}
	err := l.Up(context.Background(), "core-01")
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{"exit status 1", "it said: core-01 ssh FAIL 10.0s cannot log in; cluster etcd-write FAIL 15.0s timed out; UNHEALTHY: 3 nodes"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "preflight") || strings.Contains(msg, "etcd-health") {
		t.Errorf("error %q carries the headings or passing rows", msg)
	}
	if shown.String() != out {
		t.Errorf("the output was not shown in full: %q", shown.String())
	}
	// Cut off mid-wait: the last progress line says what was failing.
	fake.Handler = func(exec.Cmd) (string, error) {
		return "==> verify --wait 6m0s\nattempt 7: still failing: core-01/docker; next try in 1s\n", context.DeadlineExceeded
	}
	msg = l.Up(context.Background(), "core-01").Error()
	if !strings.Contains(msg, "it said: attempt 7: still failing: core-01/docker; next try in 1s") {
		t.Errorf("error %q", msg)
	}
}
