package workshop

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Pos is where something was written: file:line:col.
type Pos struct {
	File      string
	Line, Col int
}

func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Errorf is an error at p.
func (p Pos) Errorf(format string, args ...any) error {
	return fmt.Errorf("%s: %s", p, fmt.Sprintf(format, args...))
}

// decoder decodes a YAML node tree into Go values strictly: unknown keys,
// duplicate keys and wrong types are errors naming the file, line, column
// and the key path in the document's own words (never a Go type). yaml's
// own KnownFields mode would do it with Go type names in its messages.
//
// A struct field decodes from the key in its `yaml` tag; a field named
// Pos of type Pos receives the position of the struct's mapping.
type decoder struct {
	file string
}

var (
	durationType = reflect.TypeOf(time.Duration(0))
	posType      = reflect.TypeOf(Pos{})
)

func (d *decoder) pos(n *yaml.Node) Pos { return Pos{File: d.file, Line: n.Line, Col: n.Column} }

// kindWord names what a node is, for "want X, got Y".
func kindWord(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	if n.Tag == "!!null" {
		return "nothing"
	}
	return fmt.Sprintf("%q", n.Value)
}

func (d *decoder) decode(n *yaml.Node, path string, v reflect.Value) error {
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return Pos{File: d.file}.Errorf("empty document")
		}
		return d.decode(n.Content[0], path, v)
	}
	if n.Kind == yaml.AliasNode {
		return d.pos(n).Errorf("%s: aliases are not supported; write the value out", path)
	}
	switch v.Kind() {
	case reflect.Pointer:
		if n.Tag == "!!null" {
			return nil
		}
		p := reflect.New(v.Type().Elem())
		if err := d.decode(n, path, p.Elem()); err != nil {
			return err
		}
		v.Set(p)
		return nil
	case reflect.Struct:
		return d.decodeStruct(n, path, v)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			// One string where a list of strings is wanted is that list.
			if n.Kind == yaml.ScalarNode && v.Type().Elem().Kind() == reflect.String && n.Tag != "!!null" {
				v.Set(reflect.Append(reflect.MakeSlice(v.Type(), 0, 1), reflect.ValueOf(n.Value).Convert(v.Type().Elem())))
				return nil
			}
			return d.pos(n).Errorf("%s: want a list, got %s", path, kindWord(n))
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			if err := d.decode(c, fmt.Sprintf("%s[%d]", path, i), s.Index(i)); err != nil {
				return err
			}
		}
		v.Set(s)
		return nil
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return d.pos(n).Errorf("%s: want a mapping, got %s", path, kindWord(n))
		}
		m := reflect.MakeMap(v.Type())
		for i := 0; i < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			if m.MapIndex(reflect.ValueOf(k.Value)).IsValid() {
				return d.pos(k).Errorf("%s: %q given twice", path, k.Value)
			}
			e := reflect.New(v.Type().Elem()).Elem()
			if err := d.decode(val, path+"."+k.Value, e); err != nil {
				return err
			}
			m.SetMapIndex(reflect.ValueOf(k.Value), e)
		}
		v.Set(m)
		return nil
	}
	if n.Kind != yaml.ScalarNode {
		return d.pos(n).Errorf("%s: want a single value, got %s", path, kindWord(n))
	}
	if v.Type() == durationType {
		dur, err := time.ParseDuration(n.Value)
		if err != nil || dur < 0 {
			return d.pos(n).Errorf("%s: want a duration like 5s or 2m, got %q", path, n.Value)
		}
		v.SetInt(int64(dur))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		if n.Tag == "!!null" {
			return d.pos(n).Errorf("%s: want a text value, got nothing", path)
		}
		v.SetString(n.Value)
	case reflect.Int:
		i, err := strconv.Atoi(n.Value)
		if err != nil || n.Tag == "!!str" {
			return d.pos(n).Errorf("%s: want a whole number, got %s", path, kindWord(n))
		}
		v.SetInt(int64(i))
	case reflect.Bool:
		if n.Tag != "!!bool" {
			return d.pos(n).Errorf("%s: want true or false, got %s", path, kindWord(n))
		}
		v.SetBool(n.Value == "true" || n.Value == "True" || n.Value == "TRUE")
	default:
		return d.pos(n).Errorf("%s: cannot be set", path)
	}
	return nil
}

func (d *decoder) decodeStruct(n *yaml.Node, path string, v reflect.Value) error {
	if n.Kind != yaml.MappingNode {
		return d.pos(n).Errorf("%s: want a mapping, got %s", path, kindWord(n))
	}
	t := v.Type()
	fields := map[string]int{}
	var known []string
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Name == "Pos" && f.Type == posType {
			v.Field(i).Set(reflect.ValueOf(d.pos(n)))
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		fields[name] = i
		known = append(known, name)
	}
	slices.Sort(known)
	seen := map[string]bool{}
	for i := 0; i < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		where := k.Value
		if path != "" {
			where = path + "." + k.Value
		}
		idx, ok := fields[k.Value]
		if !ok {
			return d.pos(k).Errorf("unknown key %q (known here: %s)", where, strings.Join(known, ", "))
		}
		if seen[k.Value] {
			return d.pos(k).Errorf("%s given twice", where)
		}
		seen[k.Value] = true
		if err := d.decode(val, where, v.Field(idx)); err != nil {
			return err
		}
	}
	return nil
}

// decodeFile parses one YAML document strictly into v.
func decodeFile(file string, data []byte, v any) error {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		// yaml's syntax errors read "yaml: line 3: ..."; keep the line,
		// put the file first.
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if rest, ok := strings.CutPrefix(msg, "line "); ok {
			if num, text, ok := strings.Cut(rest, ": "); ok {
				return fmt.Errorf("%s:%s: %s", file, num, text)
			}
		}
		return fmt.Errorf("%s: %s", file, msg)
	}
	if root.Kind == 0 {
		return Pos{File: file}.Errorf("empty document")
	}
	d := &decoder{file: file}
	return d.decode(&root, "", reflect.ValueOf(v).Elem())
}
