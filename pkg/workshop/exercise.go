// Package workshop runs the lab's workshop: exercises written as data
// (YAML, embedded, overridable by a directory), each a list of steps run
// over SSH on named nodes, as HTTP requests from the host, or as a halt or
// up of a node; every step has an expectation and a bounded retry window.
// Checkpoints say how far an attendee got without changing anything;
// cleanup undoes an exercise and always runs.
//
// Commands and unit files are text/template templates filled from the
// cluster (node names, addresses, etcd endpoints, the kit's image names)
// and from what earlier steps captured, so the handout `show` prints has
// the room's real names and addresses.
package workshop

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Needs an exercise may have.
const (
	NeedEtcd   = "etcd"
	NeedDocker = "docker"
	NeedFleet  = "fleet"
)

var knownNeeds = []string{NeedDocker, NeedEtcd, NeedFleet}

// maxStepTime bounds one step: a step's retry and timeout may not exceed it,
// and a lab step (halt or up of one node, which may boot a VM under
// emulation) gets exactly this long.
const maxStepTime = 10 * time.Minute

// Exercise is one exercise file.
type Exercise struct {
	Pos    Pos    `yaml:"-"`
	ID     string `yaml:"id"`
	Source string `yaml:"source"` // the classic workshop's E-number
	Title  string `yaml:"title"`
	About  string `yaml:"about"`
	// Needs are services the cluster must run (etcd, docker, fleet).
	Needs []string `yaml:"needs"`
	// Disruptive exercises halt or restart nodes; a step with lab: marks
	// its exercise disruptive whether or not this says so.
	Disruptive bool `yaml:"disruptive"`
	// Files are templates (unit files) a step writes with {{ file "name" }}.
	Files map[string]string `yaml:"files"`
	// Probe, when set, is requested from the host all through the
	// exercise; its answer rate is a verdict of its own.
	Probe       *Probe `yaml:"probe"`
	Steps       []Step `yaml:"steps"`
	Checkpoints []Step `yaml:"checkpoints"`
	Cleanup     []Step `yaml:"cleanup"`

	// units are the unit files shared by every exercise (exercises/units),
	// for {{ file "name" }} when Files has no such name.
	units map[string]string
}

// File returns the template text of a file the exercise can write.
func (e *Exercise) File(name string) (string, bool) {
	if f, ok := e.Files[name]; ok {
		return f, true
	}
	f, ok := e.units[name]
	return f, ok
}

// Probe is a background HTTP probe.
type Probe struct {
	Pos Pos `yaml:"-"`
	// After names the step after which probing starts.
	After     string        `yaml:"after"`
	URL       string        `yaml:"url"`
	EveryText string        `yaml:"every"`
	Every     time.Duration `yaml:"-"`
	// MinPercent of requests that must be answered with HTTP 200.
	MinPercent int `yaml:"min_percent"`
}

// Step is one thing to do and what it must show.
type Step struct {
	Pos  Pos    `yaml:"-"`
	Name string `yaml:"name"`
	// Say is what the presenter explains before the step.
	Say string `yaml:"say"`
	// On says where: "node 2", "all", a node name, "host", "unit GLOB"
	// (the node running a fleet unit; "unit GLOB !OTHER" one that does
	// not also run OTHER), "not unit GLOB" (a node that does not run it),
	// or "@name" for nodes an earlier step named with as.
	On string `yaml:"on"`
	// Exactly one of Run, HTTP, Etcd, Fleet or Lab.
	Run   string     `yaml:"run"`
	HTTP  *HTTPStep  `yaml:"http"`
	Etcd  *EtcdStep  `yaml:"etcd"`
	Fleet *FleetStep `yaml:"fleet"`
	// Lab is halt or up of the step's node (cododemo halt|up NODE).
	Lab    string  `yaml:"lab"`
	Expect *Expect `yaml:"expect"`
	// Retry is how long the expectation may take to come true.
	RetryText string        `yaml:"retry"`
	Retry     time.Duration `yaml:"-"`
	// Every is the pause between tries (default 1s).
	EveryText   string        `yaml:"every"`
	Every       time.Duration `yaml:"-"`
	TimeoutText string        `yaml:"timeout"`
	Timeout     time.Duration `yaml:"-"`
	// As names the node(s) the step ran on, for later "@name".
	As string `yaml:"as"`
	// Capture keeps the trimmed output as {{ .Vars.name }}.
	Capture    string `yaml:"capture"`
	Disruptive bool   `yaml:"disruptive"`
	// Agent runs the command with an SSH agent forwarded to the node,
	// holding the lab's key, as `cododemo ssh -A` does, and with the
	// node's fleetctl trusting the lab's pinned host keys: for commands
	// that log in onward from the node (fleetctl journal of a unit on
	// another machine).
	Agent bool `yaml:"agent"`
}

