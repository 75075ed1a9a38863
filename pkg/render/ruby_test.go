package render

import (
	"bytes"
	"context"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cododemo/cododemo/pkg/config"
	"github.com/cododemo/cododemo/pkg/exec"
	"github.com/cododemo/cododemo/pkg/labstate"
	"github.com/cododemo/cododemo/pkg/plan"
)

// hostile are values a lab file from someone else could carry: each would
// run code or break out of a double-quoted Ruby string.
var hostile = []string{
	"flatcar#{`touch MARKER`}",
	"#{system('touch MARKER')}",
	"`touch MARKER`",
	"%x(touch MARKER)",
	"#@x #$y",
	`it's`,
	`trailing\`,
	`a\'b`,
	`\\'; system('touch MARKER'); '`,
	`C:\Users\A B\lab`,
	"日本語 ünïcode",
}

// Ruby itself reads every literal back as exactly the string written:
// nothing interpolated, nothing lost (Windows paths with backslashes and
// spaces included).
func TestRubyLiteralRoundTrip(t *testing.T) {
	var src strings.Builder
	for _, s := range hostile {
		lit, err := Ruby(s)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		src.WriteString("STDOUT.write(" + lit + "); STDOUT.write(\"\\0\")\n")
	}
	out, err := osexec.Command("ruby", "-e", src.String()).CombinedOutput()
	if err != nil {
		t.Fatalf("ruby: %v\n%s\n%s", err, out, src.String())
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if len(got) != len(hostile) {
		t.Fatalf("ruby printed %q", out)
	}
	for i, s := range hostile {
		if got[i] != s {
			t.Errorf("Ruby(%q) reads back as %q", s, got[i])
		}
	}
	for _, v := range []any{"a\nb", "tab\there", "nul\x00", "\xff"} {
		if lit, err := Ruby(v); err == nil {
			t.Errorf("Ruby(%q) = %s, want an error", v, lit)
		}
	}
	if lit, err := Ruby(42); err != nil || lit != "42" {
		t.Errorf("Ruby(42) = %s, %v", lit, err)
	}
	if _, err := Ruby(1.5); err == nil {
		t.Error("a float became a Ruby literal")
	}
}

// checkRuby asserts that vf parses (`ruby -c`) and that Ruby's own lexer
// finds no interpolation (#{, #@, #$) and no command (backtick, %x) in it.
func checkRuby(t testing.TB, vf string) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "Vagrantfile")
	if err := os.WriteFile(path, []byte(vf), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := osexec.Command("ruby", "-c", path).CombinedOutput(); err != nil {
		t.Fatalf("ruby -c: %v\n%s\n%s", err, out, vf)
	}
	const lex = `require "ripper"
bad = Ripper.lex(File.read(ARGV[0])).select { |_, kind, _| %i[on_embexpr_beg on_embvar on_backtick].include?(kind) }
abort bad.inspect unless bad.empty?`
	if out, err := osexec.Command("ruby", "-e", lex, path).CombinedOutput(); err != nil {
		t.Fatalf("interpolation or command in the Vagrantfile: %s\n%s", out, vf)
	}
}

// vagrantValidate runs the real `vagrant validate` on the lab in dir, with
// a VAGRANT_HOME of its own: Vagrant evaluates the Vagrantfile.
func vagrantValidate(t testing.TB, dir string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := exec.OS{}.Run(context.Background(), exec.Cmd{
		Name: "vagrant", Args: []string{"validate", "--ignore-provider"}, Dir: dir,
		Env:    []string{"VAGRANT_HOME=" + t.TempDir(), "VAGRANT_CHECKPOINT_DISABLE=1", "VAGRANT_BOX_UPDATE_CHECK_DISABLE=1"},
		Stdout: &out, Stderr: &out,
	})
	return out.String(), err
}

