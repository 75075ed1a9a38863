package vagrant

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/cododemo/cododemo/pkg/exec"
	"github.com/cododemo/cododemo/pkg/labstate"
)

// Driver runs vagrant for one lab: every call runs in the lab's state dir
// (where the rendered Vagrantfile is) with Vagrant's phone-home checks off.
type Driver struct {
	Runner exec.Runner
	// Dir is the lab's state dir.
	Dir string
	// Provider becomes VAGRANT_DEFAULT_PROVIDER, so that `status` of VMs
	// not yet created speaks of the lab's provider rather than whichever
	// Vagrant would guess. "" leaves Vagrant's choice.
	Provider string
	// Getenv reads the environment for VAGRANT_HOME; nil reads nothing.
	Getenv func(string) string
	// Binary is the vagrant executable; "" means "vagrant" on PATH.
	Binary string
	// Env is added to every call (KEY=value), after cododemo's own.
	Env []string
}

// Output returns the writer for one machine's lines; machine "" gets the
// lines about the whole lab. A nil Output discards.
type Output func(machine string) io.Writer

// LogOnlyWriter is implemented by an Output's writers that keep a log
// besides what they show: lines people need not read (the frames of a
// Ruby backtrace) go to the log only. Other writers get them as usual.
type LogOnlyWriter interface{ LogOnly() io.Writer }

// Cmd builds the exec.Cmd for `vagrant args...` in the state dir.
func (d *Driver) Cmd(args ...string) exec.Cmd {
	bin := d.Binary
	if bin == "" {
		bin = "vagrant"
	}
	env := []string{"VAGRANT_CHECKPOINT_DISABLE=1", "VAGRANT_BOX_UPDATE_CHECK_DISABLE=1"}
	if d.Getenv != nil {
		if home := d.Getenv("VAGRANT_HOME"); home != "" {
			env = append(env, "VAGRANT_HOME="+home)
		}
	}
	if d.Provider != "" {
		env = append(env, "VAGRANT_DEFAULT_PROVIDER="+d.Provider)
	}
	env = append(env, d.Env...)
	return exec.Cmd{Name: bin, Args: args, Dir: d.Dir, Env: env}
}

// output runs vagrant and returns its stdout; a failure is classified.
func (d *Driver) output(ctx context.Context, args ...string) ([]byte, error) {
	out, err := exec.Output(ctx, d.Runner, d.Cmd(args...))
	return out, classify(err, out, nil)
}

// classify turns a failed run into an *Error when Vagrant said why, or
// when it died of a Ruby exception (crash, when the line writer saw it;
// else looked for in the output kept). Cancellation stays what it is: the
// user pressed Ctrl-C, no advice needed.
func classify(err error, stdout []byte, crash *Crash) error {
	if err == nil || errors.Is(err, context.Canceled) {
		return err
	}
	text := string(stdout)
	var re *exec.RunError
	if errors.As(err, &re) {
		text += "\n" + re.Output
	}
	if ve := ClassifyOutput(text); ve != nil {
		ve.Err = err
		return ve
	}
	if crash == nil {
		crash = ParseCrash(text)
	}
	if crash != nil {
		ve := NewError(crash.Class, crash.Message)
		ve.Err = err
		return ve
	}
	return err
}

// Version runs `vagrant --version`.
func (d *Driver) Version(ctx context.Context) (Version, error) {
	out, err := d.output(ctx, "--version")
	if err != nil {
		return Version{}, err
	}
	return ParseVersion(string(out))
}

// Status runs `vagrant status --machine-readable [names...]`.
func (d *Driver) Status(ctx context.Context, names ...string) ([]Machine, error) {
	out, err := d.output(ctx, append([]string{"status", "--machine-readable"}, names...)...)
	if err != nil {
		return nil, err
	}
	return ParseStatus(out)
}

// SSHConfig runs `vagrant ssh-config --machine-readable [names...]`. Before
// `up` it fails with an *Error of type SSHNotReady.
func (d *Driver) SSHConfig(ctx context.Context, names ...string) ([]SSHConfig, error) {
	out, err := d.output(ctx, append([]string{"ssh-config", "--machine-readable"}, names...)...)
	if err != nil {
		return nil, err
	}
	return ParseSSHConfigMachineReadable(out)
}

// Validate runs `vagrant validate --ignore-provider`, which checks the
// Vagrantfile without any provider installed (CI has none).
func (d *Driver) Validate(ctx context.Context) error {
	_, err := d.output(ctx, "validate", "--ignore-provider", "--machine-readable")
	return err
}

// BoxAddOptions are the arguments of `vagrant box add`.
type BoxAddOptions struct {
	// Source is a catalog URL (file:// keeps versions and checksums), a box
	// file or URL, or a name.
	Source   string
	Name     string // required for a bare box file
	Version  string
	Provider string
	// Checksum and ChecksumType (sha256) verify a bare box file.
	Checksum     string
	ChecksumType string
	Force        bool
}

