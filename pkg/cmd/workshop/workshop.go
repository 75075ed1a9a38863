// Package workshop implements `cododemo workshop`: list, show, run, check
// and reset the lab's exercises (pkg/workshop does the work).
package workshop

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cododemo/cododemo/pkg/artifacts"
	"github.com/cododemo/cododemo/pkg/cmdutil"
	"github.com/cododemo/cododemo/pkg/exec"
	"github.com/cododemo/cododemo/pkg/health"
	"github.com/cododemo/cododemo/pkg/image"
	"github.com/cododemo/cododemo/pkg/image/cache"
	"github.com/cododemo/cododemo/pkg/sshtarget"
	"github.com/cododemo/cododemo/pkg/workshop"
)

// Options are the flags every subcommand shares.
type Options struct {
	IO     *cmdutil.IOStreams
	Getenv func(string) string

	// Connector overrides SSH (tests).
	Connector health.Connector
	// Lab overrides halt/up (tests); by default they run this binary's
	// own `halt` and `up`.
	Lab workshop.Lab

	Target    sshtarget.Flags
	Exercises string
	Timeout   time.Duration
}

// NewCmdWorkshop builds `cododemo workshop`.
func NewCmdWorkshop(f *cmdutil.Factory) *cobra.Command {
	o := &Options{IO: f.IO, Getenv: f.Getenv}
	cmd := &cobra.Command{
		Use:   "workshop",
		Short: "Run, check and reset the workshop's exercises on the lab (or any cluster)",
		Long: `The classic CoreOS + Docker workshop as runnable, checkable exercises: etcd
replication, Docker, fleet scheduling web@ units behind a load balancer, a
node failing over. Exercises are data (YAML, built in; --exercises DIR
replaces or adds some). Commands run over SSH on the lab's nodes, with the
lab's real names and addresses.

Presenter: run ID --pause. Attendee: show ID --format md, check ID. CI:
run --all --disruptive -o junit.

Exit status: 0 passed, 1 failed (or checkpoints missing), 2 usage or
configuration error.`,
	}
	pf := cmd.PersistentFlags()
	o.Target.AddFlags(pf)
	pf.StringVar(&o.Exercises, "exercises", "", "directory of exercise files replacing or adding to the built-in ones")
	pf.DurationVar(&o.Timeout, "timeout", 30*time.Second, "time limit for each command")
	cmd.AddCommand(newList(f, o), newShow(f, o), newRun(f, o), newCheck(f, o), newReset(f, o), newLoadKit(f, o))
	return cmd
}

func (o *Options) exercises() (*workshop.Set, error) {
	set, err := workshop.Load(o.Exercises)
	if err != nil {
		return nil, cmdutil.Usage(err)
	}
	return set, nil
}

func (o *Options) exercise(id string) (*workshop.Exercise, error) {
	set, err := o.exercises()
	if err != nil {
		return nil, err
	}
	ex := set.Get(id)
	if ex == nil {
		return nil, cmdutil.Usage(fmt.Errorf("no exercise %q (known: %s)", id, strings.Join(set.IDs(), ", ")))
	}
	return ex, nil
}

// target resolves the cluster the command works on, the way verify, ssh
// and exec do: --inventory, else the lab's own inventory and known hosts.
func (o *Options) target(cmd *cobra.Command, f *cmdutil.Factory) (*sshtarget.Nodes, error) {
	if o.Timeout <= 0 {
		return nil, cmdutil.Usage(errors.New("--timeout must be positive"))
	}
	return f.ResolveTarget(cmd, o.Target)
}

// engine wires an engine to the target; close it after use.
func (o *Options) engine(cmd *cobra.Command, f *cmdutil.Factory, t *sshtarget.Nodes) (*workshop.Engine, func()) {
	conn := o.Connector
	var agentConn health.Connector
	closeConn := func() {}
	if conn == nil {
		sc := t.Connector()
		// Agent steps get connections of their own that forward an agent
		// holding the lab key (as `cododemo ssh -A`), so no other step's
		// session has an agent on the node.
		ac := &health.SSHConnector{Base: t.Base}
		ac.Base.ForwardAgent = true
		conn, agentConn, closeConn = sc, ac, func() { sc.Close(); ac.Close() }
	}
	e := &workshop.Engine{Cluster: workshop.NewCluster(t.Inv), Conn: conn, AgentConn: agentConn, Lab: o.Lab,
		Opts: workshop.Options{Timeout: o.Timeout}}
	if !t.Base.InsecureIgnoreHostKey {
		e.HostKeys = t.Base.HostKeys
	}
	if e.Lab == nil && t.Lab != nil {
		e.Lab = &selfLab{runner: f.Runner, config: f.ConfigPath(cmd), dir: f.WorkDir, out: o.IO.ErrOut, checkTimeout: o.Timeout}
	}
	return e, func() { e.Close(); closeConn() }
}

