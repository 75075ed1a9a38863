package workshop

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// handoutCommand is what an attendee types for a step: the step's own
// command, or for etcd and fleet assertions the everyday command that
// shows the same thing.
func (c *Cluster) handoutCommand(ex *Exercise, st *state, s *Step, n Node) (string, error) {
	switch {
	case s.Run != "":
		return c.render(ex, st, n, s.Run)
	case s.Etcd != nil:
		switch {
		case s.Etcd.Get != "":
			k, err := c.render(ex, st, n, s.Etcd.Get)
			return "etcdctl get --print-value-only " + shellQuote(k), err
		case s.Etcd.Prefix != "":
			p, err := c.render(ex, st, n, s.Etcd.Prefix)
			return "etcdctl get --prefix " + shellQuote(p), err
		case s.Etcd.Leader:
			return "etcdctl endpoint status --cluster -w table", nil
		case s.Etcd.Health:
			return "etcdctl endpoint health --cluster", nil
		}
	case s.Fleet != nil:
		if s.Fleet.Machines {
			return "fleetctl list-machines", nil
		}
		return "fleetctl list-units", nil
	case s.HTTP != nil:
		url, err := c.render(ex, st, n, s.HTTP.URL)
		if s.HTTP.Times > 1 {
			return fmt.Sprintf("for i in $(seq %d); do curl -s %s; done", s.HTTP.Times, url), err
		}
		return "curl -s " + url, err
	case s.Lab != "":
		return "cododemo " + s.Lab + " " + n.Name, nil
	}
	return "", nil
}

// expectation says in words what a step must show.
func (c *Cluster) expectation(ex *Exercise, st *state, s *Step) string {
	x := s.Expect
	var parts []string
	r := func(t string) string {
		v, err := c.render(ex, st, Node{}, t)
		if err != nil {
			return t
		}
		return v
	}
	if x != nil {
		if x.Select != "" {
			parts = append(parts, fmt.Sprintf("lines matching `%s`", r(x.Select)))
		}
		if x.Exact != nil {
			if *x.Exact == "" {
				parts = append(parts, "no output")
			} else {
				parts = append(parts, fmt.Sprintf("exactly `%s`", r(*x.Exact)))
			}
		}
		if x.Contains != "" {
			parts = append(parts, fmt.Sprintf("containing `%s`", r(x.Contains)))
		}
		if x.Regexp != "" {
			parts = append(parts, fmt.Sprintf("matching `%s`", r(x.Regexp)))
		}
		if x.Absent != "" {
			parts = append(parts, fmt.Sprintf("not showing `%s`", r(x.Absent)))
		}
		at := ""
		if x.AtLeast {
			at = "at least "
		}
		if x.Count != nil {
			if *x.Count == 0 {
				parts = append(parts, "no output")
			} else {
				parts = append(parts, fmt.Sprintf("%s%d lines", at, *x.Count))
			}
		}
		if x.CountNodes {
			parts = append(parts, fmt.Sprintf("%d lines, one per node", len(c.Nodes)))
		}
		if x.EveryNode {
			var names []string
			for _, n := range c.Nodes {
				names = append(names, n.Name)
			}
			parts = append(parts, "every node: "+strings.Join(names, ", "))
		}
		if x.Distinct != nil {
			parts = append(parts, fmt.Sprintf("%s%d different values", at, *x.Distinct))
		}
		if x.EachDistinct {
			parts = append(parts, "a different answer from each")
		}
		if x.Exit != nil && *x.Exit != 0 {
			parts = append(parts, fmt.Sprintf("exit status %d", *x.Exit))
		}
	}
	if s.HTTP != nil && s.HTTP.Status != 0 && s.HTTP.Status != 200 {
		parts = append(parts, fmt.Sprintf("HTTP %d", s.HTTP.Status))
	}
	if s.Etcd != nil && s.Etcd.Leader {
		parts = []string{"every member names the same leader"}
	}
	if len(parts) == 0 {
		parts = append(parts, "success")
	}
	out := strings.Join(parts, ", ")
	if s.Retry > 0 {
		out += fmt.Sprintf(" (may take up to %s)", s.Retry.Round(time.Second))
	}
	return out
}

// where says where a step runs, in words, and the nodes to fill
// templates with.
func (c *Cluster) where(st *state, s *Step) (string, []Node) {
	t, _ := parseTarget(s.On)
	switch t.kind {
	case "host":
		return "on your machine", []Node{{}}
	case "all":
		return "on every node", c.Nodes
	case "index":
		if t.index <= len(c.Nodes) {
			n := c.Nodes[t.index-1]
			return fmt.Sprintf("on %s (%s)", n.Name, n.IP), []Node{n}
		}
	case "name":
		if n, ok := c.byName(t.name); ok {
			return fmt.Sprintf("on %s (%s)", n.Name, n.IP), []Node{n}
		}
	case "unit":
		p := placeholder("the node running " + t.glob)
		if len(t.not) > 0 {
			p = placeholder("a node running " + t.glob + " but not " + strings.Join(t.not, ", "))
		}
		return "on " + p.Name + " (`fleetctl list-units` shows which)", []Node{p}
	case "notunit":
		p := placeholder("a node not running " + t.glob)
		return "on " + p.Name + " (`fleetctl list-units` shows which)", []Node{p}
	case "named":
		if ns := st.named[t.name]; len(ns) > 0 {
			return "on " + ns[0].Name, ns
		}
	}
	return "on " + s.On, []Node{placeholder(s.On)}
}