// BoxAdd runs `vagrant box add`.
func (d *Driver) BoxAdd(ctx context.Context, o BoxAddOptions, out io.Writer) error {
	args := []string{"box", "add", "--machine-readable"}
	if o.Name != "" {
		args = append(args, "--name", o.Name)
	}
	if o.Version != "" {
		args = append(args, "--box-version", o.Version)
	}
	if o.Provider != "" {
		args = append(args, "--provider", o.Provider)
	}
	if o.Checksum != "" {
		args = append(args, "--checksum", o.Checksum, "--checksum-type", orDefault(o.ChecksumType, "sha256"))
	}
	if o.Force {
		args = append(args, "--force")
	}
	args = append(args, o.Source)
	return d.stream(ctx, args, func(string) io.Writer { return out })
}

// BoxList runs `vagrant box list --machine-readable`.
func (d *Driver) BoxList(ctx context.Context) ([]Box, error) {
	out, err := d.output(ctx, "box", "list", "--machine-readable")
	if err != nil {
		return nil, err
	}
	return ParseBoxList(out)
}

// BoxRemove runs `vagrant box remove` for one box version.
func (d *Driver) BoxRemove(ctx context.Context, b Box) error {
	args := []string{"box", "remove", "--machine-readable", b.Name}
	if b.Provider != "" {
		args = append(args, "--provider", b.Provider)
	}
	if b.Version != "" {
		args = append(args, "--box-version", b.Version)
	}
	_, err := d.output(ctx, args...)
	return err
}

// Halt shuts the named machines (all when none) down, one `vagrant halt
// NODE` each, all at once: Vagrant's own `halt` of several machines does
// one after the other, and a guest's graceful shutdown is most of a
// minute under emulation. The error joins a *NodeError per machine that
// failed.
func (d *Driver) Halt(ctx context.Context, out Output, names ...string) error {
	if len(names) == 0 {
		status, err := d.Status(ctx)
		if err != nil {
			return fmt.Errorf("vagrant status: %w", err)
		}
		for _, m := range status {
			names = append(names, m.Name)
		}
	}
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lw := &lineWriter{out: out, machine: n}
			if err := d.run(ctx, []string{"halt", "--machine-readable", n}, lw); err != nil {
				_, p := lw.last()
				errs[i] = &NodeError{Node: n, Op: "vagrant halt", Phase: p, Err: err}
			}
		}()
	}
	wg.Wait()
	return joinNodeErrors(ctx, errs)
}

// Reload does what `vagrant reload` does (a halt, then a boot without
// provisioning: Vagrant's reload is its halt then its up actions) for the
// named machines (all when none), but for all of them at once: every
// machine halts in parallel, then they boot in parallel as an up of
// stopped machines does. A machine never created is skipped, as Vagrant's
// reload skips it. The error joins a *NodeError per machine that failed,
// whose Op says whether it failed halting or booting.
func (d *Driver) Reload(ctx context.Context, out Output, names ...string) error {
	status, err := d.Status(ctx, names...)
	if err != nil {
		return fmt.Errorf("vagrant status: %w", err)
	}
	var created []string
	for _, m := range status {
		if m.State.Created() {
			created = append(created, m.Name)
		} else if out != nil {
			if w := out(m.Name); w != nil {
				fmt.Fprintln(w, "VM not created. Moving on...")
			}
		}
	}
	if len(created) == 0 {
		return nil
	}
	if err := d.Halt(ctx, out, created...); err != nil {
		return err
	}
	// Every one of them is stopped now: the plan PlanUp would make from a
	// second `vagrant status` is known, so skip that call.
	plan := UpPlan{}
	for _, n := range created {
		plan.Steps = append(plan.Steps, UpStep{Name: n})
	}
	return d.runUpPlan(ctx, plan, UpOptions{Names: created, Provider: d.Provider, NoProvision: true, Out: out})
}

// joinNodeErrors joins the per-machine errors; when ctx was cancelled
// that is the one error to say.
func joinNodeErrors(ctx context.Context, errs []error) error {
	err := errors.Join(errs...)
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// Destroy runs `vagrant destroy --force`: in machine-readable mode Vagrant
// cannot ask, so the confirmation is the caller's job.
func (d *Driver) Destroy(ctx context.Context, out Output, names ...string) error {
	// Unlike halt and reload, destroy goes on past a failing machine and
	// reports all failures at the end: no one node to name.
	return d.stream(ctx, append([]string{"destroy", "--force", "--machine-readable"}, names...), out)
}

// stream runs a long vagrant command and hands its messages, one human
// line at a time, to the writer of the machine they are about.
func (d *Driver) stream(ctx context.Context, args []string, out Output) error {
	return d.streamFor(ctx, args, "", out)
}

func (d *Driver) streamFor(ctx context.Context, args []string, machine string, out Output) error {
	return d.run(ctx, args, &lineWriter{out: out, machine: machine})
}

// run runs vagrant with its output through lw and classifies a failure.
func (d *Driver) run(ctx context.Context, args []string, lw *lineWriter) error {
	c := d.Cmd(args...)
	// The error-exit record comes last; keep the tail of stdout for it.
	tail := exec.NewTail(64 << 10)
	c.Stdout = io.MultiWriter(lw, tail)
	c.Stderr = lw
	err := d.Runner.Run(ctx, c)
	lw.Flush()
	return classify(err, tail.Bytes(), lw.Crash())
}

// lineWriter splits vagrant output into lines, decodes machine-readable
// records to their human message and routes each line to its machine's
// writer. It is safe for the two goroutines os/exec copies stdout and
// stderr with.
type lineWriter struct {
	mu      sync.Mutex
	out     Output
	machine string // default target for non-record lines
	partial []byte
	// onLine, when set, sees every routed line (the up gate watches them).
	onLine func(machine, line string)
	// crashing is set from the first line of an uncaught Ruby exception
	// on: the rest is its message and backtrace, for the log only.
	crashing bool
	crash    []string // its first lines, for ParseCrash
	// lastMachine is the machine of the latest record, lastPhase how far
	// its messages say it came.
	lastMachine string
	lastPhase   Phase
}

// last returns the machine Vagrant was last busy with and its phase.
func (w *lineWriter) last() (string, Phase) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lastMachine, w.lastPhase
}

