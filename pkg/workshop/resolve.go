package workshop

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"text/template"

	"github.com/cododemo/cododemo/pkg/inventory"
	"github.com/cododemo/cododemo/pkg/kit"
)

// Node is a node as templates see it.
type Node struct {
	Name  string
	IP    string // the address etcd and fleet advertise
	Index int    // 1-based, inventory order
	// EtcdURL is the node's etcd client URL.
	EtcdURL string
}

// Cluster is what templates are filled from.
type Cluster struct {
	Inv   *inventory.Inventory
	Nodes []Node
}

// NewCluster describes inv for templates.
func NewCluster(inv *inventory.Inventory) *Cluster {
	c := &Cluster{Inv: inv}
	port := inv.EtcdClientPort
	if port == 0 {
		port = inventory.DefaultEtcdClientPort
	}
	for i, n := range inv.Nodes {
		ip := n.Address
		if ip == "" {
			ip = n.SSH.Host
		}
		host := ip
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		c.Nodes = append(c.Nodes, Node{Name: n.Name, IP: ip, Index: i + 1, EtcdURL: "http://" + host + ":" + strconv.Itoa(port)})
	}
	return c
}

// byName finds a node.
func (c *Cluster) byName(name string) (Node, bool) {
	for _, n := range c.Nodes {
		if n.Name == name {
			return n, true
		}
	}
	return Node{}, false
}

// byAddress finds a node by the address fleet or etcd reported.
func (c *Cluster) byAddress(ip string) (Node, bool) {
	for _, n := range c.Nodes {
		if n.IP == ip {
			return n, true
		}
	}
	return Node{}, false
}

// target is a parsed `on:`.
type target struct {
	kind  string // host, all, index, name, unit, notunit, named
	index int
	name  string
	glob  string
	not   []string // unit globs the chosen node must not run
}

func parseTarget(s string) (target, error) {
	f := strings.Fields(s)
	switch {
	case len(f) == 0, s == "host":
		return target{kind: "host"}, nil
	case s == "all":
		return target{kind: "all"}, nil
	case f[0] == "node" && len(f) == 2:
		i, err := strconv.Atoi(f[1])
		if err != nil || i < 1 {
			return target{}, fmt.Errorf("%q: want node N with N from 1", s)
		}
		return target{kind: "index", index: i}, nil
	case f[0] == "not" && len(f) == 3 && f[1] == "unit":
		if _, err := path.Match(f[2], ""); err != nil {
			return target{}, fmt.Errorf("%q: bad unit pattern %q", s, f[2])
		}
		return target{kind: "notunit", glob: f[2]}, nil
	case f[0] == "unit" && len(f) >= 2:
		t := target{kind: "unit", glob: f[1]}
		for _, x := range f[2:] {
			g, ok := strings.CutPrefix(x, "!")
			if !ok || g == "" {
				return target{}, fmt.Errorf("%q: want unit GLOB [!OTHER...]", s)
			}
			t.not = append(t.not, g)
		}
		for _, g := range append([]string{t.glob}, t.not...) {
			if _, err := path.Match(g, ""); err != nil {
				return target{}, fmt.Errorf("%q: bad unit pattern %q", s, g)
			}
		}
		return t, nil
	case strings.HasPrefix(s, "@") && len(f) == 1 && len(s) > 1:
		return target{kind: "named", name: s[1:]}, nil
	case len(f) == 1:
		return target{kind: "name", name: s}, nil
	}
	return target{}, fmt.Errorf("%q: want host, all, node N, a node name, unit GLOB, not unit GLOB or @name", s)
}

// data is what a template sees.
type data struct {
	Node          Node
	Nodes         []Node
	Vars          map[string]string
	EtcdEndpoints string
}

// state is what a run has learnt so far: captured values and named nodes.
type state struct {
	vars  map[string]string
	named map[string][]Node
}

func newState() *state { return &state{vars: map[string]string{}, named: map[string][]Node{}} }

func stubFuncs() template.FuncMap {
	return template.FuncMap{
		"node":        func(any) (Node, error) { return Node{}, nil },
		"image":       func(string) string { return "" },
		"file":        func(string) (string, error) { return "", nil },
		"quote":       shellQuote,
		"add":         func(a, b int) int { return a + b },
		"settleUnits": settleUnits,
	}
}