// selfLab halts and starts a node with this binary's own `halt` and `up`,
// exactly as the presenter would type them.
type selfLab struct {
	runner exec.Runner
	config string
	dir    string
	out    io.Writer
	// checkTimeout is the workshop's --timeout: the limit the user set for
	// a command on this cluster, so also for each of up's verify checks.
	// Without it up's checks get verify's default (15 s), which a loaded
	// or emulated lab's etcd-write alone can take (seen in the e2e tier:
	// 13.8 s with the workshop's units running).
	checkTimeout time.Duration
}

// upBootAllowance is what `up NODE` leaves Vagrant to boot the node before
// verify starts waiting, out of the step's own limit.
const upBootAllowance = 4 * time.Minute

func (l *selfLab) run(ctx context.Context, verb, node string, extra ...string) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	args := append([]string{verb, node}, extra...)
	if l.config != "" {
		args = append(args, "--config", l.config)
	}
	said := &failureLines{max: 6}
	out := io.MultiWriter(l.out, said)
	err = l.runner.Run(ctx, exec.Cmd{Name: exe, Args: args, Dir: l.dir, Stdout: out, Stderr: out})
	if err == nil {
		return nil
	}
	// The reason first (the failed checks, the last progress line), not
	// the runner's tail of everything it printed, which starts with the
	// headings; the whole output went to l.out already.
	var re *exec.RunError
	if errors.As(err, &re) {
		err = fmt.Errorf("%s: %w", re.Command, re.Err)
	}
	if s := said.String(); s != "" {
		return fmt.Errorf("%w; it said: %s", err, s)
	}
	return err
}

func (l *selfLab) Halt(ctx context.Context, node string) error { return l.run(ctx, "halt", node) }

// Up runs `up NODE` with the workshop's check limit, and a verify wait
// that ends before the step's own limit does: a lab that stays unhealthy
// is then reported with up's verify table and reasons, not cut off.
func (l *selfLab) Up(ctx context.Context, node string) error {
	var extra []string
	if l.checkTimeout > 0 {
		extra = append(extra, "--timeout", l.checkTimeout.String())
	}
	if dl, ok := ctx.Deadline(); ok {
		wait := max(time.Until(dl)-upBootAllowance, time.Minute).Truncate(time.Second)
		extra = append(extra, "--wait", wait.String())
	}
	return l.run(ctx, "up", node, extra...)
}

// failureLines keeps what says why a child command failed: the rows of
// its last verify table that failed (at most max), else its last "still
// failing" progress line, and its last line.
type failureLines struct {
	mu       sync.Mutex // stdout and stderr are copied by two goroutines
	max      int
	fails    []string
	progress string
	last     string
	part     string
}

func (w *failureLines) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	parts := strings.Split(w.part+string(p), "\n")
	w.part = parts[len(parts)-1]
	for _, line := range parts[:len(parts)-1] {
		w.line(line)
	}
	return len(p), nil
}

func (w *failureLines) line(line string) {
	line = strings.Join(strings.Fields(line), " ")
	switch {
	case line == "":
		return
	case strings.HasPrefix(line, "NODE CHECK STATUS"):
		w.fails = nil // a new table
	case strings.Contains(line, " FAIL ") && len(w.fails) < w.max:
		w.fails = append(w.fails, line)
	case strings.Contains(line, "still failing:"):
		w.progress = line
	}
	w.last = line
}

func (w *failureLines) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.part != "" {
		w.line(w.part)
		w.part = ""
	}
	lines := append([]string(nil), w.fails...)
	if len(lines) == 0 && w.progress != "" {
		lines = append(lines, w.progress)
	}
	if w.last != "" && (len(lines) == 0 || lines[len(lines)-1] != w.last) {
		lines = append(lines, w.last)
	}
	return strings.Join(lines, "; ")
}