// maxCrashLines bounds the lines of a crash kept for its message.
const maxCrashLines = 32

// Crash is the uncaught Ruby exception the run died of, nil for none.
func (w *lineWriter) Crash() *Crash {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.crash) == 0 {
		return nil
	}
	return ParseCrash(strings.Join(w.crash, "\n"))
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		line := string(w.partial[:i])
		w.partial = w.partial[i+1:]
		w.route(line)
	}
	if len(w.partial) > maxLine {
		w.route(string(w.partial))
		w.partial = w.partial[:0]
	}
	return len(p), nil
}

// Flush routes a last line without a newline.
func (w *lineWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.partial) > 0 {
		w.route(string(w.partial))
		w.partial = nil
	}
}

func (w *lineWriter) route(line string) {
	line = strings.TrimSuffix(line, "\r")
	target, msgs := w.machine, []string{line}
	r, isRecord := ParseRecord(line)
	if !isRecord && (w.crashing || isCrashHead(line) || isFrame(line)) {
		w.crashing = w.crashing || isCrashHead(line)
		if w.crashing && len(w.crash) < maxCrashLines {
			w.crash = append(w.crash, line)
		}
		w.logOnly(target, line)
		return
	}
	if isRecord {
		switch r.Type {
		case "ui":
			msgs = strings.Split(r.Datum(1), "\n")
		case "error-exit":
			return // the same text came as a ui error record
		default:
			return // metadata, state, ...: for parsers, not people
		}
		if r.Target != "" {
			target = r.Target
			if target != w.lastMachine {
				w.lastMachine, w.lastPhase = target, PhaseStarting
			}
		}
	}
	for _, m := range msgs {
		m = StripMachinePrefix(m, target)
		if strings.TrimSpace(m) == "" {
			continue
		}
		if p, ok := PhaseOf(m); ok && target != "" && target == w.lastMachine {
			w.lastPhase = p
		}
		if w.onLine != nil {
			w.onLine(target, m)
		}
		if w.out != nil {
			if dst := w.out(target); dst != nil {
				_, _ = io.WriteString(dst, m+"\n")
			}
		}
	}
}

// logOnly hands a line to the log of target's writer only (to the
// writer itself when it keeps no log).
func (w *lineWriter) logOnly(target, line string) {
	if w.out == nil {
		return
	}
	dst := w.out(target)
	if lo, ok := dst.(LogOnlyWriter); ok {
		dst = lo.LogOnly()
	}
	if dst != nil {
		_, _ = io.WriteString(dst, line+"\n")
	}
}

// StripMachinePrefix removes Vagrant's "==> core-01: " or "    core-01: "
// from a message line: cododemo's own per-node prefix replaces it.
func StripMachinePrefix(line, machine string) string {
	if machine == "" {
		return line
	}
	for _, p := range []string{"==> " + machine + ": ", "    " + machine + ": "} {
		if strings.HasPrefix(line, p) {
			return line[len(p):]
		}
	}
	return line
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// New returns the Driver for a lab whose rendered Vagrantfile is in
// stateDir.
func New(r exec.Runner, stateDir, provider string, getenv func(string) string) *Driver {
	return &Driver{Runner: r, Dir: stateDir, Provider: provider, Getenv: getenv}
}

// Created lists those of names Vagrant has made a machine for in dir: it
// writes .vagrant/machines/<name>/<provider>/id when it creates one. A
// lab none of whose nodes is listed was never brought up, which is known
// without running Vagrant (whose provider may not be usable here).
func Created(dir string, names []string) []string {
	var out []string
	for _, n := range names {
		if m, _ := filepath.Glob(filepath.Join(dir, labstate.VagrantDir, "machines", n, "*", "id")); len(m) > 0 {
			out = append(out, n)
		}
	}
	return out
}

// Rendered says whether dir holds a Vagrantfile: before the first render
// there is nothing for vagrant to read, and running it would only print
// "A Vagrant environment or target machine is required".
func Rendered(dir string) bool {
	fi, err := os.Stat(filepath.Join(dir, labstate.Vagrantfile))
	return err == nil && fi.Mode().IsRegular()
}
