package workshop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cododemo/cododemo/pkg/fleettrust"
	"github.com/cododemo/cododemo/pkg/health"
	"github.com/cododemo/cododemo/pkg/sshx"
)

// Lab halts and starts nodes (cododemo halt|up NODE); nil when the
// cluster is not a cododemo lab, and lab steps then fail saying so.
type Lab interface {
	Halt(ctx context.Context, node string) error
	Up(ctx context.Context, node string) error
}

// streamer is a session that can stream output as it comes (sshx.Client).
type streamer interface {
	Stream(ctx context.Context, cmd string, stdin io.Reader, stdout, stderr io.Writer) (int, error)
}

// Options tune a run.
type Options struct {
	// Out receives the presenter's view: commands echoed, output with node
	// prefixes, each step's outcome. nil runs quietly.
	Out io.Writer
	// Pause is called before each step; false stops the exercise (cleanup
	// still runs). nil does not pause.
	Pause func(ex *Exercise, s *Step) bool
	// Disruptive runs halt/up steps without asking.
	Disruptive bool
	// Confirm asks before a disruptive step when Disruptive is off; nil
	// (no terminal) skips the rest of a disruptive exercise.
	Confirm func(question string) bool
	// Timeout bounds each command (default 30s).
	Timeout time.Duration
	// Poll is the default pause between tries (default 1s).
	Poll time.Duration
	// CleanupTimeout bounds the cleanup (default 3m); it runs even after
	// the run's context was cancelled.
	CleanupTimeout time.Duration
	Now            func() time.Time
	HTTP           *http.Client
}

// Engine runs exercises on a cluster.
type Engine struct {
	Cluster *Cluster
	Conn    health.Connector
	// AgentConn dials the nodes for agent steps: connections that
	// forward an agent holding the lab's key (sshx.Config.ForwardAgent).
	// nil: agent steps fail saying so.
	AgentConn health.Connector
	// HostKeys are the pinned host keys an agent step gives fleetctl on
	// its node (pkg/fleettrust). nil (host keys not checked): agent
	// steps fail saying so.
	HostKeys *sshx.KnownHosts
	Lab      Lab
	Opts     Options

	mu       sync.Mutex
	sessions map[string]health.Session
	// trusted are the nodes whose fleetctl was given the pinned keys.
	trusted map[string]bool
	outMu   sync.Mutex
}

func (e *Engine) defaults() {
	if e.Opts.Timeout <= 0 {
		e.Opts.Timeout = 30 * time.Second
	}
	if e.Opts.Poll <= 0 {
		e.Opts.Poll = time.Second
	}
	if e.Opts.CleanupTimeout <= 0 {
		e.Opts.CleanupTimeout = 3 * time.Minute
	}
	if e.Opts.Now == nil {
		e.Opts.Now = time.Now
	}
	if e.Opts.HTTP == nil {
		e.Opts.HTTP = &http.Client{Timeout: 5 * time.Second}
	}
	if e.sessions == nil {
		e.sessions = map[string]health.Session{}
	}
	if e.trusted == nil {
		e.trusted = map[string]bool{}
	}
}

// Close closes the sessions the engine opened.
func (e *Engine) Close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for name, s := range e.sessions {
		if c, ok := s.(io.Closer); ok {
			_ = c.Close()
		}
		delete(e.sessions, name)
	}
}

// agentKey is the sessions key of a node's agent-forwarding connection.
func agentKey(name string) string { return name + " (agent)" }

// session returns the node's connection; with agent, the one that
// forwards the lab-key agent, kept apart so that only agent steps' sessions
// have an agent on the node.
func (e *Engine) session(ctx context.Context, name string, agent bool) (health.Session, error) {
	key, conn := name, e.Conn
	if agent {
		key, conn = agentKey(name), e.AgentConn
		if conn == nil {
			return nil, errors.New("this step needs an SSH agent forwarded to the node, and this run has none")
		}
	}
	e.mu.Lock()
	s, ok := e.sessions[key]
	e.mu.Unlock()
	if ok {
		return s, nil
	}
	n, ok := e.Cluster.Inv.Node(name)
	if !ok {
		return nil, fmt.Errorf("no node %q in the inventory", name)
	}
	cctx, cancel := context.WithTimeout(ctx, e.Opts.Timeout)
	defer cancel()
	s, err := conn.Connect(cctx, n)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.sessions[key] = s
	e.mu.Unlock()
	return s, nil
}

// drop forgets a node's sessions after a transport error or a halt, so
// the next use dials again.
func (e *Engine) drop(name string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, key := range []string{name, agentKey(name)} {
		if s, ok := e.sessions[key]; ok {
			if c, ok := s.(io.Closer); ok {
				_ = c.Close()
			}
			delete(e.sessions, key)
		}
	}
	delete(e.trusted, name)
}

