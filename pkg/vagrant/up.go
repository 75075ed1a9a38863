package vagrant

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/cododemo/cododemo/pkg/exec"
)

// UpStep is one `vagrant up NODE` of an up plan.
type UpStep struct {
	Name string
	// Create is true when the VM does not exist yet: the box is imported.
	Create bool
	// After names the step this one waits for, "" for none. The wait ends
	// when that step's import is over (or, with AfterDone, when it ends).
	After     string
	AfterDone bool
}

// UpPlan says what a `cododemo up` runs, in start order.
type UpPlan struct {
	// Running lists the machines that are already up and are left alone.
	Running []string
	Steps   []UpStep
}

// PlanUp decides how to bring up the wanted machines (all when want is
// empty), given their status. It is pure so that the policy is tested on
// its own:
//
//   - running machines are skipped: a second up brings up only what is
//     missing;
//   - VirtualBox cannot import several VMs at once (VBoxManage import
//     races), so each creation waits until the previous one has finished
//     importing; booting then overlaps with the next import;
//   - libvirt uploads the box into its storage pool once, with the first
//     creation; the other creations wait for that upload, then run in
//     parallel;
//   - any other provider is treated like VirtualBox (the safe choice);
//   - machines that exist but are stopped boot at once, in parallel;
//   - serial runs everything one after the other, each step waiting for
//     the previous one to end.
func PlanUp(status []Machine, want []string, provider string, serial bool) (UpPlan, error) {
	byName := map[string]Machine{}
	var all []string
	for _, m := range status {
		byName[m.Name] = m
		all = append(all, m.Name)
	}
	if len(want) == 0 {
		want = all
	}
	var unknown []string
	seen := map[string]bool{}
	var plan UpPlan
	var creates, starts []UpStep
	for _, n := range want {
		m, ok := byName[n]
		if !ok {
			unknown = append(unknown, n)
			continue
		}
		if seen[n] {
			continue
		}
		seen[n] = true
		switch {
		case m.State.Running():
			plan.Running = append(plan.Running, n)
		case m.State.Created():
			starts = append(starts, UpStep{Name: n})
		default:
			creates = append(creates, UpStep{Name: n, Create: true})
		}
	}
	if len(unknown) > 0 {
		return UpPlan{}, fmt.Errorf("%s: not a node of this lab (nodes: %s)", strings.Join(unknown, ", "), strings.Join(all, ", "))
	}
	for i := range creates {
		if i == 0 {
			continue
		}
		if provider == "libvirt" {
			creates[i].After = creates[0].Name
		} else {
			creates[i].After = creates[i-1].Name
		}
	}
	// Creations first: they are the long pole, and stopped machines boot
	// alongside them.
	plan.Steps = append(creates, starts...)
	if serial {
		for i := range plan.Steps {
			plan.Steps[i].After, plan.Steps[i].AfterDone = "", false
			if i > 0 {
				plan.Steps[i].After, plan.Steps[i].AfterDone = plan.Steps[i-1].Name, true
			}
		}
	}
	return plan, nil
}

// UpOptions are the arguments of Up.
type UpOptions struct {
	// Names are the machines to bring up; all when empty.
	Names []string
	// Provider is passed as --provider (the lab's provider).
	Provider    string
	Serial      bool
	NoProvision bool
	// Out receives each machine's lines.
	Out Output
	// OnPhase, when set, hears every phase change of every machine.
	OnPhase func(machine string, p Phase)
	// OnPlan, when set, sees the plan before anything runs.
	OnPlan func(UpPlan)
}

// Up brings the wanted machines up according to PlanUp: one `vagrant up`
// per machine, so that a failing node stops only itself and its error
// names it. The error joins the per-node errors. Cancelling ctx stops all
// children (pkg/exec kills each process group) and the steps not started.
func (d *Driver) Up(ctx context.Context, o UpOptions) error {
	status, err := d.Status(ctx)
	if err != nil {
		return fmt.Errorf("vagrant status: %w", err)
	}
	plan, err := PlanUp(status, o.Names, o.Provider, o.Serial)
	if err != nil {
		return err
	}
	if o.OnPlan != nil {
		o.OnPlan(plan)
	}
	return d.runUpPlan(ctx, plan, o)
}

