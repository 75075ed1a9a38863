package health

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// runShell runs script under shell, returning stdout and stderr apart, as
// an SSH session does.
func runShell(t testing.TB, shell, script string) (stdout, stderr []byte) {
	var o, e bytes.Buffer
	cmd := exec.Command(shell, "-c", script)
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", shell, err, e.String())
	}
	return o.Bytes(), e.Bytes()
}

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
		out, errOut := runShell(t, shell, BatchScript("n0nce", cmds))
		got := ParseBatch("n0nce", len(cmds), out, errOut)
		if len(got) != 4 {
			t.Fatalf("%s: %d results from\n%s\n%s", shell, len(got), out, errOut)
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
	out, errOut := runShell(t, "sh", BatchScript("n", []string{"echo a; echo e >&2", "echo b"}))
	// Killed while the second command ran: the second is absent, the
	// first intact, stderr included (cut before the second's marker).
	cut := out[:strings.Index(string(out), "\n@@n 1 ")+len("\n@@n 1 ")]
	cutErr := errOut[:strings.Index(string(errOut), "\n@@n 1")]
	got := ParseBatch("n", 2, cut, cutErr)
	if _, ok := got[1]; ok || string(got[0].Stdout) != "a\n" || string(got[0].Stderr) != "e\n" {
		t.Errorf("%+v", got)
	}
	if len(ParseBatch("n", 2, nil, nil)) != 0 {
		t.Error("empty output gave results")
	}
}

func FuzzParseBatch(f *testing.F) {
	out, errOut := runShell(f, "sh", BatchScript("n", []string{"echo a", "echo b >&2; exit 4"}))
	f.Add(out, errOut)
	f.Add([]byte("\n@@n 0 \nx\n@@n-rc 0 1 \n@@n-end\n"), []byte("\n@@n 0\ny\n@@n-end\n"))
	f.Fuzz(func(t *testing.T, b, e []byte) {
		for i, r := range ParseBatch("n", 3, b, e) {
			if i < 0 || i >= 3 {
				t.Fatalf("index %d", i)
			}
			_ = r
		}
	})
}

// SplitBatch and FrameBatch are the inverse of BatchScript and ParseBatch.
func TestSplitAndFrameBatch(t *testing.T) {
	cmds := []string{CmdOSRelease, "echo 'a\nb'; exit 3", CmdEtcdGet("/k")}
	nonce, got, ok := SplitBatch(BatchScript("n0nce", cmds))
	if !ok || nonce != "n0nce" || len(got) != len(cmds) {
		t.Fatalf("split: %v %q %q", ok, nonce, got)
	}
	for i := range cmds {
		if got[i] != cmds[i] {
			t.Errorf("%d: %q, want %q", i, got[i], cmds[i])
		}
	}
	if _, _, ok := SplitBatch("systemctl is-system-running"); ok {
		t.Error("a plain command split as a batch")
	}
	want := []BatchResult{{Stdout: []byte("x\n"), ExitStatus: 0}, {Stderr: []byte("e\n"), ExitStatus: 3}}
	out, errOut := FrameBatch("n", want)
	res := ParseBatch("n", 2, out, errOut)
	for i, w := range want {
		if r := res[i]; string(r.Stdout) != string(w.Stdout) || string(r.Stderr) != string(w.Stderr) || r.ExitStatus != w.ExitStatus {
			t.Errorf("%d: %+v, want %+v", i, r, w)
		}
	}
}

func TestAtEndpoints(t *testing.T) {
	cmd := AtEndpoints([]string{"http://10.0.0.1:2379", "http://[fd00::1]:2379"}, CmdEtcdMemberList)
	out, err := exec.Command("sh", "-c", strings.Replace(cmd, "etcdctl", "printenv ETCDCTL_ENDPOINTS; : ", 1)).Output()
	if err != nil || string(out) != "http://10.0.0.1:2379,http://[fd00::1]:2379\n" {
		t.Fatalf("the shell sees %q (%v) from %s", out, err, cmd)
	}
	urls, rest := SplitEndpoints(cmd)
	if len(urls) != 2 || rest != CmdEtcdMemberList {
		t.Errorf("split: %q %q", urls, rest)
	}
	if AtEndpoints(nil, CmdEtcdMemberList) != CmdEtcdMemberList {
		t.Error("no URLs changed the command")
	}
}