// HTTPStep is a request from the host.
type HTTPStep struct {
	Pos    Pos    `yaml:"-"`
	Method string `yaml:"method"`
	URL    string `yaml:"url"`
	// Times repeats the request; the expectation sees every answer, one
	// line each (a rotation shows as distinct lines).
	Times int `yaml:"times"`
	// Status the answers must have (default 200).
	Status int `yaml:"status"`
}

// EtcdStep is an etcd assertion, run with etcdctl on the step's node
// against every member's endpoint, so one dead member does not blind it.
type EtcdStep struct {
	Pos Pos `yaml:"-"`
	// Get prints the value of a key.
	Get string `yaml:"get"`
	// Prefix prints the values under a prefix, one a line.
	Prefix string `yaml:"prefix"`
	// Leader prints each member's idea of the leader, one a line.
	Leader bool `yaml:"leader"`
	// Health prints one line per healthy member.
	Health bool `yaml:"health"`
}

// FleetStep is a fleet assertion.
type FleetStep struct {
	Pos Pos `yaml:"-"`
	// Units prints "unit state machine-address" for units matching a glob.
	Units string `yaml:"units"`
	// Machines prints one address per machine fleet knows.
	Machines bool `yaml:"machines"`
}

// Expect is what a step's output must show. Output lines are its
// non-empty lines, trimmed; Select keeps only lines matching a regexp
// (its first group when it has one). For a step on several nodes, Exact,
// Regexp, Contains and Count hold on each node, Distinct counts across all.
type Expect struct {
	Pos      Pos     `yaml:"-"`
	Exit     *int    `yaml:"exit"` // default 0
	Exact    *string `yaml:"exact"`
	Contains string  `yaml:"contains"`
	Regexp   string  `yaml:"regexp"`
	Absent   string  `yaml:"absent"` // a regexp that must not match
	Select   string  `yaml:"select"`
	Count    *int    `yaml:"count"`
	Distinct *int    `yaml:"distinct"`
	// AtLeast makes Count and Distinct minimums.
	AtLeast bool `yaml:"at_least"`
	// CountNodes: as many lines as the cluster has nodes.
	CountNodes bool `yaml:"count_nodes"`
	// EveryNode: the lines are the cluster's node names, each once.
	EveryNode bool `yaml:"every_node"`
	// EachDistinct: no two nodes (or answers) gave the same output.
	EachDistinct bool `yaml:"each_distinct"`
}

// IsDisruptive says whether running the exercise takes nodes down.
func (e *Exercise) IsDisruptive() bool {
	if e.Disruptive {
		return true
	}
	for _, s := range e.Steps {
		if s.Lab != "" || s.Disruptive {
			return true
		}
	}
	return false
}

// Set is the loaded exercises, in file order.
type Set struct {
	Exercises []*Exercise
	// Overridden lists files the override directory replaced or added.
	Overridden []string
}

// Get returns the exercise with id or source (E3), or nil.
func (s *Set) Get(id string) *Exercise {
	for _, e := range s.Exercises {
		if e.ID == id || strings.EqualFold(e.Source, id) {
			return e
		}
	}
	return nil
}

// IDs lists the exercise ids.
func (s *Set) IDs() []string {
	var ids []string
	for _, e := range s.Exercises {
		ids = append(ids, e.ID)
	}
	return ids
}

//go:embed exercises
var embedded embed.FS