func placeholder(what string) Node {
	return Node{Name: "<" + what + ">", IP: "<address of " + what + ">", EtcdURL: "http://<address of " + what + ">:2379"}
}

// WriteHandout writes the exercise as an attendee follows it: every
// command with this cluster's names and addresses, and what it should
// show. md writes Markdown.
func (c *Cluster) WriteHandout(w io.Writer, ex *Exercise, md bool) error {
	st := newState()
	var b strings.Builder
	title := fmt.Sprintf("%s %s: %s", ex.Source, ex.ID, ex.Title)
	if md {
		fmt.Fprintf(&b, "# %s\n\n", title)
	} else {
		fmt.Fprintf(&b, "%s\n%s\n\n", title, strings.Repeat("=", len(title)))
	}
	if ex.About != "" {
		fmt.Fprintf(&b, "%s\n\n", strings.TrimSpace(ex.About))
	}
	needs := "nothing beyond SSH"
	if len(ex.Needs) > 0 {
		needs = strings.Join(ex.Needs, ", ")
	}
	fmt.Fprintf(&b, "Needs: %s.", needs)
	if ex.IsDisruptive() {
		b.WriteString(" Disruptive: it halts and restarts a node.")
	}
	b.WriteString("\n\n")
	for i := range ex.Steps {
		s := &ex.Steps[i]
		where, nodes := c.where(st, s)
		if s.As != "" {
			p := placeholder(s.As)
			if len(nodes) == 1 && !strings.HasPrefix(nodes[0].Name, "<") {
				p = nodes[0]
			}
			st.named[s.As] = []Node{p}
		}
		if s.HTTP != nil && where != "on your machine" {
			where = "on your machine, to " + strings.TrimPrefix(where, "on ")
		}
		if md {
			fmt.Fprintf(&b, "## %d. %s\n\n%s:\n\n", i+1, s.Name, capital(where))
		} else {
			fmt.Fprintf(&b, "%d. %s, %s\n", i+1, s.Name, where)
		}
		if s.Say != "" {
			fmt.Fprintf(&b, "%s\n\n", strings.TrimSpace(s.Say))
		}
		if s.Agent {
			fmt.Fprintf(&b, "Log in with `cododemo ssh -A %s`: it forwards an agent holding the lab's key, which\n"+
				"fleetctl there uses to log in onward (root on the node could use it while you are logged in).\n\n", nodes[0].Name)
		}
		seen := map[string]bool{}
		var cmds []string
		for _, n := range nodes {
			cmd, err := c.handoutCommand(ex, st, s, n)
			if err != nil {
				return s.Pos.Errorf("step %q: %v", s.Name, err)
			}
			// The same command on every node is written once.
			if !seen[cmd] {
				seen[cmd] = true
				cmds = append(cmds, cmd)
			}
		}
		if md {
			b.WriteString("```sh\n")
		}
		for _, cmd := range cmds {
			if md {
				fmt.Fprintf(&b, "%s\n", cmd)
			} else {
				fmt.Fprintf(&b, "   $ %s\n", strings.ReplaceAll(cmd, "\n", "\n     "))
			}
		}
		if md {
			b.WriteString("```\n\n")
		}
		fmt.Fprintf(&b, "%sExpect: %s\n\n", map[bool]string{true: "", false: "   "}[md], c.expectation(ex, st, s))
	}
	if len(ex.Cleanup) > 0 {
		if md {
			b.WriteString("## Clean up\n\n```sh\n")
		} else {
			b.WriteString("Clean up:\n")
		}
		for i := range ex.Cleanup {
			s := &ex.Cleanup[i]
			_, nodes := c.where(st, s)
			cmd, err := c.handoutCommand(ex, st, s, nodes[0])
			if err != nil {
				return s.Pos.Errorf("cleanup %q: %v", s.Name, err)
			}
			if md {
				fmt.Fprintf(&b, "%s\n", cmd)
			} else {
				fmt.Fprintf(&b, "   $ %s\n", strings.ReplaceAll(cmd, "\n", "\n     "))
			}
		}
		if md {
			b.WriteString("```\n\nor `cododemo workshop reset " + ex.ID + "`.\n")
		} else {
			b.WriteString("   (or: cododemo workshop reset " + ex.ID + ")\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func capital(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