// trustFleet writes fleetctl's known_hosts on node (pkg/fleettrust), once
// per run and node, before an agent step there: fleetctl journal of a
// unit elsewhere checks that machine's host key against it. A node not
// pinned yet is contacted first, so its key is pinned here (on first
// contact) before it is handed on.
func (e *Engine) trustFleet(ctx context.Context, node string) error {
	e.mu.Lock()
	done := e.trusted[node]
	e.mu.Unlock()
	if done {
		return nil
	}
	if e.HostKeys == nil {
		return errors.New("fleetctl on the node needs the lab's pinned host keys, and host keys are not checked in this run")
	}
	for _, n := range e.Cluster.Inv.Nodes {
		if keys, _ := e.HostKeys.Pinned(n.SSH.Addr()); len(keys) == 0 {
			// A node that does not answer stays unpinned and is named below.
			_, _ = e.session(ctx, n.Name, false)
		}
	}
	cmd, missing, err := fleettrust.Command(e.Cluster.Inv, e.HostKeys)
	if err != nil {
		return fmt.Errorf("fleetctl's known_hosts for %s: %w", node, err)
	}
	if len(missing) > 0 {
		e.printf("   note: no pinned host key for %s: fleetctl on %s will not log in there\n", strings.Join(missing, ", "), node)
	}
	cctx, cancel := context.WithTimeout(ctx, e.Opts.Timeout)
	defer cancel()
	o := e.remote(cctx, node, cmd, false, false)
	if o.err == nil && o.exit != 0 {
		o.err = fmt.Errorf("exit %d%s", o.exit, stderrNote(o))
	}
	if o.err != nil {
		return fmt.Errorf("write fleetctl's known_hosts (%s) on %s: %w", fleettrust.File, node, o.err)
	}
	e.mu.Lock()
	e.trusted[node] = true
	e.mu.Unlock()
	return nil
}

func (e *Engine) printf(format string, args ...any) {
	if e.Opts.Out == nil {
		return
	}
	e.outMu.Lock()
	defer e.outMu.Unlock()
	fmt.Fprintf(e.Opts.Out, format, args...)
}

// output is one node's (or one request's) answer.
type output struct {
	node   string // "" for the host
	lines  []string
	raw    string
	stderr string
	exit   int
	err    error
}

// Phases of a step result.
const (
	PhaseStep       = "step"
	PhaseCheckpoint = "checkpoint"
	PhaseCleanup    = "cleanup"
	PhaseProbe      = "probe"
)

// StepResult is one step's verdict.
type StepResult struct {
	Phase    string
	Step     string
	Node     string // the node(s) it ran on, "host" for requests from the host
	Status   health.Status
	Duration time.Duration
	Tries    int
	Message  string
	Hint     string
}

// Result is one exercise's outcome.
type Result struct {
	ID, Source, Title string
	Status            health.Status
	Started           time.Time
	Duration          time.Duration
	Steps             []StepResult
}

func (r *Result) add(s StepResult) {
	r.Steps = append(r.Steps, s)
}

// finish sets the exercise status from its steps: any failure fails it;
// otherwise a skipped step (a declined disruptive step, a presenter's
// stop, unmet needs) makes it a skip, since part of it never ran.
func (r *Result) finish() {
	r.Status = health.Pass
	for _, s := range r.Steps {
		switch s.Status {
		case health.Fail:
			r.Status = health.Fail
			return
		case health.Skip:
			if s.Phase != PhaseCleanup && s.Phase != PhaseProbe {
				r.Status = health.Skip
			}
		}
	}
}

// Unmet says which of the exercise's needs the cluster does not run.
func (e *Engine) Unmet(ex *Exercise) []string {
	var out []string
	for _, n := range ex.Needs {
		if !e.Cluster.Inv.Uses(n) {
			out = append(out, n)
		}
	}
	return out
}