// Load reads the embedded exercises and, when dir is set, the *.yaml
// files in dir: a file with an embedded file's name replaces it, any
// other adds an exercise.
func Load(dir string) (*Set, error) {
	type src struct {
		name, display string
		data          []byte
	}
	var files []src
	entries, err := fs.ReadDir(embedded, "exercises")
	if err != nil {
		return nil, err
	}
	units := map[string]string{}
	unitEntries, err := fs.ReadDir(embedded, "exercises/units")
	if err != nil {
		return nil, err
	}
	for _, e := range unitEntries {
		b, err := embedded.ReadFile("exercises/units/" + e.Name())
		if err != nil {
			return nil, err
		}
		units[e.Name()] = string(b)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := embedded.ReadFile("exercises/" + e.Name())
		if err != nil {
			return nil, err
		}
		files = append(files, src{e.Name(), "exercises/" + e.Name() + " (built in)", b})
	}
	set := &Set{}
	if dir != "" {
		over, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("exercises: %w", err)
		}
		for _, e := range over {
			if e.IsDir() || !strings.HasSuffix(e.Name(), ".yaml") {
				continue
			}
			p := filepath.Join(dir, e.Name())
			b, err := os.ReadFile(p)
			if err != nil {
				return nil, fmt.Errorf("exercises: %w", err)
			}
			i := slices.IndexFunc(files, func(s src) bool { return s.name == e.Name() })
			if i >= 0 {
				files[i] = src{e.Name(), p, b}
			} else {
				files = append(files, src{e.Name(), p, b})
			}
			set.Overridden = append(set.Overridden, p)
		}
		// dir/units/NAME replaces or adds a shared unit file.
		if over, err := os.ReadDir(filepath.Join(dir, "units")); err == nil {
			for _, e := range over {
				if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
					continue
				}
				p := filepath.Join(dir, "units", e.Name())
				b, err := os.ReadFile(p)
				if err != nil {
					return nil, fmt.Errorf("exercises: %w", err)
				}
				units[e.Name()] = string(b)
				set.Overridden = append(set.Overridden, p)
			}
		}
	}
	for name, u := range units {
		if _, err := parseTemplate(name, u); err != nil {
			return nil, fmt.Errorf("exercises: units/%s: %v", name, err)
		}
	}
	byID := map[string]string{}
	for _, f := range files {
		ex, err := Parse(f.display, f.data)
		if err != nil {
			return nil, err
		}
		ex.units = units
		if other, dup := byID[ex.ID]; dup {
			return nil, ex.Pos.Errorf("exercise id %q is also used by %s", ex.ID, other)
		}
		byID[ex.ID] = f.display
		set.Exercises = append(set.Exercises, ex)
	}
	slices.SortStableFunc(set.Exercises, func(a, b *Exercise) int { return order(a) - order(b) })
	return set, nil
}

// order sorts exercises by their E-number (failover and others last).
func order(e *Exercise) int {
	var n int
	if _, err := fmt.Sscanf(strings.ToUpper(e.Source), "E%d", &n); err == nil {
		return n
	}
	return 1000
}

var idRE = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

// Parse decodes and validates one exercise file.
func Parse(file string, data []byte) (*Exercise, error) {
	ex := &Exercise{}
	if err := decodeFile(file, data, ex); err != nil {
		return nil, err
	}
	if err := ex.validate(); err != nil {
		return nil, err
	}
	return ex, nil
}

func (e *Exercise) validate() error {
	switch {
	case e.ID == "":
		return e.Pos.Errorf("id is missing")
	case !idRE.MatchString(e.ID):
		return e.Pos.Errorf("id %q: want lower-case letters, digits and dashes", e.ID)
	case e.Source == "":
		return e.Pos.Errorf("%s: source (the classic workshop's E-number, or \"new\") is missing", e.ID)
	case len(e.Steps) == 0:
		return e.Pos.Errorf("%s: no steps", e.ID)
	}
	for _, n := range e.Needs {
		if !slices.Contains(knownNeeds, n) {
			return e.Pos.Errorf("%s: needs %q: want one of %s", e.ID, n, strings.Join(knownNeeds, ", "))
		}
	}
	names := map[string]bool{}
	for _, f := range e.Files {
		if _, err := parseTemplate(e.ID, f); err != nil {
			return e.Pos.Errorf("files: %v", err)
		}
	}
	for _, group := range []struct {
		name  string
		steps []Step
	}{{"step", e.Steps}, {"checkpoint", e.Checkpoints}, {"cleanup", e.Cleanup}} {
		for i := range group.steps {
			s := &group.steps[i]
			if s.Name == "" {
				s.Name = fmt.Sprintf("%s %d", group.name, i+1)
			}
			if err := s.validate(e, group.name); err != nil {
				return err
			}
			if group.name == "step" {
				if names[s.Name] {
					return s.Pos.Errorf("step name %q used twice", s.Name)
				}
				names[s.Name] = true
			}
		}
	}
	if p := e.Probe; p != nil {
		if p.URL == "" {
			return p.Pos.Errorf("probe: url is missing")
		}
		if p.After != "" && !names[p.After] {
			return p.Pos.Errorf("probe: after %q: no step of that name", p.After)
		}
		if _, err := parseTemplate("probe", p.URL); err != nil {
			return p.Pos.Errorf("probe: %v", err)
		}
		if p.MinPercent < 0 || p.MinPercent > 100 {
			return p.Pos.Errorf("probe: min_percent %d: want 0 to 100", p.MinPercent)
		}
	}
	return nil
}