// settleUnits is the shell a cleanup runs after removing an exercise's
// containers: a unit whose container goes while fleet still stops it fails
// a moment later (its `docker run` exits non-zero), so reset-failed at
// once can come too early and leave the node degraded for verify's
// systemd check. It waits up to 10 s until none of the units is active,
// resets them, then lists any still failed (the step expects none, and
// retries while one is).
func settleUnits(units ...string) string {
	q := make([]string, len(units))
	for i, u := range units {
		q[i] = shellQuote(u)
	}
	us := strings.Join(q, " ")
	return "for _ in 1 2 3 4 5 6 7 8 9 10; do systemctl is-active --quiet " + us + " || break; sleep 1; done; " +
		"sudo systemctl reset-failed " + us + " 2>/dev/null; " +
		"systemctl list-units --failed --plain --no-legend " + us
}

func parseTemplate(name, text string) (*template.Template, error) {
	return template.New(name).Funcs(stubFuncs()).Option("missingkey=error").Parse(text)
}

// render fills text for node n.
func (c *Cluster) render(ex *Exercise, st *state, n Node, text string) (string, error) {
	if !strings.Contains(text, "{{") {
		return text, nil
	}
	var urls []string
	for _, m := range c.Nodes {
		if c.Inv == nil || slices.Contains(c.Inv.Members(), m.Name) {
			urls = append(urls, m.EtcdURL)
		}
	}
	d := data{Node: n, Nodes: c.Nodes, Vars: st.vars, EtcdEndpoints: strings.Join(urls, ",")}
	var depth int
	var funcs template.FuncMap
	funcs = template.FuncMap{
		"node": func(which any) (Node, error) {
			switch w := which.(type) {
			case int:
				if w < 1 || w > len(c.Nodes) {
					return Node{}, fmt.Errorf("node %d: the cluster has %d nodes", w, len(c.Nodes))
				}
				return c.Nodes[w-1], nil
			case string:
				if name, ok := strings.CutPrefix(w, "@"); ok {
					if ns := st.named[name]; len(ns) > 0 {
						return ns[0], nil
					}
					return Node{}, fmt.Errorf("node %q: no earlier step named it", w)
				}
				if m, ok := c.byName(w); ok {
					return m, nil
				}
				return Node{}, fmt.Errorf("node %q: no such node", w)
			}
			return Node{}, fmt.Errorf("node %v: want a number or a name", which)
		},
		// The kit's images by exact tag, and only those: with
		// --pull=never in the units, nothing a node runs comes from a
		// registry.
		"image": func(name string) (string, error) {
			for _, p := range kit.Programs {
				if p.Name == name {
					return p.Image(), nil
				}
			}
			return "", fmt.Errorf("image %q is not in the image kit (%s)", name, strings.Join(kit.Images(), ", "))
		},
		"file": func(name string) (string, error) {
			body, ok := ex.File(name)
			if !ok {
				return "", fmt.Errorf("file %q: not in the exercise's files nor in units/", name)
			}
			if depth > 0 {
				return "", errors.New("file: a file cannot include another")
			}
			depth++
			defer func() { depth-- }()
			t, err := template.New(name).Funcs(funcs).Option("missingkey=error").Parse(body)
			if err != nil {
				return "", err
			}
			var b bytes.Buffer
			if err := t.Execute(&b, d); err != nil {
				return "", err
			}
			content := b.String()
			if !strings.HasSuffix(content, "\n") {
				content += "\n"
			}
			return fmt.Sprintf("cat > %s <<'CODODEMO_EOF'\n%sCODODEMO_EOF", shellQuote(name), content), nil
		},
		"quote":       shellQuote,
		"add":         func(a, b int) int { return a + b },
		"settleUnits": settleUnits,
	}
	t, err := template.New("step").Funcs(funcs).Option("missingkey=error").Parse(text)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, d); err != nil {
		return "", cleanTemplateErr(err)
	}
	return b.String(), nil
}

// cleanTemplateErr drops text/template's internal positions, which point
// into a string the user never saw as such.
func cleanTemplateErr(err error) error {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 && strings.HasPrefix(msg, "template: ") {
		return errors.New(msg[i+2:])
	}
	return err
}

func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./@:=,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