// A lab file whose values carry Ruby code runs nothing on the host. The
// box values are stopped twice: config.Validate refuses them, and a plan
// carrying them anyway (a hand-made lock) still renders them inert; a
// shared folder's host may legally be named so and is rendered inert.
func TestVagrantfileInjection(t *testing.T) {
	base := t.TempDir()
	marker := filepath.Join(t.TempDir(), "pwned")
	cmd := "#{`touch " + marker + "`}#{system('touch " + marker + "')}"

	lab := config.Default()
	lab.Format = "ignition"
	lab.Box.Name = "flatcar" + cmd
	lab.Box.URL = "https://example.invalid/" + cmd
	lab.Mirror = "http://mirror.invalid/" + cmd
	lab.SharedFolders = []config.SharedFolder{{Host: "share" + cmd, Guest: "/home/core/share'" + cmd, Type: "rsync"}}
	ps := config.Validate(lab)
	for _, key := range []string{"box.name", "box.url", "mirror"} {
		found := false
		for _, p := range ps {
			found = found || p.Key == key && !p.Warning
		}
		if !found {
			t.Errorf("config.Validate accepted %s; problems: %v", key, ps)
		}
	}
	for _, p := range ps {
		if strings.HasPrefix(p.Key, "shared_folders.") {
			t.Errorf("a shared folder named like code is a legal path: %v", p)
		}
	}

	dir := labstate.Dir{Path: filepath.Join(base, ".cododemo")}
	secrets, err := dir.Secrets()
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.New(lab, nil, secrets)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Render(p, Options{}); err == nil || !strings.Contains(err.Error(), "box name") {
		t.Fatalf("Render must refuse an unchecked box name: %v", err)
	}
	// The template layer alone, as if both checks were bypassed.
	tmpl, err := LoadTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	var vnodes []vagrantNode
	for _, n := range p.Nodes {
		vnodes = append(vnodes, vagrantNode{Node: n, Provision: "nodes/" + n.Name + ".vbox.ign", ProviderMAC: providerMAC(p, n), Forwards: forwardsFor(p, n), Console: labstate.ConsoleLog(n.Name)})
	}
	vf, err := vagrantfile(p, vnodes, Options{Templates: tmpl})
	if err != nil {
		t.Fatal(err)
	}
	checkRuby(t, string(vf))
	if err := os.WriteFile(dir.Join("Vagrantfile"), vf, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(base, lab.SharedFolders[0].Host), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range vnodes {
		if err := os.MkdirAll(filepath.Dir(dir.Join(n.Provision)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dir.Join(n.Provision), []byte("{}"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out, err := vagrantValidate(t, dir.Path)
	if _, serr := os.Stat(marker); serr == nil {
		t.Fatalf("evaluating the Vagrantfile ran the lab file's code:\n%s\n%s", vf, out)
	}
	if err != nil {
		t.Fatalf("vagrant validate: %v\n%s", err, out)
	}
}

// A Windows lab directory and shared folder (a drive letter, backslashes,
// a space) reach Ruby as written.
func TestVagrantfileWindowsPaths(t *testing.T) {
	const win = `C:\Users\A B\lab`
	lab := config.Default()
	lab.Format = "ignition"
	lab.SharedFolders = []config.SharedFolder{{Host: win + `\share`, Guest: "/home/core/share", Type: "rsync"}}
	if ps := config.Validate(lab); hasErrors(ps) {
		t.Fatalf("a Windows path was refused: %v", ps)
	}
	p, err := plan.New(lab, nil, fixedSecrets)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Render(p, Options{ConfigDir: win})
	if err != nil {
		t.Fatal(err)
	}
	vf := string(r.Files[0].Data)
	checkRuby(t, vf)
	for _, want := range []string{
		`CONFIG_DIR = File.expand_path('C:\\Users\\A B\\lab', LAB_DIR)`,
		`File.expand_path('C:\\Users\\A B\\lab\\share', CONFIG_DIR)`,
	} {
		if !strings.Contains(vf, want) {
			t.Errorf("Vagrantfile lacks %s:\n%s", want, vf)
		}
	}
}

func hasErrors(ps []config.Problem) bool {
	for _, p := range ps {
		if !p.Warning {
			return true
		}
	}
	return false
}