func (s *Step) validate(e *Exercise, group string) error {
	kinds := 0
	for _, set := range []bool{s.Run != "", s.HTTP != nil, s.Etcd != nil, s.Fleet != nil, s.Lab != ""} {
		if set {
			kinds++
		}
	}
	if kinds != 1 {
		return s.Pos.Errorf("%s %q: want exactly one of run, http, etcd, fleet, lab", group, s.Name)
	}
	if group == "checkpoint" && (s.Lab != "" || s.Capture != "" || s.As != "") {
		return s.Pos.Errorf("checkpoint %q: checkpoints only read: no lab, capture or as", s.Name)
	}
	if s.Agent && (s.HTTP != nil || s.Lab != "") {
		return s.Pos.Errorf("%s %q: agent: only for a command on a node (run, etcd, fleet), not http or lab", group, s.Name)
	}
	if s.Lab != "" && s.Lab != "halt" && s.Lab != "up" {
		return s.Pos.Errorf("step %q: lab %q: want halt or up", s.Name, s.Lab)
	}
	if _, err := parseTarget(s.On); err != nil {
		return s.Pos.Errorf("step %q: on: %v", s.Name, err)
	}
	if s.HTTP != nil {
		if s.HTTP.URL == "" {
			return s.HTTP.Pos.Errorf("step %q: http: url is missing", s.Name)
		}
		if s.HTTP.Times < 0 || s.HTTP.Times > 100 {
			return s.HTTP.Pos.Errorf("step %q: http: times %d: want 1 to 100", s.Name, s.HTTP.Times)
		}
	}
	if s.Etcd != nil {
		n := 0
		for _, set := range []bool{s.Etcd.Get != "", s.Etcd.Prefix != "", s.Etcd.Leader, s.Etcd.Health} {
			if set {
				n++
			}
		}
		if n != 1 {
			return s.Etcd.Pos.Errorf("step %q: etcd: want exactly one of get, prefix, leader, health", s.Name)
		}
	}
	if s.Fleet != nil && (s.Fleet.Units == "") == !s.Fleet.Machines {
		return s.Fleet.Pos.Errorf("step %q: fleet: want exactly one of units, machines", s.Name)
	}
	if s.Retry > maxStepTime || s.Timeout > maxStepTime {
		return s.Pos.Errorf("step %q: retry and timeout are at most 10m", s.Name)
	}
	for _, t := range []string{s.Run, s.On, httpURL(s)} {
		if _, err := parseTemplate(s.Name, t); err != nil {
			return s.Pos.Errorf("step %q: %v", s.Name, err)
		}
	}
	if x := s.Expect; x != nil {
		for _, t := range []string{x.Regexp, x.Absent, x.Contains, deref(x.Exact)} {
			if _, err := parseTemplate(s.Name, t); err != nil {
				return x.Pos.Errorf("step %q: expect: %v", s.Name, err)
			}
		}
		for _, re := range []string{x.Regexp, x.Absent, x.Select} {
			if strings.Contains(re, "{{") {
				continue // compiled once filled in
			}
			if _, err := regexp.Compile(re); err != nil {
				return x.Pos.Errorf("step %q: expect: bad regexp %q: %v", s.Name, re, err)
			}
		}
	}
	return nil
}

func httpURL(s *Step) string {
	if s.HTTP == nil {
		return ""
	}
	return s.HTTP.URL
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