type stepState struct {
	imported chan struct{} // closed when the import is over
	done     chan struct{} // closed when the step ended
	once     sync.Once
	// pastImport says whether the import finished (false when the step
	// failed before it did).
	pastImport bool
	err        error
	phase      Phase // how far the node came
}

func (s *stepState) openGate(past bool) {
	s.once.Do(func() {
		s.pastImport = past
		close(s.imported)
	})
}

func (d *Driver) runUpPlan(ctx context.Context, plan UpPlan, o UpOptions) error {
	states := map[string]*stepState{}
	for _, st := range plan.Steps {
		states[st.Name] = &stepState{imported: make(chan struct{}), done: make(chan struct{})}
	}
	phase := func(name string, p Phase) {
		if o.OnPhase != nil {
			o.OnPhase(name, p)
		}
	}
	var wg sync.WaitGroup
	for _, st := range plan.Steps {
		s := states[st.Name]
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(s.done)
			s.err = d.upStep(ctx, st, states, o, phase)
			// A failed step that never finished importing lets the next
			// one try, but says so (see upStep).
			s.openGate(s.err == nil)
			if s.err != nil {
				phase(st.Name, PhaseFailed)
			} else {
				phase(st.Name, PhaseDone)
			}
		}()
	}
	wg.Wait()
	op := "vagrant up"
	if o.NoProvision {
		op += " --no-provision"
	}
	var errs []error
	for _, st := range plan.Steps {
		if s := states[st.Name]; s.err != nil {
			errs = append(errs, &NodeError{Node: st.Name, Op: op, Phase: s.phase, Err: s.err})
		}
	}
	return errors.Join(errs...)
}

func (d *Driver) upStep(ctx context.Context, st UpStep, states map[string]*stepState, o UpOptions, phase func(string, Phase)) error {
	s := states[st.Name]
	if !st.Create {
		s.openGate(true) // nothing to import
	}
	if st.After != "" {
		dep := states[st.After]
		wait := dep.imported
		if st.AfterDone {
			wait = dep.done
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wait:
		}
		// The box is imported by the first creation: when that failed
		// before the import was over, this one would fail the same way
		// (missing box, no disk space) after a long download.
		if st.Create && !st.AfterDone && !dep.pastImport {
			return fmt.Errorf("not started: %s failed before its import finished", st.After)
		}
		if st.AfterDone && dep.err != nil {
			return fmt.Errorf("not started: %s failed (serial mode)", st.After)
		}
	}
	phase(st.Name, PhaseStarting)
	args := []string{"up", "--machine-readable"}
	if o.Provider != "" {
		args = append(args, "--provider="+o.Provider)
	}
	if o.NoProvision {
		args = append(args, "--no-provision")
	}
	args = append(args, st.Name)

	last := PhaseStarting
	lw := &lineWriter{out: o.Out, machine: st.Name}
	lw.onLine = func(machine, line string) {
		if machine != st.Name {
			return
		}
		p, ok := PhaseOf(line)
		if !ok || p <= last {
			return // phases only move forward in an up
		}
		last = p
		s.phase = p
		phase(st.Name, p)
		if p > PhaseImport {
			s.openGate(true)
		}
	}
	c := d.Cmd(args...)
	tail := exec.NewTail(64 << 10)
	c.Stdout = io.MultiWriter(lw, tail)
	c.Stderr = lw
	err := d.Runner.Run(ctx, c)
	lw.Flush()
	return classify(err, tail.Bytes(), lw.Crash())
}

// Missing returns the wanted machines (all when want is empty) that are
// not running, in status order.
func Missing(status []Machine, want []string) []string {
	var out []string
	for _, m := range status {
		if len(want) > 0 && !slices.Contains(want, m.Name) {
			continue
		}
		if !m.State.Running() {
			out = append(out, m.Name)
		}
	}
	return out
}
