package health

import (
	"os/exec"
	"strings"
	"testing"
)

// The batch script runs under the shells a node may give us: bash (with
// $EPOCHREALTIME) and a plain POSIX sh (dash, without it).
func TestBatchScriptRealShells(t *testing.T) {
	cmds := []string{
		"echo out1; echo err1 >&2",
		"printf 'no newline'; exit 3",
		"echo '@@fake 2 frame' ; true",
		"cat /nonexistent-cododemo",
	}
	for _, shell := range []string{"bash", "sh"} {
		if _, err := exec.LookPath(shell); err != nil {
			t.Fatalf("%s: %v", shell, err)
		}
		out, err := exec.Command(shell, "-c", BatchScript("n0nce", cmds)).Output()
		if err != nil {
			t.Fatalf("%s: %v", shell, err)
		}
		got := ParseBatch("n0nce", len(cmds), out)
		if len(got) != 4 {
			t.Fatalf("%s: %d results from\n%s", shell, len(got), out)
		}
		if string(got[0].Stdout) != "out1\n" || string(got[0].Stderr) != "err1\n" || got[0].ExitStatus != 0 {
			t.Errorf("%s: 0: %+v", shell, got[0])
		}
		if string(got[1].Stdout) != "no newline" || got[1].ExitStatus != 3 {
			t.Errorf("%s: 1: %+v", shell, got[1])
		}
		if string(got[2].Stdout) != "@@fake 2 frame\n" {
			t.Errorf("%s: 2: %+v", shell, got[2])
		}
		if got[3].ExitStatus == 0 || !strings.Contains(string(got[3].Stderr), "nonexistent") {
			t.Errorf("%s: 3: %+v", shell, got[3])
		}
		if shell == "bash" && got[0].Seconds < 0 {
			t.Errorf("bash: no timing")
		}
	}
}

func TestParseBatchCutShort(t *testing.T) {
	out, err := exec.Command("sh", "-c", BatchScript("n", []string{"echo a", "echo b"})).Output()
	if err != nil {
		t.Fatal(err)
	}
	// Killed after the first command's stderr frame began: the second is
	// absent, the first intact.
	cut := out[:strings.Index(string(out), "\n@@n 1 ")+len("\n@@n 1 ")]
	got := ParseBatch("n", 2, cut)
	if _, ok := got[1]; ok || string(got[0].Stdout) != "a\n" {
		t.Errorf("%+v", got)
	}
	if len(ParseBatch("n", 2, nil)) != 0 {
		t.Error("empty output gave results")
	}
}

func FuzzParseBatch(f *testing.F) {
	out, _ := exec.Command("sh", "-c", BatchScript("n", []string{"echo a", "echo b >&2; exit 4"})).Output()
	f.Add(out)
	f.Add([]byte("\n@@n 0 \nx\n@@n-err 0 1 \ny\n@@n-end\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for i, r := range ParseBatch("n", 3, b) {
			if i < 0 || i >= 3 {
				t.Fatalf("index %d", i)
			}
			_ = r
		}
	})
}