// Run runs one exercise: its steps until one fails, then its cleanup,
// always (also when ctx is cancelled: the cleanup gets a context of its
// own, bounded by CleanupTimeout).
func (e *Engine) Run(ctx context.Context, ex *Exercise) *Result {
	e.defaults()
	res := &Result{ID: ex.ID, Source: ex.Source, Title: ex.Title, Started: e.Opts.Now()}
	defer func() { res.Duration = e.Opts.Now().Sub(res.Started) }()
	e.printf("\n== %s %s: %s\n", ex.Source, ex.ID, ex.Title)
	if unmet := e.Unmet(ex); len(unmet) > 0 {
		res.add(StepResult{Phase: PhaseStep, Step: "needs", Node: "cluster", Status: health.Skip,
			Message: "the cluster does not run " + strings.Join(unmet, ", ") + " (the inventory's services)"})
		res.finish()
		return res
	}
	st := newState()
	var probe *prober
	defer func() {
		if probe != nil {
			res.add(probe.stop())
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.Opts.CleanupTimeout)
		defer cancel()
		res.Steps = append(res.Steps, e.cleanup(cctx, ex, st)...)
		res.finish()
	}()
	if ex.Probe != nil && ex.Probe.After == "" {
		probe = e.startProbe(ctx, ex, st)
	}
	for i := range ex.Steps {
		s := &ex.Steps[i]
		if ctx.Err() != nil {
			res.add(StepResult{Phase: PhaseStep, Step: s.Name, Status: health.Fail, Message: "interrupted before this step"})
			return res
		}
		if e.Opts.Pause != nil && !e.Opts.Pause(ex, s) {
			res.add(StepResult{Phase: PhaseStep, Step: s.Name, Status: health.Skip, Message: "stopped by the presenter"})
			return res
		}
		if (s.Lab != "" || s.Disruptive) && !e.Opts.Disruptive {
			q := fmt.Sprintf("step %q is disruptive (%s %s). Run it?", s.Name, orDefault(s.Lab, "changes"), orDefault(s.On, "the cluster"))
			if e.Opts.Confirm == nil || !e.Opts.Confirm(q) {
				res.add(StepResult{Phase: PhaseStep, Step: s.Name, Status: health.Skip,
					Message: "disruptive step not run (pass --disruptive to run it without asking)"})
				return res
			}
		}
		sr := e.step(ctx, ex, st, s, PhaseStep)
		res.add(sr)
		if sr.Status == health.Fail {
			return res
		}
		if ex.Probe != nil && ex.Probe.After == s.Name {
			probe = e.startProbe(ctx, ex, st)
		}
	}
	return res
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Check runs the checkpoints once each, read-only, in order, until the
// first that does not hold. reached is how many held.
func (e *Engine) Check(ctx context.Context, ex *Exercise) (reached int, results []StepResult) {
	e.defaults()
	st := newState()
	for i := range ex.Checkpoints {
		cp := ex.Checkpoints[i]
		cp.Retry = 0 // where is the attendee now, not eventually
		sr := e.step(ctx, ex, st, &cp, PhaseCheckpoint)
		results = append(results, sr)
		if sr.Status != health.Pass {
			return reached, results
		}
		reached++
	}
	return reached, results
}

// Reset runs the exercise's cleanup.
func (e *Engine) Reset(ctx context.Context, ex *Exercise) []StepResult {
	e.defaults()
	return e.cleanup(ctx, ex, newState())
}

func (e *Engine) cleanup(ctx context.Context, ex *Exercise, st *state) []StepResult {
	var out []StepResult
	if len(ex.Cleanup) > 0 {
		e.printf("-- cleanup\n")
	}
	for i := range ex.Cleanup {
		s := ex.Cleanup[i]
		sr := e.step(ctx, ex, st, &s, PhaseCleanup)
		out = append(out, sr)
	}
	return out
}

// step runs s until its expectation holds or its retry window ends.
func (e *Engine) step(ctx context.Context, ex *Exercise, st *state, s *Step, phase string) StepResult {
	t0 := e.Opts.Now()
	sr := StepResult{Phase: phase, Step: s.Name}
	if phase != PhaseCleanup || e.Opts.Out != nil {
		e.printf("-- %s", s.Name)
		if s.On != "" {
			e.printf(" (%s)", s.On)
		}
		e.printf("\n")
		if s.Say != "" && phase == PhaseStep {
			e.printf("   %s\n", strings.ReplaceAll(strings.TrimSpace(s.Say), "\n", "\n   "))
		}
	}
	every := s.Every
	if every <= 0 {
		every = e.Opts.Poll
	}
	deadline := t0.Add(s.Retry)
	var msg string
	var nodes []string
	for try := 1; ; try++ {
		sr.Tries = try
		var outs []output
		var err error
		outs, nodes, err = e.attempt(ctx, ex, st, s, phase, try == 1)
		ok := false
		switch {
		case errors.Is(err, errNothingToUndo):
			sr.Status, msg = health.Skip, "nothing to undo: no earlier step named "+s.On
		case err != nil:
			msg = err.Error()
		default:
			ok, msg = e.evaluate(ex, st, s, phase, outs)
		}
		if sr.Status == health.Skip {
			break
		}
		if ok {
			sr.Status = health.Pass
			if try > 1 {
				e.show(outs)
			}
			if s.Capture != "" && len(outs) > 0 {
				st.vars[s.Capture] = strings.TrimSpace(outs[0].raw)
			}
			if s.As != "" {
				var named []Node
				for _, n := range nodes {
					if m, ok := e.Cluster.byName(n); ok {
						named = append(named, m)
					}
				}
				st.named[s.As] = named
			}
			break
		}
		if ctx.Err() != nil || !e.Opts.Now().Add(every).Before(deadline) {
			if try > 1 {
				e.show(outs)
			}
			sr.Status = health.Fail
			break
		}
		if try == 1 {
			e.printf("   not yet (%s); trying again for up to %s\n", firstLine(msg), s.Retry.Round(time.Second))
		}
		select {
		case <-ctx.Done():
		case <-time.After(every):
		}
	}
	sr.Duration = e.Opts.Now().Sub(t0)
	sr.Node = strings.Join(nodes, ",")
	if sr.Node == "" {
		sr.Node = "host"
	}
	sr.Message = msg
	if sr.Status == health.Fail {
		if ctx.Err() != nil {
			sr.Message = "interrupted: " + msg
		}
		if phase == PhaseCleanup {
			sr.Hint = "cleanup could not finish: run `cododemo workshop reset " + ex.ID + "` once the cluster is whole"
		} else if slices.Contains(ex.Needs, NeedEtcd) {
			sr.Hint = e.diagnoseEtcd(context.WithoutCancel(ctx))
		}
		e.printf("   FAIL: %s\n", sr.Message)
		if sr.Hint != "" {
			e.printf("   hint: %s\n", sr.Hint)
		}
	} else if sr.Status == health.Skip {
		e.printf("   skipped: %s\n", firstLine(msg))
	} else {
		e.printf("   ok: %s\n", strings.ReplaceAll(msg, "\n", "\n       "))
	}
	return sr
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// show prints outputs with node prefixes.
func (e *Engine) show(outs []output) {
	for _, o := range outs {
		label := orDefault(o.node, "host")
		for _, l := range strings.Split(strings.TrimRight(o.raw, "\n"), "\n") {
			if l != "" {
				e.printf("%s | %s\n", label, l)
			}
		}
	}
}

// attempt runs a step once on its nodes.
func (e *Engine) attempt(ctx context.Context, ex *Exercise, st *state, s *Step, phase string, echo bool) ([]output, []string, error) {
	nodes, err := e.targets(ctx, st, s.On, phase)
	if err != nil {
		return nil, nil, err
	}
	if nodes == nil && phase == PhaseCleanup && strings.HasPrefix(s.On, "@") {
		return nil, nil, errNothingToUndo
	}
	var names []string
	for _, n := range nodes {
		names = append(names, n.Name)
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = e.Opts.Timeout
	}
	switch {
	case s.Lab != "":
		if len(nodes) != 1 {
			return nil, names, fmt.Errorf("lab %s: want one node, %q names %d", s.Lab, s.On, len(nodes))
		}
		if e.Lab == nil {
			return nil, names, fmt.Errorf("lab %s %s: this cluster is not a cododemo lab (halt and up need `cododemo up`'s Vagrant lab)", s.Lab, nodes[0].Name)
		}
		e.printf("$ cododemo %s %s\n", s.Lab, nodes[0].Name)
		e.drop(nodes[0].Name)
		cctx, cancel := context.WithTimeout(ctx, maxStepTime)
		defer cancel()
		if s.Lab == "halt" {
			err = e.Lab.Halt(cctx, nodes[0].Name)
		} else {
			err = e.Lab.Up(cctx, nodes[0].Name)
		}
		e.drop(nodes[0].Name)
		if err != nil {
			return nil, names, fmt.Errorf("cododemo %s %s: %w", s.Lab, nodes[0].Name, err)
		}
		return []output{{node: nodes[0].Name, raw: s.Lab + " " + nodes[0].Name + " done", lines: []string{s.Lab + " " + nodes[0].Name + " done"}}}, names, nil
	case s.HTTP != nil:
		if len(nodes) == 0 {
			nodes = []Node{{}}
		}
		var outs []output
		for _, n := range nodes {
			url, err := e.Cluster.render(ex, st, n, s.HTTP.URL)
			if err != nil {
				return nil, names, err
			}
			o := e.request(ctx, s.HTTP, url, echo)
			o.node = n.Name
			outs = append(outs, o)
		}
		return outs, names, nil
	}
	if len(nodes) == 0 {
		// A node command with no node given runs on the first node.
		nodes = e.Cluster.Nodes[:1]
		names = []string{nodes[0].Name}
	}
	outs := make([]output, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		cmd, post, err := e.command(ex, st, s, n)
		if err != nil {
			return nil, names, err
		}
		if echo {
			e.printf("$ [%s] %s\n", n.Name, indentCont(cmd))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			if s.Agent {
				if err := e.trustFleet(cctx, n.Name); err != nil {
					outs[i] = output{node: n.Name, err: fmt.Errorf("%s: %w", n.Name, err)}
					return
				}
			}
			outs[i] = e.remote(cctx, n.Name, cmd, echo && len(nodes) == 1, s.Agent)
			if outs[i].err == nil && post != nil {
				var parsed bool
				outs[i].lines, outs[i].raw, parsed = post(outs[i].raw)
				if parsed {
					// etcdctl exits 1 when one member is unhealthy, yet
					// printed every member's state: the lines decide.
					outs[i].exit = 0
				}
			}
			if echo && len(nodes) > 1 {
				e.show(outs[i : i+1])
			}
		}()
	}
	wg.Wait()
	return outs, names, nil
}

func indentCont(cmd string) string {
	return strings.ReplaceAll(strings.TrimRight(cmd, "\n"), "\n", "\n  ")
}

// remote runs cmd on node, streaming its output when live is set; with
// agent, on the connection that forwards the lab-key agent.
func (e *Engine) remote(ctx context.Context, node, cmd string, live, agent bool) output {
	o := output{node: node}
	sess, err := e.session(ctx, node, agent)
	if err != nil {
		o.err = fmt.Errorf("%s: cannot log in: %w", node, err)
		return o
	}
	var res sshx.Result
	if sm, ok := sess.(streamer); ok && live && e.Opts.Out != nil {
		var stdout, stderr strings.Builder
		pw := &prefixWriter{e: e, label: node}
		code, err := sm.Stream(ctx, cmd, nil, io.MultiWriter(&stdout, pw), io.MultiWriter(&stderr, &prefixWriter{e: e, label: node}))
		pw.flush()
		res = sshx.Result{Stdout: []byte(stdout.String()), Stderr: []byte(stderr.String()), ExitStatus: code}
		if err != nil {
			o.err = err
		}
	} else {
		res, o.err = sess.Run(ctx, cmd)
	}
	if o.err != nil {
		e.drop(node)
		if ctx.Err() != nil {
			o.err = fmt.Errorf("%s: no answer in time: %w", node, o.err)
		} else {
			o.err = fmt.Errorf("%s: %w", node, o.err)
		}
		return o
	}
	o.raw, o.stderr, o.exit = string(res.Stdout), string(res.Stderr), res.ExitStatus
	o.lines = lines(o.raw)
	return o
}

// prefixWriter writes complete lines with a node prefix.
type prefixWriter struct {
	e     *Engine
	label string
	mu    sync.Mutex
	buf   []byte
}

func (w *prefixWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := strings.IndexByte(string(w.buf), '\n')
		if i < 0 {
			break
		}
		w.e.printf("%s | %s\n", w.label, w.buf[:i])
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

func (w *prefixWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.e.printf("%s | %s\n", w.label, w.buf)
		w.buf = nil
	}
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// request makes an HTTP step's request(s) from the host.
func (e *Engine) request(ctx context.Context, h *HTTPStep, url string, echo bool) output {
	method := orDefault(h.Method, http.MethodGet)
	times := max(h.Times, 1)
	if echo {
		if times > 1 {
			e.printf("$ for i in $(seq %d); do curl -s %s; done\n", times, url)
		} else {
			e.printf("$ curl -s %s\n", url)
		}
	}
	want := h.Status
	if want == 0 {
		want = http.StatusOK
	}
	var o output
	var b strings.Builder
	for range times {
		req, err := http.NewRequestWithContext(ctx, method, url, nil)
		if err != nil {
			o.err = err
			return o
		}
		resp, err := e.Opts.HTTP.Do(req)
		if err != nil {
			o.err = fmt.Errorf("%s %s: %w", method, url, err)
			return o
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if resp.StatusCode != want {
			o.err = fmt.Errorf("%s %s: HTTP %d, want %d: %s", method, url, resp.StatusCode, want, firstLine(string(body)))
			return o
		}
		line := strings.TrimSpace(string(body))
		b.WriteString(line + "\n")
		o.lines = append(o.lines, line)
	}
	o.raw = b.String()
	if echo {
		for _, l := range o.lines {
			e.printf("host | %s\n", l)
		}
	}
	return o
}

// postFunc turns a command's raw output into the lines an expectation
// sees; parsed says the output was read whatever the exit status.
type postFunc func(raw string) (lines []string, text string, parsed bool)

const etcdctl = "etcdctl --dial-timeout=2s --command-timeout=4s"

// errNothingToUndo is a cleanup step whose node was never named.
var errNothingToUndo = errors.New("nothing to undo")

// cmdFleetUnitsMachines lists units with where they run.
const cmdFleetUnitsMachines = "fleetctl list-units --no-legend --full --fields=unit,active,machine"

// command is the shell command a node step runs.
func (e *Engine) command(ex *Exercise, st *state, s *Step, n Node) (string, postFunc, error) {
	switch {
	case s.Run != "":
		cmd, err := e.Cluster.render(ex, st, n, s.Run)
		return cmd, nil, err
	case s.Etcd != nil:
		at := func(cmd string) string { return health.AtEndpoints(e.Cluster.Inv.EtcdClientURLs(), cmd) }
		switch {
		case s.Etcd.Get != "":
			key, err := e.Cluster.render(ex, st, n, s.Etcd.Get)
			return at(etcdctl + " get --print-value-only " + shellQuote(key)), nil, err
		case s.Etcd.Prefix != "":
			p, err := e.Cluster.render(ex, st, n, s.Etcd.Prefix)
			return at(etcdctl + " get --prefix --print-value-only " + shellQuote(p)), nil, err
		case s.Etcd.Leader:
			return at(etcdctl + " endpoint status -w json"), e.leaders, nil
		case s.Etcd.Health:
			return at(etcdctl + " endpoint health -w json"), e.healthy, nil
		}
	case s.Fleet != nil:
		if s.Fleet.Machines {
			return health.CmdFleetMachines, e.machines, nil
		}
		glob := s.Fleet.Units
		return cmdFleetUnitsMachines, func(raw string) ([]string, string, bool) { return e.units(raw, glob) }, nil
	}
	return "", nil, errors.New("nothing to run")
}

// leaders: one line per answering member, the leader's node name.
func (e *Engine) leaders(raw string) ([]string, string, bool) {
	sts, err := health.ParseEndpointStatus([]byte(raw))
	if err != nil {
		return nil, raw, false
	}
	byID := e.memberIDs(sts)
	var out []string
	for _, s := range sts {
		name := byID[s.Status.Leader]
		if name == "" {
			name = strconv.FormatUint(s.Status.Leader, 16)
		}
		out = append(out, name)
	}
	return out, strings.Join(out, "\n") + "\n", true
}

func (e *Engine) memberIDs(sts []health.EndpointStatus) map[uint64]string {
	byID := map[uint64]string{}
	for _, s := range sts {
		if n, ok := e.nodeForURL(s.Endpoint); ok {
			byID[s.Status.Header.MemberID] = n
		}
	}
	return byID
}

func (e *Engine) nodeForURL(url string) (string, bool) {
	for _, n := range e.Cluster.Nodes {
		if n.EtcdURL == url {
			return n.Name, true
		}
	}
	return "", false
}

// healthy: one line per healthy member, its node name.
func (e *Engine) healthy(raw string) ([]string, string, bool) {
	hs, err := health.ParseEndpointHealth([]byte(raw))
	if err != nil {
		return nil, raw, false
	}
	var out []string
	for _, h := range hs {
		if h.Health {
			name, ok := e.nodeForURL(h.Endpoint)
			if !ok {
				name = h.Endpoint
			}
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out, strings.Join(out, "\n") + "\n", true
}

// machines: one line per fleet machine, its node name.
func (e *Engine) machines(raw string) ([]string, string, bool) {
	ms, err := health.ParseFleetMachines([]byte(raw))
	if err != nil {
		return nil, raw, false
	}
	var out []string
	for _, m := range ms {
		name := m.IP
		if n, ok := e.Cluster.byAddress(m.IP); ok {
			name = n.Name
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return out, strings.Join(out, "\n") + "\n", false // fleetctl's exit status stands
}

// units: "unit active-state node" for units matching glob.
func (e *Engine) units(raw, glob string) ([]string, string, bool) {
	var out []string
	for _, u := range parseUnitMachines(raw) {
		if ok, _ := path.Match(glob, u.unit); !ok {
			continue
		}
		node := u.ip
		if n, ok := e.Cluster.byAddress(u.ip); ok {
			node = n.Name
		}
		out = append(out, u.unit+" "+u.active+" "+node)
	}
	return out, strings.Join(out, "\n") + "\n", false
}

type unitMachine struct{ unit, active, ip string }

// parseUnitMachines reads `fleetctl list-units --fields=unit,active,machine`:
// the machine column is "<id>/<ip>", or "-" while unscheduled.
func parseUnitMachines(raw string) []unitMachine {
	var out []unitMachine
	for _, l := range lines(raw) {
		f := strings.Fields(l)
		if len(f) < 3 {
			continue
		}
		ip := f[2]
		if _, after, ok := strings.Cut(ip, "/"); ok {
			ip = after
		}
		out = append(out, unitMachine{f[0], f[1], ip})
	}
	return out
}

// targets resolves `on:` to nodes; nil means the host.
func (e *Engine) targets(ctx context.Context, st *state, on, phase string) ([]Node, error) {
	t, err := parseTarget(on)
	if err != nil {
		return nil, err
	}
	c := e.Cluster
	switch t.kind {
	case "host":
		return nil, nil
	case "all":
		return slices.Clone(c.Nodes), nil
	case "index":
		if t.index > len(c.Nodes) {
			return nil, fmt.Errorf("node %d: the cluster has %d nodes", t.index, len(c.Nodes))
		}
		return []Node{c.Nodes[t.index-1]}, nil
	case "name":
		n, ok := c.byName(t.name)
		if !ok {
			return nil, fmt.Errorf("no node %q in the inventory", t.name)
		}
		return []Node{n}, nil
	case "named":
		ns, ok := st.named[t.name]
		if !ok || len(ns) == 0 {
			if phase == PhaseCleanup {
				return nil, nil // the step that would have named it never ran
			}
			return nil, fmt.Errorf("@%s: no earlier step named nodes with as: %s", t.name, t.name)
		}
		return ns, nil
	}
	// unit: ask fleet, from the first node that answers.
	var lastErr error
	for _, n := range c.Nodes {
		cctx, cancel := context.WithTimeout(ctx, e.Opts.Timeout)
		o := e.remote(cctx, n.Name, cmdFleetUnitsMachines, false, false)
		cancel()
		if o.err != nil || o.exit != 0 {
			lastErr = o.err
			if lastErr == nil {
				lastErr = fmt.Errorf("%s: fleetctl list-units: exit %d: %s", n.Name, o.exit, firstLine(o.stderr))
			}
			continue
		}
		runs := map[string][]string{} // node ip -> active units
		for _, u := range parseUnitMachines(o.raw) {
			if u.active == "active" {
				runs[u.ip] = append(runs[u.ip], u.unit)
			}
		}
		matches := func(us []string, glob string) bool {
			return slices.ContainsFunc(us, func(u string) bool { ok, _ := path.Match(glob, u); return ok })
		}
		if t.kind == "notunit" {
			for _, m := range c.Nodes {
				if !matches(runs[m.IP], t.glob) {
					return []Node{m}, nil
				}
			}
			return nil, fmt.Errorf("every node runs an active %s (per fleetctl on %s)", t.glob, n.Name)
		}
		for _, m := range c.Nodes {
			us := runs[m.IP]
			if !slices.ContainsFunc(us, func(u string) bool { ok, _ := path.Match(t.glob, u); return ok }) {
				continue
			}
			if slices.ContainsFunc(us, func(u string) bool {
				return slices.ContainsFunc(t.not, func(g string) bool { ok, _ := path.Match(g, u); return ok })
			}) {
				continue
			}
			return []Node{m}, nil
		}
		return nil, fmt.Errorf("no node runs an active %s (per fleetctl on %s)", t.glob, n.Name)
	}
	return nil, fmt.Errorf("unit %s: no node answered fleetctl: %v", t.glob, lastErr)
}

// diagnoseEtcd names the etcd members that are not healthy, asked from
// the first node that answers, at every member's endpoint.
func (e *Engine) diagnoseEtcd(ctx context.Context) string {
	cmd := health.AtEndpoints(e.Cluster.Inv.EtcdClientURLs(), etcdctl+" endpoint health -w json")
	for _, n := range e.Cluster.Nodes {
		cctx, cancel := context.WithTimeout(ctx, e.Opts.Timeout)
		o := e.remote(cctx, n.Name, cmd, false, false)
		cancel()
		if o.err != nil {
			continue
		}
		hs, err := health.ParseEndpointHealth([]byte(o.raw))
		if err != nil {
			continue
		}
		var bad []string
		for _, h := range hs {
			if !h.Health {
				name, _ := e.nodeForURL(h.Endpoint)
				bad = append(bad, fmt.Sprintf("%s (%s): %s", orDefault(name, "?"), h.Endpoint, orDefault(firstLine(h.Error), "unhealthy")))
			}
		}
		if len(bad) == 0 {
			return ""
		}
		return "etcd member(s) down: " + strings.Join(bad, "; ") + " (`cododemo verify` says more)"
	}
	return "no node answered over SSH to ask etcd"
}

// evaluate checks a step's outputs against its expectation, its text
// fields filled in from the cluster and the run's state first.
func (e *Engine) evaluate(ex *Exercise, st *state, s *Step, phase string, outs []output) (bool, string) {
	x := Expect{}
	if s.Expect != nil {
		x = *s.Expect
	}
	for _, f := range []*string{&x.Regexp, &x.Absent, &x.Contains, &x.Select} {
		v, err := e.Cluster.render(ex, st, Node{}, *f)
		if err != nil {
			return false, "expect: " + err.Error()
		}
		*f = v
	}
	if x.Exact != nil {
		v, err := e.Cluster.render(ex, st, Node{}, *x.Exact)
		if err != nil {
			return false, "expect: " + err.Error()
		}
		x.Exact = &v
	}
	compile := func(expr string) (*regexp.Regexp, error) {
		if expr == "" {
			return nil, nil
		}
		return regexp.Compile(expr)
	}
	sel, err1 := compile(x.Select)
	re, err2 := compile(x.Regexp)
	absent, err3 := compile(x.Absent)
	if err := errors.Join(err1, err2, err3); err != nil {
		return false, "expect: " + err.Error()
	}
	perNode := map[string]bool{}
	var summary []string
	var all []string
	for _, o := range outs {
		label := orDefault(o.node, "host")
		if o.err != nil {
			return false, o.err.Error()
		}
		wantExit := 0
		if x.Exit != nil {
			wantExit = *x.Exit
		}
		ignoreExit := phase == PhaseCleanup && s.Expect == nil
		if !ignoreExit && o.exit != wantExit {
			return false, fmt.Sprintf("%s: exit status %d, want %d%s", label, o.exit, wantExit, stderrNote(o))
		}
		ls := o.lines
		if sel != nil {
			var kept []string
			for _, l := range ls {
				if m := sel.FindStringSubmatch(l); m != nil {
					if len(m) > 1 {
						kept = append(kept, m[1])
					} else {
						kept = append(kept, l)
					}
				}
			}
			ls = kept
		}
		text := strings.Join(ls, "\n")
		if x.Exact != nil && text != strings.TrimSpace(*x.Exact) {
			return false, fmt.Sprintf("%s: want %q, got %q%s", label, strings.TrimSpace(*x.Exact), text, stderrNote(o))
		}
		if x.Contains != "" && !strings.Contains(text, x.Contains) {
			return false, fmt.Sprintf("%s: want output containing %q, got %q%s", label, x.Contains, clip(text), stderrNote(o))
		}
		if re != nil && !re.MatchString(text) {
			return false, fmt.Sprintf("%s: want output matching %q, got %q%s", label, x.Regexp, clip(text), stderrNote(o))
		}
		if absent != nil && absent.MatchString(text) {
			return false, fmt.Sprintf("%s: output matches %q, which must not be there: %q", label, x.Absent, clip(text))
		}
		if x.Count != nil && !countOK(len(ls), *x.Count, x.AtLeast) {
			return false, fmt.Sprintf("%s: %d lines, want %s%d: %q", label, len(ls), atLeastWord(x.AtLeast), *x.Count, clip(text))
		}
		if x.CountNodes && len(ls) != len(e.Cluster.Nodes) {
			return false, fmt.Sprintf("%s: %d lines, want one per node (%d): %q", label, len(ls), len(e.Cluster.Nodes), clip(text))
		}
		if x.EveryNode {
			var want []string
			for _, n := range e.Cluster.Nodes {
				want = append(want, n.Name)
			}
			got := slices.Sorted(slices.Values(ls))
			slices.Sort(want)
			if !slices.Equal(got, want) {
				return false, fmt.Sprintf("%s: want every node once (%s), got %q", label, strings.Join(want, ", "), clip(strings.Join(got, ", ")))
			}
		}
		if x.EachDistinct && len(outs) > 1 {
			if perNode[text] {
				return false, fmt.Sprintf("%s: the same output as another node: %q", label, clip(text))
			}
			perNode[text] = true
		}
		all = append(all, ls...)
		if len(ls) > 0 {
			summary = append(summary, fmt.Sprintf("%s: %s", label, clip(strings.Join(ls, "; "))))
		} else {
			summary = append(summary, label+": (no output)")
		}
	}
	if x.Distinct != nil {
		seen := map[string]bool{}
		for _, l := range all {
			seen[l] = true
		}
		if !countOK(len(seen), *x.Distinct, x.AtLeast) {
			vals := slices.Sorted(maps.Keys(seen))
			return false, fmt.Sprintf("%d distinct values, want %s%d: %s", len(seen), atLeastWord(x.AtLeast), *x.Distinct, clip(strings.Join(vals, "; ")))
		}
	}
	if x.EachDistinct && len(outs) == 1 {
		seen := map[string]bool{}
		for _, l := range all {
			if seen[l] {
				return false, fmt.Sprintf("%q answered twice, want each answer different", clip(l))
			}
			seen[l] = true
		}
	}
	return true, strings.Join(summary, "\n")
}

func countOK(got, want int, atLeast bool) bool {
	if atLeast {
		return got >= want
	}
	return got == want
}

func atLeastWord(b bool) string {
	if b {
		return "at least "
	}
	return ""
}

func stderrNote(o output) string {
	// etcdctl logs JSON warnings first and its error last.
	if ls := lines(o.stderr); len(ls) > 0 {
		return " (stderr: " + clip(ls[len(ls)-1]) + ")"
	}
	return ""
}

func clip(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}
