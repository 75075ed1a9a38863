package workshop

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBuiltInExercisesLoad(t *testing.T) {
	set, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"etcd-replication", "readonly-usr", "docker-hello", "web-every-node", "fleet-web",
		"load-balancer", "unit-journal", "destroy-and-start", "failover"}
	if got := strings.Join(set.IDs(), " "); got != strings.Join(want, " ") {
		t.Errorf("exercises %s, want %s", got, strings.Join(want, " "))
	}
	if !set.Get("failover").IsDisruptive() || set.Get("E3").IsDisruptive() {
		t.Error("only failover is disruptive")
	}
	if set.Get("e12") == nil || set.Get("nope") != nil {
		t.Error("Get by source")
	}
}

// TestStrictErrors: every mistake names file:line:col and the key in
// the file's own words, never a Go type.
func TestStrictErrors(t *testing.T) {
	const head = "id: x\nsource: E1\nsteps:\n"
	for name, tc := range map[string]struct{ doc, want string }{
		"unknown top key":   {"id: x\nsource: E1\nstepz: []\n", `x.yaml:3:1: stepz: unknown key; did you mean steps?`},
		"unknown step key":  {head + "  - run: true\n    onn: all\n", `x.yaml:5:5: steps.0.onn: unknown key; did you mean on?`},
		"unknown expect":    {head + "  - run: true\n    expect: {exakt: 1}\n", `x.yaml:5:14: steps.0.expect.exakt: unknown key; did you mean exact?`},
		"count not number":  {head + "  - run: true\n    expect: {count: many}\n", `x.yaml:5:21: steps.0.expect.count: "many" is not a whole number`},
		"bool wrong":        {"id: x\nsource: E1\ndisruptive: maybe\nsteps: [{run: x}]\n", `x.yaml:3:13: disruptive: "maybe" is not true or false`},
		"duration wrong":    {head + "  - run: true\n    retry: soon\n", `x.yaml:5:12: steps.0.retry: want a duration like 5s or 2m, got "soon"`},
		"steps not list":    {"id: x\nsource: E1\nsteps: {run: x}\n", `x.yaml:3:8: steps: want a list of mappings with keys name, say, on, run,`},
		"step not mapping":  {head + "  - hello\n", `x.yaml:4:5: steps.0: want a mapping with keys name, say, on, run,`},
		"duplicate key":     {head + "  - run: a\n    run: b\n", `x.yaml:5:5: steps.0.run: set twice (first on line 4)`},
		"syntax":            {"id: x\n  source: : :\n", `x.yaml:2:11: mapping values are not allowed in this context`},
		"two kinds":         {head + "  - run: a\n    lab: halt\n", `x.yaml:4:5: step "step 1": want exactly one of run, http, etcd, fleet, lab`},
		"no kind":           {head + "  - name: a\n", `want exactly one of run, http, etcd, fleet, lab`},
		"bad on":            {head + "  - run: a\n    on: node zero\n", `x.yaml:4:5: step "step 1": on: "node zero": want node N with N from 1`},
		"bad regexp":        {head + "  - run: a\n    expect: {regexp: '('}\n", `x.yaml:5:13: step "step 1": expect: bad regexp "("`},
		"bad template":      {head + "  - run: '{{ .Node.IP '\n", `x.yaml:4:5: step "step 1": template: step 1:1: unclosed action`},
		"unknown need":      {"id: x\nsource: E1\nneeds: [kubernetes]\nsteps: [{run: x}]\n", `x.yaml:1:5: x: needs "kubernetes": want one of docker, etcd, fleet`},
		"bad lab":           {head + "  - lab: reboot\n", `lab "reboot": want halt or up`},
		"checkpoint writes": {head + "  - run: a\ncheckpoints:\n  - lab: halt\n", `x.yaml:6:5: checkpoint "checkpoint 1": checkpoints only read`},
		"no id":             {"source: E1\nsteps: [{run: a}]\n", `x.yaml:1:1: id is missing`},
		"bad id":            {"id: Hello World\nsource: E1\nsteps: [{run: a}]\n", `id "Hello World": want lower-case letters`},
		"no steps":          {"id: x\nsource: E1\n", `x: no steps`},
		"dup step names":    {head + "  - {name: a, run: a}\n  - {name: a, run: b}\n", `x.yaml:5:5: step name "a" used twice`},
		"probe after":       {head + "  - run: a\nprobe: {url: 'http://x', after: nope}\n", `x.yaml:5:8: probe: after "nope": no step of that name`},
		"empty":             {"", `x.yaml:1:1: id is missing`},
		"null string":       {head + "  - run:\n", `x.yaml:4:5: step "step 1": want exactly one of run`},
		"tab":               {"id: x\n\tsource: E1\n", `x.yaml:2`},
		"second document":   {head + "  - run: a\n---\nid: y\n", `x.yaml:5:1: a second YAML document starts here`},
		"agent typo":        {head + "  - run: a\n    agnet: true\n", `x.yaml:5:5: steps.0.agnet: unknown key; did you mean agent?`},
		"agent not bool":    {head + "  - run: a\n    agent: please\n", `x.yaml:5:12: steps.0.agent: "please" is not true or false`},
		"agent on http":     {head + "  - http: {url: 'http://x'}\n    agent: true\n", `x.yaml:4:5: step "step 1": agent: only for a command on a node (run, etcd, fleet), not http or lab`},
		"agent on lab":      {head + "  - {lab: halt, on: node 1, agent: true}\n", `agent: only for a command on a node`},
		"bad not unit":      {head + "  - run: a\n    on: \"not unit [\"\n", `on: "not unit [": bad unit pattern "["`},
		"not unit, no glob": {head + "  - run: a\n    on: not unit\n", `on: "not unit": want host, all, node N, a node name, unit GLOB, not unit GLOB or @name`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse("x.yaml", []byte(tc.doc))
			if err == nil {
				t.Fatalf("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got  %s\nwant %s", err, tc.want)
			}
			for _, gotype := range []string{"workshop.", "int64", "[]string", "*string", "reflect"} {
				if strings.Contains(err.Error(), gotype) {
					t.Errorf("Go type in the message: %s", err)
				}
			}
		})
	}
}