func newList(_ *cmdutil.Factory, o *Options) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the exercises: id, source, what each needs, whether it is disruptive",
		Args:  func(cmd *cobra.Command, args []string) error { return cmdutil.Usage(cobra.NoArgs(cmd, args)) },
		RunE: func(cmd *cobra.Command, _ []string) error {
			format, err := cmdutil.CheckOutput(output, cmdutil.OutputTable, cmdutil.OutputJSON)
			if err != nil {
				return err
			}
			set, err := o.exercises()
			if err != nil {
				return err
			}
			return writeList(o.IO.Out, set, format)
		},
	}
	cmdutil.AddOutputFlag(cmd, &output, cmdutil.OutputTable, cmdutil.OutputJSON)
	return cmd
}

type listEntry struct {
	ID         string   `json:"id"`
	Source     string   `json:"source"`
	Title      string   `json:"title"`
	Needs      []string `json:"needs"`
	Disruptive bool     `json:"disruptive"`
}

func writeList(w io.Writer, set *workshop.Set, format cmdutil.Output) error {
	entries := []listEntry{}
	for _, ex := range set.Exercises {
		needs := ex.Needs
		if needs == nil {
			needs = []string{}
		}
		entries = append(entries, listEntry{ID: ex.ID, Source: ex.Source, Title: ex.Title, Needs: needs, Disruptive: ex.IsDisruptive()})
	}
	if format == cmdutil.OutputJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"schema_version": workshop.SchemaVersion, "exercises": entries})
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSOURCE\tNEEDS\tDISRUPTIVE\tTITLE")
	for _, e := range entries {
		needs := strings.Join(e.Needs, ",")
		if needs == "" {
			needs = "-"
		}
		d := "no"
		if e.Disruptive {
			d = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.ID, e.Source, needs, d, e.Title)
	}
	return tw.Flush()
}

func newShow(f *cmdutil.Factory, o *Options) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Print an exercise as the attendee follows it: the commands with this cluster's names and addresses, and what they should show",
		Example: `  cododemo workshop show etcd-replication
  cododemo workshop show fleet-web --format md > fleet-web.md`,
		Args: func(cmd *cobra.Command, args []string) error { return cmdutil.Usage(cobra.ExactArgs(1)(cmd, args)) },
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "md" {
				return cmdutil.Usage(fmt.Errorf("--format %q: want text or md", format))
			}
			ex, err := o.exercise(args[0])
			if err != nil {
				return err
			}
			t, err := o.target(cmd, f)
			if err != nil {
				return err
			}
			if err := workshop.NewCluster(t.Inv).WriteHandout(o.IO.Out, ex, format == "md"); err != nil {
				return cmdutil.Usage(err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "text or md (Markdown, for a handout)")
	return cmd
}

