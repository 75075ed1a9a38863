package exec

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
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

func TestFakeRecords(t *testing.T) {
	f := &Fake{Handler: func(c Cmd) (string, error) { return "hi\n", nil }}
	out, err := Output(context.Background(), f, Cmd{Name: "vagrant", Args: []string{"status"}})
	if err != nil || string(out) != "hi\n" || len(f.Calls) != 1 {
		t.Fatalf("%q %v %v", out, err, f.Calls)
	}
}
