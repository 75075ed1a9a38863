package yamlfile

import (
	"fmt"
	"strings"
	"testing"
)

type inner struct {
	Port int    `yaml:"port"`
	Name string `yaml:"name,omitempty"`
}

type doc struct {
	On    bool             `yaml:"on"`
	Size  int64            `yaml:"size"`
	Small int8             `yaml:"small"`
	In    inner            `yaml:"in"`
	List  []inner          `yaml:"list"`
	Map   map[string]inner `yaml:"map"`
	Ptr   *inner           `yaml:"ptr"`
	Tags  []string         `yaml:"tags"`
}

func TestDecodeKeepsDefaults(t *testing.T) {
	d := doc{Size: 7, In: inner{Port: 22, Name: "ssh"}}
	pos, err := Decode("f.yaml", []byte("in:\n  port: 2222\nmap:\n  a: {port: 1}\nptr: {name: x}\ntags: [a, 'b']\n"), &d)
	if err != nil {
		t.Fatal(err)
	}
	if d.Size != 7 || d.In != (inner{2222, "ssh"}) || d.Map["a"].Port != 1 || d.Ptr == nil || d.Ptr.Name != "x" || strings.Join(d.Tags, ",") != "a,b" {
		t.Fatalf("%+v", d)
	}
	if p := pos["in.port"]; p != (Pos{2, 9}) {
		t.Errorf("in.port at %v", p)
	}
	if p, _ := pos.Lookup("map.a.port.nothing"); p != (Pos{4, 13}) {
		t.Errorf("lookup falls back to map.a.port: %v", p)
	}
}

func TestDecodeMergeKeys(t *testing.T) {
	var d doc
	if _, err := Decode("f", []byte("base: &b {port: 80, name: web}\n"), &struct {
		Base *inner `yaml:"base"`
	}{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Decode("f", []byte("list:\n  - &w {port: 80, name: web}\n  - {<<: *w, port: 81}\n"), &d); err != nil {
		t.Fatal(err)
	}
	if d.List[1] != (inner{81, "web"}) {
		t.Fatalf("merge: %+v", d.List)
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"on: yes\n", `f:1:5: on: "yes" is not true or false (write true)`},
		{"small: 300\n", `f:1:8: small: 300 is too large`},
		{"size: 1e3\n", `f:1:7: size: 1e3 is not a whole number`},
		{"in: {port: 1, port: 2}\n", `f:1:15: in.port: set twice (first on line 1)`},
		{"in: {prot: 1}\n", `f:1:6: in.prot: unknown key; did you mean port?`},
		{"list: [{port: x}]\n", `f:1:15: list.0.port: "x" is not a whole number`},
		{"map: {a: [1]}\n", `f:1:10: map.a: want a mapping with keys port, name, not a list`},
		{"tags: [[a]]\n", `f:1:8: tags.0: want a string, not a list`},
		{"tags: a\n", `f:1:7: tags: want a list of strings, not "a"`},
		{"? [a]\n: 1\n", `f:1:3: a key must be a plain word, not a list`},
		{"on: true\n--- \non: false\n", `f:2:1: a second YAML document starts here`},
		{"on: true\nsize: \x01\n", `f:2:7: a control character or invalid UTF-8`},
		{"in:\n  port: 1\n\tname: x\n", `f:3:1: a tab indents this line`},
		{"in: @x\n", "f:1:5: \"@\" cannot start a value; put the value in quotes"},
		{"in: {port: 1\n", "f:"},
		{"tags: a: b\n", `f:1:8: mapping values are not allowed in this context; quote a value that holds ": "`},
		// yaml.v3 names the enclosing block's line, or none: the error is
		// placed where the parser stopped.
		{"in:\n  port: 1\n name: x\n", `f:3:2: did not find expected key; check this line's indentation`},
		{"on: true\n- a\n", `f:2:1: did not find expected key`},
		{"in:\n  port: 1\n\n  # note\ntags:\n  - a\n  b: 2\n", `f:7:3: did not find expected '-' indicator`},
		{"on: true\ntags: [a, b\nsize: 3\n", `f:2:7: the [ opened here is never closed with ]`},
		{"on: true\nin: {port: 1\n", `f:2:5: the { opened here is never closed with }`},
		{"on: true\nin:\n  name: 'web\n  port: 1\n", `f:3:9: the single quote opened here is never closed`},
		{"on: true\nin: {name: \"a\\qb\"}\n", `f:2:14: \q is not an escape in a double-quoted value`},
		{"on: true\nptr: *web\n", `f:2:6: alias *web names no anchor (&web) set above it`},
		{"in:\n  port: 1\nname\n", `f:3:1: could not find expected ':'`},
	} {
		var d doc
		_, err := Decode("f", []byte(c.in), &d)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want %q", c.in, err, c.want)
		}
		if _, ok := err.(*Error); err != nil && !ok {
			t.Errorf("%q: %T is not *Error", c.in, err)
		}
	}
}

// A self-referencing alias and an alias bomb end in bounded time.
func TestDecodeAliases(t *testing.T) {
	var d doc
	if _, err := Decode("f", []byte("list: &a [*a]\n"), &d); err == nil {
		t.Error("self alias accepted")
	}
	var b strings.Builder
	b.WriteString("a0: &a0 {port: 1}\n")
	for i := 1; i < 40; i++ {
		fmt.Fprintf(&b, "a%d: &a%d {<<: [*a%d, *a%d]}\n", i, i, i-1, i-1)
	}
	var m map[string]inner
	_, err := Decode("f", []byte(b.String()), &m)
	if err == nil || !strings.Contains(err.Error(), "too many nodes") {
		t.Errorf("alias bomb: %v", err)
	}
}