func newRun(f *cmdutil.Factory, o *Options) *cobra.Command {
	var (
		all, pause, disruptive bool
		output                 string
	)
	cmd := &cobra.Command{
		Use:   "run ID|--all",
		Short: "Run exercises: each step's command echoed, output per node, an expectation checked; cleanup always",
		Long: `Run runs an exercise's steps in order, each until its expectation holds or
its retry window ends, then its cleanup, always: also after a failed step
and on Ctrl-C. Disruptive steps (halting a node) ask first on a terminal,
run without asking with --disruptive, and are skipped otherwise.

With -o json or junit the report goes to stdout (schema_version 1) and the
presenter's view to stderr.`,
		Example: `  cododemo workshop run etcd-replication --pause
  cododemo workshop run --all --disruptive -o junit > workshop.xml`,
		Args: func(cmd *cobra.Command, args []string) error {
			if all == (len(args) == 1) || len(args) > 1 {
				return cmdutil.Usage(errors.New("give one exercise ID or --all"))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := cmdutil.CheckOutput(output, cmdutil.OutputTable, cmdutil.OutputJSON, cmdutil.OutputJUnit)
			if err != nil {
				return err
			}
			var exs []*workshop.Exercise
			if all {
				set, err := o.exercises()
				if err != nil {
					return err
				}
				exs = set.Exercises
			} else {
				ex, err := o.exercise(args[0])
				if err != nil {
					return err
				}
				exs = []*workshop.Exercise{ex}
			}
			t, err := o.target(cmd, f)
			if err != nil {
				return err
			}
			e, done := o.engine(cmd, f, t)
			defer done()
			return o.run(cmd.Context(), e, t, exs, runFlags{all: all, pause: pause, disruptive: disruptive, format: format})
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&all, "all", false, "run every exercise, in order")
	fl.BoolVar(&pause, "pause", false, "wait for Enter before each step (presenting)")
	fl.BoolVar(&disruptive, "disruptive", false, "run disruptive steps (halting nodes) without asking")
	cmdutil.AddOutputFlag(cmd, &output, cmdutil.OutputTable, cmdutil.OutputJSON, cmdutil.OutputJUnit)
	return cmd
}

type runFlags struct {
	all, pause, disruptive bool
	format                 cmdutil.Output
}

func (o *Options) run(ctx context.Context, e *workshop.Engine, t *sshtarget.Nodes, exs []*workshop.Exercise, fl runFlags) error {
	if ctx == nil {
		ctx = context.Background()
	}
	view := o.IO.Out
	if fl.format != cmdutil.OutputTable {
		view = o.IO.ErrOut
	}
	e.Opts.Out = view
	e.Opts.Disruptive = fl.disruptive
	in := bufio.NewReader(o.IO.In)
	interactive := o.IO.ErrTTY && o.IO.In != nil
	if interactive {
		e.Opts.Confirm = func(q string) bool {
			fmt.Fprintf(o.IO.ErrOut, "%s [y/N] ", q)
			line, _ := in.ReadString('\n')
			return strings.EqualFold(strings.TrimSpace(line), "y") || strings.EqualFold(strings.TrimSpace(line), "yes")
		}
	}
	if fl.pause {
		e.Opts.Pause = func(_ *workshop.Exercise, s *workshop.Step) bool {
			fmt.Fprintf(o.IO.ErrOut, "\n[next: %s] Enter to run, q to stop: ", s.Name)
			line, err := in.ReadString('\n')
			return err == nil && strings.TrimSpace(line) != "q"
		}
	}
	rep := &workshop.Report{Started: time.Now()}
	for _, n := range t.Inv.Nodes {
		rep.Nodes = append(rep.Nodes, n.Name)
	}
	for _, ex := range exs {
		if ctx.Err() != nil {
			break
		}
		if fl.all && ex.IsDisruptive() && !fl.disruptive {
			rep.Results = append(rep.Results, &workshop.Result{ID: ex.ID, Source: ex.Source, Title: ex.Title, Status: health.Skip,
				Started: time.Now(), Steps: []workshop.StepResult{{Phase: workshop.PhaseStep, Step: "disruptive", Node: "cluster",
					Status: health.Skip, Message: "disruptive: runs only with --disruptive"}}})
			continue
		}
		rep.Results = append(rep.Results, e.Run(ctx, ex))
	}
	rep.Duration = time.Since(rep.Started)
	var err error
	switch fl.format {
	case cmdutil.OutputJSON:
		err = workshop.WriteJSON(o.IO.Out, rep)
	case cmdutil.OutputJUnit:
		err = workshop.WriteJUnit(o.IO.Out, rep)
	default:
		err = workshop.WriteSummary(o.IO.Out, rep)
	}
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if !rep.Passed() {
		return &cmdutil.SilentError{Code: cmdutil.ExitFailure}
	}
	return nil
}

func newCheck(f *cmdutil.Factory, o *Options) *cobra.Command {
	return &cobra.Command{
		Use:   "check ID",
		Short: "Say how far an exercise got on the cluster: the checkpoint reached and what is missing (changes nothing)",
		Args:  func(cmd *cobra.Command, args []string) error { return cmdutil.Usage(cobra.ExactArgs(1)(cmd, args)) },
		RunE: func(cmd *cobra.Command, args []string) error {
			ex, err := o.exercise(args[0])
			if err != nil {
				return err
			}
			if len(ex.Checkpoints) == 0 {
				return cmdutil.Usage(fmt.Errorf("%s has no checkpoints to check", ex.ID))
			}
			t, err := o.target(cmd, f)
			if err != nil {
				return err
			}
			e, done := o.engine(cmd, f, t)
			defer done()
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			reached, results := e.Check(ctx, ex)
			w := o.IO.Out
			fmt.Fprintf(w, "%s %s: %d of %d checkpoints reached\n", ex.Source, ex.ID, reached, len(ex.Checkpoints))
			for i, cp := range ex.Checkpoints {
				switch {
				case i < reached:
					fmt.Fprintf(w, "  [x] %s\n", cp.Name)
				case i == reached:
					fmt.Fprintf(w, "  [ ] %s: missing: %s\n", cp.Name, strings.ReplaceAll(results[i].Message, "\n", "\n      "))
				default:
					fmt.Fprintf(w, "  [ ] %s\n", cp.Name)
				}
			}
			if reached < len(ex.Checkpoints) {
				fmt.Fprintf(w, "next: `cododemo workshop show %s` has the commands\n", ex.ID)
				return &cmdutil.SilentError{Code: cmdutil.ExitFailure}
			}
			return nil
		},
	}
}

func newReset(f *cmdutil.Factory, o *Options) *cobra.Command {
	return &cobra.Command{
		Use:   "reset ID",
		Short: "Undo an exercise (its units, containers and keys) so it can be done again",
		Args:  func(cmd *cobra.Command, args []string) error { return cmdutil.Usage(cobra.ExactArgs(1)(cmd, args)) },
		RunE: func(cmd *cobra.Command, args []string) error {
			ex, err := o.exercise(args[0])
			if err != nil {
				return err
			}
			t, err := o.target(cmd, f)
			if err != nil {
				return err
			}
			e, done := o.engine(cmd, f, t)
			defer done()
			e.Opts.Out = o.IO.ErrOut
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			failed := false
			for _, sr := range e.Reset(ctx, ex) {
				if sr.Status == health.Fail {
					failed = true
				}
			}
			if failed {
				fmt.Fprintf(o.IO.Out, "%s: cleanup incomplete (see above)\n", ex.ID)
				return &cmdutil.SilentError{Code: cmdutil.ExitFailure}
			}
			fmt.Fprintf(o.IO.Out, "%s: reset\n", ex.ID)
			return nil
		},
	}
}

func newLoadKit(f *cmdutil.Factory, o *Options) *cobra.Command {
	var sum string
	cmd := &cobra.Command{
		Use:   "load-kit [FILE|DIR]",
		Short: "docker-load the workshop's image kit on every node, over SSH (no registry, no internet)",
		Long: `load-kit streams the kit tarball (scripts/build-kit.sh makes one per
architecture) over each node's SSH connection into docker load, then checks
every image of the kit is there. Given a directory, each node gets the
tarball of its own architecture, checked against SHA256SUMS when present.
With no argument it loads the kit the lab's lock pins (kit.enabled), from
the cache, by its sha256: what cododemo-kit.service loaded at first boot,
put back after an image was removed.`,
		Example: `  cododemo workshop load-kit
  cododemo workshop load-kit dist/kit
  cododemo workshop load-kit cododemo-kit-amd64.tar --sha256 edb0f965...`,
		Args: func(cmd *cobra.Command, args []string) error { return cmdutil.Usage(cobra.MaximumNArgs(1)(cmd, args)) },
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := o.target(cmd, f)
			if err != nil {
				return err
			}
			var path string
			if len(args) == 1 {
				path = args[0]
				if !filepath.IsAbs(path) {
					path = filepath.Join(f.WorkDir, path)
				}
			} else {
				if path, sum, err = lockedKit(f, t); err != nil {
					return err
				}
			}
			e, done := o.engine(cmd, f, t)
			defer done()
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			failed := false
			for _, sr := range e.LoadKit(ctx, workshop.KitSource{Path: path, SHA256: sum}) {
				status := "ok  "
				if sr.Status != health.Pass {
					status, failed = "FAIL", true
				}
				fmt.Fprintf(o.IO.Out, "%s %s\n", status, sr.Message)
			}
			if failed {
				return &cmdutil.SilentError{Code: cmdutil.ExitFailure}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&sum, "sha256", "", "the tarball's expected sha256 (for a single FILE)")
	return cmd
}

// lockedKit is the kit the lab's lock pins, in the cache: its file and
// sha256.
func lockedKit(f *cmdutil.Factory, t *sshtarget.Nodes) (string, string, error) {
	if t.Lab == nil {
		return "", "", cmdutil.Usage(errors.New("load-kit: name the kit (FILE or DIR): with --inventory there is no lab whose lock pins one"))
	}
	lock := t.Lab.Lock
	if lock == nil || lock.Artifacts[artifacts.KitName].SHA256 == "" {
		return "", "", errors.New("load-kit: the lab's lock pins no image kit (set kit.enabled: true and run `cododemo lock`), or name the kit (FILE or DIR)")
	}
	dir, err := cache.DefaultDir(f.Getenv)
	if err != nil {
		return "", "", err
	}
	path, err := image.ArtifactPath(cache.Open(dir), lock, artifacts.KitName)
	if err != nil {
		return "", "", fmt.Errorf("load-kit: %w", err)
	}
	return path, lock.Artifacts[artifacts.KitName].SHA256, nil
}
