package render

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"

	"github.com/cododemo/cododemo/pkg/exec"
	"github.com/cododemo/cododemo/pkg/labstate"
	"github.com/cododemo/cododemo/templates"
)

// ErrNoRuby says no Ruby was found to check the Vagrantfile with.
var ErrNoRuby = errors.New("no ruby found (Vagrant's own, or ruby on PATH): the Vagrantfile was not checked")

// rubyCompile compiles every file named in ARGV as Ruby does before it
// runs a Vagrantfile (`ruby -c`), all in one process, and reports each
// syntax error as a JSON line. Nothing in the files is run.
const rubyCompile = `require "json"
ARGV.each_with_index do |f, i|
  begin
    RubyVM::InstructionSequence.compile(File.read(f, mode: "r:UTF-8"), f)
  rescue SyntaxError => e
    puts JSON.generate({"i" => i, "message" => e.message})
  end
end`

// ValidateVagrantfiles checks the Vagrantfile of every result with Ruby's
// own parser, the one Vagrant loads it with, in one Ruby process (the
// matrix has dozens); a syntax error points at the template file and line
// it came from. errs[i] is results[i]'s; err is ErrNoRuby when there is no
// Ruby to ask, or says why Ruby could not check.
//
// `vagrant validate --ignore-provider` would catch more (a misspelt
// setting) but takes seconds per file where this takes milliseconds for
// all: it is the test suite's check.
func ValidateVagrantfiles(ctx context.Context, results ...*Result) (errs []error, err error) {
	ruby, err := findRuby()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "cododemo-vagrantfile-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	args := []string{"-e", rubyCompile}
	for i, r := range results {
		p := filepath.Join(dir, fmt.Sprintf("Vagrantfile-%d", i))
		if err := os.WriteFile(p, r.vagrantfile(), 0o600); err != nil {
			return nil, err
		}
		args = append(args, p)
	}
	var out, stderr bytes.Buffer
	err = exec.OS{}.Run(ctx, exec.Cmd{Name: ruby, Args: args, Stdout: &out, Stderr: &stderr})
	if err != nil {
		return nil, fmt.Errorf("checking the Vagrantfile with %s: %w: %s", ruby, err, strings.TrimSpace(stderr.String()))
	}
	errs = make([]error, len(results))
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if line == "" {
			continue
		}
		var e struct {
			I       int    `json:"i"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil || e.I < 0 || e.I >= len(results) {
			return nil, fmt.Errorf("checking the Vagrantfile: unexpected answer from ruby: %q", line)
		}
		errs[e.I] = results[e.I].rubyError(filepath.Join(dir, fmt.Sprintf("Vagrantfile-%d", e.I)), e.Message)
	}
	for _, r := range results {
		r.RubyChecked = true
	}
	return errs, nil
}

// CheckRuby checks r's Vagrantfile with Ruby (ValidateVagrantfiles). With
// no Ruby at hand it adds a note saying the Vagrantfile went unchecked.
func CheckRuby(r *Result) error {
	errs, err := ValidateVagrantfiles(context.Background(), r)
	if errors.Is(err, ErrNoRuby) {
		r.Notes = append(r.Notes, ErrNoRuby.Error())
		return nil
	}
	if err != nil {
		return err
	}
	return errs[0]
}

var rubyLine = regexp.MustCompile(`^(.*?):(\d+):\s*(.*)$`)

// rubyError turns Ruby's "file:line: message" into one that starts at the
// template line, and names the rendered line too.
func (r *Result) rubyError(file, msg string) error {
	first, rest, _ := strings.Cut(strings.ReplaceAll(msg, file, labstate.Vagrantfile), "\n")
	m := rubyLine.FindStringSubmatch(first)
	if m == nil {
		return fmt.Errorf("%s: Ruby syntax error: %s", labstate.Vagrantfile, msg)
	}
	n, _ := strconv.Atoi(m[2])
	where, rendered := fmt.Sprintf("%s:%d", labstate.Vagrantfile, n), ""
	if r.tmpl != nil {
		if loc, ok := r.tmpl.lineOf(templates.Vagrantfile, r.vagrant, r.vagrantfile(), n); ok {
			where, rendered = loc.String(), fmt.Sprintf(" (rendered as %s:%d)", labstate.Vagrantfile, n)
		}
	}
	return fmt.Errorf("%s: Ruby: %s%s\n%s", where, m[3], rendered, indentLines(rest))
}

// vagrantfile is the rendered Vagrantfile.
func (r *Result) vagrantfile() []byte {
	for _, f := range r.Files {
		if f.Path == labstate.Vagrantfile {
			return f.Data
		}
	}
	return nil
}

func indentLines(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return ""
	}
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}

// findRuby finds the Ruby Vagrant runs on: Vagrant's installers embed
// their own (macOS, Windows, the Linux packages of HashiCorp); Debian's
// vagrant runs on the system ruby.
func findRuby() (string, error) {
	if p, err := osexec.LookPath("ruby"); err == nil {
		return p, nil
	}
	v, err := osexec.LookPath("vagrant")
	if err != nil {
		return "", ErrNoRuby
	}
	if real, err := filepath.EvalSymlinks(v); err == nil {
		v = real
	}
	// <root>/bin/vagrant -> <root>/embedded/bin/ruby (macOS, Linux);
	// <root>\bin\vagrant.exe -> <root>\embedded\mingw64\bin\ruby.exe.
	root := filepath.Dir(filepath.Dir(v))
	candidates := []string{filepath.Join(root, "embedded", "bin", "ruby")}
	if runtime.GOOS == "windows" {
		candidates = []string{filepath.Join(root, "embedded", "mingw64", "bin", "ruby.exe")}
	}
	for _, c := range candidates {
		if fi, err := os.Stat(c); err == nil && !fi.IsDir() {
			return c, nil
		}
	}
	return "", ErrNoRuby
}
