package health

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cododemo/cododemo/pkg/inventory"
	"github.com/cododemo/cododemo/pkg/sshx"
)

// Session runs commands on one node (an SSH connection in production, a
// fake in unit tests).
type Session interface {
	Run(ctx context.Context, cmd string) (sshx.Result, error)
}

// Connector opens sessions to nodes. Connect is called at most once per
// node per verification.
type Connector interface {
	Connect(ctx context.Context, n inventory.Node) (Session, error)
}

// Options tune a verification.
type Options struct {
	// Checks to run (from Select); nil means every non-deep check.
	Checks Selection
	// Timeout bounds each check (default 15s).
	Timeout time.Duration
	// Parallel bounds how many nodes are worked on at once (default 16).
	Parallel int
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Poll is how often a check waiting out a transient state (systemd
	// "starting", fleet scheduling) asks again (default 1s).
	Poll time.Duration
}

func (o *Options) defaults() {
	if o.Checks == nil {
		o.Checks, _ = Select(nil, nil, false)
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Parallel <= 0 {
		o.Parallel = DefaultParallel
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
}

// Verifier runs the checks against an inventory.
type Verifier struct {
	Inv  *inventory.Inventory
	Conn Connector
	Opts Options
}

type nodeState struct {
	node  inventory.Node
	ready chan struct{} // closed once the connect attempt ended
	sess  Session
	err   error

	// readDone is closed once the node's read of the etcd-write probe
	// ended, or once it is sure not to happen; read is nil when the node
	// was not read (unreachable, or the probe was never written).
	readDone chan struct{}
	read     *readResult
}

type readResult struct {
	res sshx.Result
	err error
}

// probe is the etcd-write check's quorum write. It is written once, from
// the runner, before the nodes' batches start, so each node's read-back
// rides in the node's one batch session; and that read doubles as the
// node's etcd-member check, since a linearizable read served through the
// local member is what `etcdctl endpoint health` itself does. One session
// and one etcdctl per node fewer than reading back separately.
type probe struct {
	key, value string
	done       chan struct{} // closed once the write was tried, or given up
	once       sync.Once
	written    bool // read only after done
}

func (p *probe) finish(written bool) {
	p.once.Do(func() {
		p.written = written
		close(p.done)
	})
}

// run is one verification's shared state.
type run struct {
	v     *Verifier
	sem   chan struct{}
	nodes map[string]*nodeState
	probe *probe // nil when etcd-write does not run

	mu       sync.Mutex
	verdicts []Verdict
}

// Verify runs every selected check once and returns the report. It never
// returns early on a failing node: the report says what is wrong where.
func (v *Verifier) Verify(ctx context.Context) *Report {
	v.Opts.defaults()
	start := v.Opts.Now()
	r := &run{v: v, sem: make(chan struct{}, v.Opts.Parallel), nodes: map[string]*nodeState{}}
	rep := &Report{Started: start, Attempts: 1}
	for _, n := range v.Inv.Nodes {
		rep.Nodes = append(rep.Nodes, n.Name)
		r.nodes[n.Name] = &nodeState{node: n, ready: make(chan struct{}), readDone: make(chan struct{})}
	}
	if r.on(CheckEtcdWrite) && v.Inv.Uses(inventory.ServiceEtcd) {
		r.probe = &probe{key: randomKey(), done: make(chan struct{})}
	}
	var wg sync.WaitGroup
	for _, n := range v.Inv.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.nodeChecks(ctx, r.nodes[n.Name])
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.clusterChecks(ctx)
	}()
	wg.Wait()
	rep.Verdicts = r.verdicts
	rep.Duration = v.Opts.Now().Sub(start)
	rep.sort()
	return rep
}

func (r *run) add(v Verdict) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.verdicts = append(r.verdicts, v)
}

func (r *run) on(name string) bool { return r.v.Opts.Checks[name] }

// timed runs one check under its timeout and records its verdict.
func (r *run) timed(ctx context.Context, node, check string, timeout time.Duration, fn func(ctx context.Context) Verdict) {
	r.timedBase(ctx, node, check, timeout, 0, fn)
}

// timedBase is timed for a check whose first command already ran in a
// batch, taking base.
func (r *run) timedBase(ctx context.Context, node, check string, timeout, base time.Duration, fn func(ctx context.Context) Verdict) {
	if timeout == 0 {
		timeout = r.v.Opts.Timeout
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t0 := r.v.Opts.Now()
	v := fn(cctx)
	v.Node, v.Check, v.Duration = node, check, base+r.v.Opts.Now().Sub(t0)
	if v.Status == "" {
		v.Status = Pass
	}
	if v.Status == Fail && cctx.Err() != nil && ctx.Err() == nil && v.Hint == "" {
		v.Hint = fmt.Sprintf("the check took longer than its %s timeout: the node is overloaded or hanging (raise --timeout if it is just slow)", timeout)
	}
	r.add(v)
}

func (r *run) connect(ctx context.Context, st *nodeState) {
	defer close(st.ready)
	t0 := r.v.Opts.Now()
	// Dial bounded by the check timeout, like every other check.
	cctx, cancel := context.WithTimeout(ctx, r.v.Opts.Timeout)
	defer cancel()
	st.sess, st.err = r.v.Conn.Connect(cctx, st.node)
	v := Verdict{Node: st.node.Name, Check: CheckSSH, Status: Pass, Duration: r.v.Opts.Now().Sub(t0),
		Message: fmt.Sprintf("logged in as %s at %s", st.node.SSH.User, st.node.SSH.Addr())}
	if st.err != nil {
		v.Status, v.Message = Fail, st.err.Error()
		var hk *sshx.HostKeyChangedError
		var unknown *sshx.UnknownHostError
		switch {
		case errors.As(st.err, &hk):
			v.Message = "HOST KEY CHANGED: " + st.err.Error()
			v.Hint = fmt.Sprintf("if %s was re-created, delete line %d of %s; if not, do not trust this machine", st.node.Name, hk.Line, hk.File)
		case errors.As(st.err, &unknown):
			v.Hint = "the host is not pinned in known_hosts"
		default:
			v.Message = "unreachable: " + st.err.Error()
			v.Hint = "is the node up (`cododemo status`)? check ssh.host/ssh.port/ssh.user and the identity file in the inventory"
		}
	}
	r.add(v)
}

// session waits for a node's connection; nil when it failed.
func (r *run) session(ctx context.Context, name string) Session {
	st := r.nodes[name]
	select {
	case <-st.ready:
	case <-ctx.Done():
		return nil
	}
	return st.sess
}

// acquire takes a parallelism slot; false when ctx ended first.
func (r *run) acquire(ctx context.Context) bool {
	select {
	case r.sem <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (r *run) release() { <-r.sem }

// nodeChecks connects to a node and runs its checks. It holds a
// parallelism slot only while it works, never while it waits for the
// probe: the runner's write needs a slot too.
func (r *run) nodeChecks(ctx context.Context, st *nodeState) {
	defer close(st.readDone)
	if !r.acquire(ctx) {
		close(st.ready)
		return
	}
	r.connect(ctx, st)
	r.release()
	name := st.node.Name
	type nc struct {
		check string
		svcs  []string // the services it needs
		fn    func(context.Context, Session, inventory.Node) Verdict
	}
	list := []nc{
		{CheckOS, nil, r.checkOS},
		{CheckSystemd, nil, r.checkSystemd},
		{CheckDocker, []string{inventory.ServiceDocker}, checkDocker},
		{CheckKit, []string{inventory.ServiceDocker, inventory.ServiceKit}, checkKit},
		{CheckEtcdMember, []string{inventory.ServiceEtcd}, checkEtcdMember},
	}
	var todo []nc
	for _, c := range list {
		if !r.on(c.check) {
			continue
		}
		missing := slices.IndexFunc(c.svcs, func(s string) bool { return !r.v.Inv.Uses(s) })
		switch {
		case missing >= 0:
			r.add(Verdict{Node: name, Check: c.check, Status: Skip, Message: c.svcs[missing] + " is not in the inventory's services"})
		case st.sess == nil:
			r.add(Verdict{Node: name, Check: c.check, Status: Skip, Message: "node unreachable over SSH"})
		default:
			todo = append(todo, c)
		}
	}
	// With the probe written, the node reads it back, and that read is
	// also its etcd-member check.
	var getCmd string
	if r.probe != nil && st.sess != nil {
		select {
		case <-r.probe.done:
		case <-ctx.Done():
			return
		}
		if r.probe.written {
			getCmd = CmdEtcdGet(r.probe.key)
			todo = slices.DeleteFunc(todo, func(c nc) bool { return c.check == CheckEtcdMember })
		}
	}
	if len(todo) == 0 && getCmd == "" {
		return
	}
	if !r.acquire(ctx) {
		return
	}
	defer r.release()
	// One session runs every check's first command; the checks then read
	// their share, and only follow-ups (polling "starting", the journal of
	// failed units) open sessions of their own.
	var cmds []string
	for _, c := range todo {
		cmds = append(cmds, firstCommand[c.check])
	}
	if getCmd != "" {
		cmds = append(cmds, getCmd)
	}
	sess := st.sess
	var pre *prefetched
	if len(cmds) > 1 {
		pre = r.prefetch(ctx, st.sess, cmds)
		sess = pre
	}
	base := func(cmd string) time.Duration {
		if pre == nil {
			return 0
		}
		return pre.took[cmd]
	}
	for _, c := range todo {
		r.timedBase(ctx, name, c.check, 0, base(firstCommand[c.check]), func(ctx context.Context) Verdict { return c.fn(ctx, sess, st.node) })
	}
	if getCmd == "" {
		return
	}
	read := func(ctx context.Context) Verdict {
		res, err := sess.Run(ctx, getCmd)
		st.read = &readResult{res, err}
		return etcdMemberRead(res, err, st.node)
	}
	if r.on(CheckEtcdMember) {
		r.timedBase(ctx, name, CheckEtcdMember, 0, base(getCmd), read)
		return
	}
	cctx, cancel := context.WithTimeout(ctx, r.v.Opts.Timeout)
	defer cancel()
	read(cctx)
}

// firstCommand is the command each per-node check starts with.
var firstCommand = map[string]string{
	CheckOS:         CmdOSRelease,
	CheckSystemd:    CmdSystemRunning,
	CheckDocker:     CmdDockerActive,
	CheckKit:        CmdKitImages,
	CheckEtcdMember: CmdEtcdLocalHealth,
}

// prefetched answers each batched command once from the batch, and
// anything else (or a second call) over the real session.
type prefetched struct {
	Session
	mu      sync.Mutex
	results map[string]sshx.Result
	took    map[string]time.Duration
}

func (p *prefetched) Run(ctx context.Context, cmd string) (sshx.Result, error) {
	p.mu.Lock()
	res, ok := p.results[cmd]
	delete(p.results, cmd)
	p.mu.Unlock()
	if ok {
		return res, nil
	}
	return p.Session.Run(ctx, cmd)
}

func (r *run) prefetch(ctx context.Context, s Session, cmds []string) *prefetched {
	p := &prefetched{Session: s, results: map[string]sshx.Result{}, took: map[string]time.Duration{}}
	nonce := strings.TrimPrefix(randomKey(), "/cododemo/verify/")
	cctx, cancel := context.WithTimeout(ctx, r.v.Opts.Timeout)
	defer cancel()
	t0 := r.v.Opts.Now()
	res, err := s.Run(cctx, BatchScript(nonce, cmds))
	if err != nil {
		return p // every check runs on its own and reports the problem
	}
	whole := r.v.Opts.Now().Sub(t0)
	for i, br := range ParseBatch(nonce, len(cmds), res.Stdout, res.Stderr) {
		p.results[cmds[i]] = sshx.Result{Stdout: br.Stdout, Stderr: br.Stderr, ExitStatus: br.ExitStatus}
		p.took[cmds[i]] = whole / time.Duration(len(cmds))
		if br.Seconds >= 0 {
			p.took[cmds[i]] = time.Duration(br.Seconds * float64(time.Second))
		}
	}
	return p
}

func (r *run) clusterChecks(ctx context.Context) {
	etcdChecks := []string{CheckEtcdHealth, CheckEtcdMembers, CheckEtcdLeader, CheckEtcdWrite}
	fleetChecks := []string{CheckFleetMachines, CheckFleetUnit}
	var wanted []string
	for _, c := range append(etcdChecks, fleetChecks...) {
		if r.on(c) {
			wanted = append(wanted, c)
		}
	}
	if r.probe != nil {
		// Whatever happens below, the nodes waiting for the probe go on.
		defer r.probe.finish(false)
	}
	if len(wanted) == 0 {
		return
	}
	// The checks run from the first etcd member that answers SSH, as an
	// operator would log in to any node.
	var runner Session
	var runnerName string
	for _, m := range r.v.Inv.Members() {
		if s := r.session(ctx, m); s != nil {
			runner, runnerName = s, m
			break
		}
	}
	if runner == nil {
		for _, n := range r.v.Inv.Nodes {
			if s := r.session(ctx, n.Name); s != nil {
				runner, runnerName = s, n.Name
				break
			}
		}
	}
	var wg sync.WaitGroup
	for _, c := range wanted {
		svc := inventory.ServiceEtcd
		if c == CheckFleetMachines || c == CheckFleetUnit {
			svc = inventory.ServiceFleet
		}
		switch {
		case !r.v.Inv.Uses(svc):
			r.add(Verdict{Node: ClusterNode, Check: c, Status: Skip, Message: svc + " is not in the inventory's services"})
			continue
		case runner == nil:
			r.add(Verdict{Node: ClusterNode, Check: c, Status: Fail, Message: "no node reachable over SSH to run it from"})
			if c == CheckEtcdWrite {
				r.probe.finish(false)
			}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			timeout := r.v.Opts.Timeout
			var fn func(context.Context) Verdict
			switch c {
			case CheckEtcdHealth:
				fn = func(ctx context.Context) Verdict { return r.checkEtcdHealth(ctx, runner) }
			case CheckEtcdMembers:
				fn = func(ctx context.Context) Verdict { return r.checkEtcdMembers(ctx, runner) }
			case CheckEtcdLeader:
				fn = func(ctx context.Context) Verdict { return r.checkEtcdLeader(ctx, runner) }
			case CheckEtcdWrite:
				timeout *= 2 // a write, the nodes' batches reading it back, a delete
				fn = func(ctx context.Context) Verdict { return r.checkEtcdWrite(ctx, runner, runnerName) }
			case CheckFleetMachines:
				fn = func(ctx context.Context) Verdict { return r.checkFleetMachines(ctx, runner) }
			case CheckFleetUnit:
				timeout *= 4 // fleet notices etcd late and schedules slowly
				fn = func(ctx context.Context) Verdict { return r.checkFleetUnit(ctx, runner) }
			}
			r.timed(ctx, ClusterNode, c, timeout, fn)
		}()
	}
	wg.Wait()
}

// remote runs a command while holding a parallelism slot.
func (r *run) remote(ctx context.Context, s Session, cmd string) (sshx.Result, error) {
	if !r.acquire(ctx) {
		return sshx.Result{}, ctx.Err()
	}
	defer r.release()
	return s.Run(ctx, cmd)
}

func randomKey() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "/cododemo/verify/" + hex.EncodeToString(b[:])
}