func TestOverrideDirectory(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Replaces the built-in E3, adds one, and replaces a shared unit.
	write("e03-etcd-replication.yaml", "id: etcd-replication\nsource: E3\ntitle: ours\nsteps: [{run: 'true'}]\n")
	write("zz-extra.yaml", "id: extra\nsource: new\nsteps: [{run: '{{ file \"web@.service\" }}'}]\n")
	write("units/web@.service", "[Service]\nExecStart=/bin/true {{ .Node.Name }}\n")
	write("README.txt", "not an exercise")
	set, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if set.Get("etcd-replication").Title != "ours" || set.Get("extra") == nil || len(set.Overridden) != 3 {
		t.Errorf("override: %v %v", set.IDs(), set.Overridden)
	}
	if f, _ := set.Get("extra").File("web@.service"); !strings.Contains(f, "/bin/true") {
		t.Errorf("unit not overridden: %q", f)
	}
	write("zz-dup.yaml", "id: extra\nsource: new\nsteps: [{run: 'true'}]\n")
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), `.yaml:1:5: exercise id "extra" is also used by `) {
		t.Errorf("duplicate id: %v", err)
	}
	write("zz-dup.yaml", "id: extra2\nsource: new\nsteps: [{run: 'true', expect: {count: x}}]\n")
	if _, err := Load(dir); err == nil || !strings.HasPrefix(err.Error(), filepath.Join(dir, "zz-dup.yaml")+":3:") {
		t.Errorf("error names the override file: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing dir: no error")
	}
}

// TestAgentStepDecodes: agent: true and on: not unit GLOB are read as
// written, and the built-in E14 has its step from another node.
func TestAgentStepDecodes(t *testing.T) {
	ex, err := Parse("a.yaml", []byte("id: a\nsource: E14\nsteps:\n  - {name: j, on: not unit web@8081.service, agent: true, run: fleetctl journal web@8081.service}\n  - {name: k, run: hostname}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !ex.Steps[0].Agent || ex.Steps[1].Agent {
		t.Errorf("agent: %v %v, want true false", ex.Steps[0].Agent, ex.Steps[1].Agent)
	}
	if tg, err := parseTarget(ex.Steps[0].On); err != nil || tg.kind != "notunit" || tg.glob != "web@8081.service" {
		t.Errorf("on: %+v %v", tg, err)
	}
	e14 := builtIn(t, "unit-journal")
	var s *Step
	for i := range e14.Steps {
		if e14.Steps[i].Name == "journal from another node" {
			s = &e14.Steps[i]
		}
	}
	if s == nil || !s.Agent || s.On != "not unit web@8081.service" || !strings.Contains(s.Run, "fleetctl journal --lines 20 web@8081.service") {
		t.Errorf("E14's step from another node: %+v", s)
	}
}
