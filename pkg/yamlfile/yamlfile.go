// Package yamlfile decodes a YAML file that holds one document into a Go
// struct, strictly, and says what is wrong in the file's own terms: the
// dotted key ("nodes.count", "forwarded_ports.1.host") and file:line:col,
// never a Go type name. cododemo's lab file, its lock and inventories are
// all read through it, so that they report problems the same way.
//
// The decode walks yaml.v3's node tree against the target type itself
// rather than calling yaml.v3's Decode, because yaml.v3 silently truncates
// 1.5 into an int, reads "yes" as true only for typed bools, and reports
// type errors with a line, no column and the Go type.
package yamlfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Pos is a 1-based line and column; zero when unknown.
type Pos struct{ Line, Col int }

// Positions maps dotted keys to where their value starts in the file.
type Positions map[string]Pos

// Lookup returns where key, or the nearest enclosing key, was set.
func (p Positions) Lookup(key string) (Pos, bool) {
	for k := key; k != ""; {
		if v, ok := p[k]; ok {
			return v, true
		}
		i := strings.LastIndex(k, ".")
		if i < 0 {
			break
		}
		k = k[:i]
	}
	return Pos{}, false
}

// Issue is one problem in a file.
type Issue struct {
	Pos
	Key string // dotted key; "" for the file as a whole
	Msg string
}

// Where is "file:line:col", "file:line" or "file", as much as is known.
func (i Issue) Where(file string) string {
	switch {
	case i.Line > 0 && i.Col > 0:
		return fmt.Sprintf("%s:%d:%d", file, i.Line, i.Col)
	case i.Line > 0:
		return fmt.Sprintf("%s:%d", file, i.Line)
	}
	return file
}

// Error lists every problem found in one file.
type Error struct {
	File   string
	Issues []Issue
}

// MaxListed is how many issues Error spells out before counting the rest.
const MaxListed = 10

func (e *Error) Error() string {
	var lines []string
	for i, is := range e.Issues {
		if i == MaxListed {
			lines = append(lines, fmt.Sprintf("... and %d more", len(e.Issues)-MaxListed))
			break
		}
		s := is.Where(e.File) + ": "
		if is.Key != "" {
			s += is.Key + ": "
		}
		lines = append(lines, s+is.Msg)
	}
	return strings.Join(lines, "\n")
}

// maxIssues stops collecting: past this, more lines help nobody.
const maxIssues = 1000

// maxNodes bounds the nodes visited, aliases included, so that an alias
// bomb ("billion laughs") costs nothing.
const maxNodes = 100_000

// Decode decodes data into v, a non-nil pointer, refusing unknown and
// duplicate keys, values of the wrong type, and a second document. Keys
// absent from the file (or set to null) leave v's values as they were, so
// v may hold defaults. An empty or comment-only file is an empty document.
// The error is an *Error naming file.
func Decode(file string, data []byte, v any) (Positions, error) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		panic("yamlfile.Decode: v must be a non-nil pointer")
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return Positions{}, nil // nothing but comments and blanks
		}
		return nil, &Error{File: file, Issues: []Issue{syntaxIssue(err, data)}}
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, &Error{File: file, Issues: []Issue{syntaxIssue(err, data)}}
	case len(next.Content) > 0 && !isNull(next.Content[0]):
		return nil, &Error{File: file, Issues: []Issue{{Pos: Pos{next.Line, next.Column},
			Msg: "a second YAML document starts here; the file holds one, and the rest would be ignored"}}}
	}
	d := &decoder{pos: Positions{}, budget: maxNodes}
	if len(doc.Content) > 0 {
		d.value(doc.Content[0], rv.Elem(), "")
	}
	if len(d.issues) > 0 {
		return d.pos, &Error{File: file, Issues: d.issues}
	}
	return d.pos, nil
}

var (
	lineRe = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)
	// The parser's own words for a tab where YAML wants spaces.
	tabMsgs = []string{"cannot start any token", "tab character"}
)

// syntaxIssue turns a parser error into an issue with the best position
// the message and the data allow. yaml.v3 keeps no column, and its line is
// 0-based-plus-one only when non-zero, so line 1 carries no "line".
func syntaxIssue(err error, data []byte) Issue {
	m := lineRe.FindStringSubmatch(err.Error())
	if m == nil {
		return Issue{Msg: err.Error()}
	}
	line, msg := 1, m[2]
	if m[1] != "" {
		line, _ = strconv.Atoi(m[1])
	}
	lines := strings.Split(string(data), "\n")
	switch {
	case strings.Contains(msg, "control characters") || strings.Contains(msg, "UTF-8"):
		for i, l := range lines {
			for j, r := range l {
				if r == '\uFFFD' || (r < 0x20 && r != '\t' && r != '\r') || r == 0x7f {
					return Issue{Pos: Pos{i + 1, j + 1}, Msg: "a control character or invalid UTF-8: the file must be UTF-8 text"}
				}
			}
		}
		return Issue{Msg: msg}
	case slices.ContainsFunc(tabMsgs, func(s string) bool { return strings.Contains(msg, s) }):
		// The reported line is the context's, one before the tab at times.
		for i := max(line-2, 0); i < min(line+1, len(lines)); i++ {
			indent := lines[i][:len(lines[i])-len(strings.TrimLeft(lines[i], " \t"))]
			if j := strings.IndexByte(indent, '\t'); j >= 0 {
				return Issue{Pos: Pos{i + 1, j + 1}, Msg: "a tab indents this line; YAML indents with spaces only"}
			}
		}
		if line <= len(lines) {
			if j := strings.IndexAny(lines[line-1], "@`\t"); j >= 0 {
				return Issue{Pos: Pos{line, j + 1}, Msg: fmt.Sprintf("%q cannot start a value; put the value in quotes", lines[line-1][j:j+1])}
			}
		}
	}
	if strings.Contains(msg, "mapping values are not allowed") && line <= len(lines) {
		// "a: b: c": the second ": " on the line is the one the parser
		// could not take.
		l := lines[line-1]
		if i := strings.Index(l, ": "); i >= 0 {
			if j := strings.Index(l[i+2:], ":"); j >= 0 {
				return Issue{Pos: Pos{line, i + 2 + j + 1}, Msg: msg + "; quote a value that holds \": \""}
			}
		}
	}
	if is, ok := locate(lines, msg); ok {
		return is
	}
	return Issue{Pos: Pos{Line: line}, Msg: msg}
}

// maxLocateLines bounds the files locate re-parses line by line.
const maxLocateLines = 2000

var (
	anchorRe = regexp.MustCompile(`^unknown anchor '(.*)' referenced$`)
	// The escapes YAML's double-quoted scalars allow after a backslash.
	yamlEscapes = "0abt\tnvfre \"/\\N_LPxuU"
)

// locate finds the line and column of a syntax error yaml.v3 gives a line
// for that is often the enclosing block's (or no line at all): the first
// line whose inclusion makes the file fail the same way is where the
// parser stopped, and the message says what to look for on it.
func locate(lines []string, msg string) (Issue, bool) {
	if m := anchorRe.FindStringSubmatch(msg); m != nil {
		for i, l := range lines {
			if j := strings.Index(l, "*"+m[1]); j >= 0 {
				return Issue{Pos: Pos{i + 1, j + 1}, Msg: fmt.Sprintf("alias *%s names no anchor (&%s) set above it", m[1], m[1])}, true
			}
		}
		return Issue{}, false
	}
	if strings.Contains(msg, "unknown escape character") {
		for i, l := range lines {
			if !strings.Contains(l, `"`) {
				continue
			}
			for j := 0; j+1 < len(l); j++ {
				if l[j] == '\\' {
					if !strings.ContainsRune(yamlEscapes, rune(l[j+1])) {
						return Issue{Pos: Pos{i + 1, j + 1}, Msg: fmt.Sprintf("\\%c is not an escape in a double-quoted value; write \\\\ for a backslash, or use single quotes", l[j+1])}, true
					}
					j++
				}
			}
		}
		return Issue{}, false
	}
	if len(lines) > maxLocateLines {
		return Issue{}, false
	}
	n := firstFailing(lines, msg)
	if n == 0 {
		return Issue{}, false
	}
	l := lines[n-1]
	col := len(l) - len(strings.TrimLeft(l, " ")) + 1
	switch {
	case strings.Contains(msg, "unexpected end of stream"):
		if j := strings.IndexAny(l, `"'`); j >= 0 {
			return Issue{Pos: Pos{n, j + 1}, Msg: fmt.Sprintf("the %s quote opened here is never closed", quoteName(l[j]))}, true
		}
	case strings.Contains(msg, "expected ',' or ']'"):
		if j := strings.LastIndexByte(l, '['); j >= 0 {
			return Issue{Pos: Pos{n, j + 1}, Msg: "the [ opened here is never closed with ]"}, true
		}
	case strings.Contains(msg, "expected ',' or '}'"):
		if j := strings.LastIndexByte(l, '{'); j >= 0 {
			return Issue{Pos: Pos{n, j + 1}, Msg: "the { opened here is never closed with }"}, true
		}
	case strings.Contains(msg, "did not find expected key"), strings.Contains(msg, "expected '-' indicator"),
		strings.Contains(msg, "could not find expected ':'"), strings.Contains(msg, "mapping values are not allowed"):
		return Issue{Pos: Pos{n, col}, Msg: msg + "; check this line's indentation (and that a key ends with \": \")"}, true
	}
	return Issue{Pos: Pos{n, col}, Msg: msg}, true
}

func quoteName(q byte) string {
	if q == '"' {
		return "double"
	}
	return "single"
}

// firstFailing returns how many of lines, from the first, make the first
// document that fails to parse with msg; 0 when no prefix does.
func firstFailing(lines []string, msg string) int {
	for n := 1; n <= len(lines); n++ {
		dec := yaml.NewDecoder(strings.NewReader(strings.Join(lines[:n], "\n") + "\n"))
		for {
			var node yaml.Node
			err := dec.Decode(&node)
			if err == nil {
				continue
			}
			if !errors.Is(err, io.EOF) && strings.HasSuffix(err.Error(), msg) {
				return n
			}
			break
		}
	}
	return 0
}

type decoder struct {
	issues []Issue
	pos    Positions
	budget int
}

func (d *decoder) fail(n *yaml.Node, key, format string, a ...any) {
	if len(d.issues) < maxIssues {
		d.issues = append(d.issues, Issue{Pos: Pos{n.Line, n.Column}, Key: key, Msg: fmt.Sprintf(format, a...)})
	}
}

// spend takes cost from the node budget; false once it is spent, which is
// reported once.
func (d *decoder) spend(n *yaml.Node, key string, cost int) bool {
	if d.budget < 0 {
		return false
	}
	if d.budget -= cost; d.budget < 0 {
		d.fail(n, key, "too many nodes (aliases expand to more than %d)", maxNodes)
		return false
	}
	return true
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// value decodes n into v; key names it in messages.
func (d *decoder) value(n *yaml.Node, v reflect.Value, key string) {
	for n.Kind == yaml.AliasNode {
		if !d.spend(n, key, 1) {
			return
		}
		n = n.Alias
	}
	if !d.spend(n, key, 1) {
		return
	}
	if isNull(n) {
		switch v.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Map:
			v.SetZero()
		}
		return // absent: keep what v holds
	}
	if key != "" {
		d.pos[key] = Pos{n.Line, n.Column}
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.value(n, v.Elem(), key)
	case reflect.Struct:
		if d.want(n, yaml.MappingNode, v.Type(), key) {
			d.structFields(n, v, key, map[string]int{})
		}
	case reflect.Map:
		if !d.want(n, yaml.MappingNode, v.Type(), key) {
			return
		}
		if v.Type().Key().Kind() != reflect.String {
			panic("yamlfile: only maps with string keys are supported")
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			name, ok := d.keyName(k, key, seen)
			if !ok {
				continue
			}
			e := reflect.New(v.Type().Elem()).Elem()
			if old := v.MapIndex(reflect.ValueOf(name).Convert(v.Type().Key())); old.IsValid() {
				e.Set(old)
			}
			d.value(val, e, join(key, name))
			v.SetMapIndex(reflect.ValueOf(name).Convert(v.Type().Key()), e)
		}
	case reflect.Slice:
		if !d.want(n, yaml.SequenceNode, v.Type(), key) {
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			d.value(c, s.Index(i), join(key, strconv.Itoa(i)))
		}
		v.Set(s)
	case reflect.String:
		if d.want(n, yaml.ScalarNode, v.Type(), key) {
			v.SetString(n.Value)
		}
	case reflect.Bool:
		if !d.want(n, yaml.ScalarNode, v.Type(), key) {
			return
		}
		b, err := ParseBool(n.Value)
		if err != nil {
			d.fail(n, key, "%v", err)
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if !d.want(n, yaml.ScalarNode, v.Type(), key) {
			return
		}
		i, err := ParseInt(n.Value, v.Type().Bits())
		if err != nil {
			d.fail(n, key, "%v", err)
			return
		}
		v.SetInt(i)
	default:
		panic("yamlfile: unsupported field type " + v.Type().String())
	}
}

// structFields decodes mapping n into struct v: merge keys ("<<") first,
// so that the mapping's own keys win, as YAML specifies.
func (d *decoder) structFields(n *yaml.Node, v reflect.Value, key string, seen map[string]int) {
	fields := fieldsOf(v.Type())
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k, val := n.Content[i], n.Content[i+1]; k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			for _, m := range mergeSources(val) {
				if !d.spend(m, key, len(m.Content)+1) {
					return
				}
				if m.Kind != yaml.MappingNode {
					d.fail(val, key, "<< merges mappings only")
					continue
				}
				d.structFields(m, v, key, map[string]int{})
			}
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			continue
		}
		name, ok := d.keyName(k, key, seen)
		if !ok {
			continue
		}
		f, ok := fields.byName[name]
		if !ok {
			d.fail(k, join(key, name), "%s", unknownMsg(name, key, fields.names))
			continue
		}
		d.value(val, v.FieldByIndex(f), join(key, name))
	}
}

func mergeSources(n *yaml.Node) []*yaml.Node {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml.SequenceNode {
		return []*yaml.Node{n}
	}
	var out []*yaml.Node
	for _, c := range n.Content {
		if c.Kind == yaml.AliasNode {
			c = c.Alias
		}
		out = append(out, c)
	}
	return out
}

// keyName checks a mapping key: a plain scalar, not seen before.
func (d *decoder) keyName(k *yaml.Node, parent string, seen map[string]int) (string, bool) {
	if k.Kind == yaml.AliasNode {
		k = k.Alias
	}
	if k.Kind != yaml.ScalarNode {
		d.fail(k, parent, "a key must be a plain word, not %s", describe(k))
		return "", false
	}
	if first, dup := seen[k.Value]; dup {
		d.fail(k, join(parent, k.Value), "set twice (first on line %d); the second would silently win", first)
		return "", false
	}
	seen[k.Value] = k.Line
	return k.Value, true
}

// want checks n's kind against what type t takes.
func (d *decoder) want(n *yaml.Node, kind yaml.Kind, t reflect.Type, key string) bool {
	if n.Kind == kind {
		return true
	}
	d.fail(n, key, "want %s, not %s", typeWord(t), describe(n))
	return false
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// typeWord says what a Go type takes, in YAML's words.
func typeWord(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Pointer:
		return typeWord(t.Elem())
	case reflect.Struct:
		return "a mapping with keys " + strings.Join(fieldsOf(t).names, ", ")
	case reflect.Map:
		return "a mapping"
	case reflect.Slice:
		if e := t.Elem(); e.Kind() == reflect.Struct {
			return "a list of mappings with keys " + strings.Join(fieldsOf(e).names, ", ")
		}
		return "a list of " + strings.TrimPrefix(typeWord(t.Elem()), "a ") + "s"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	}
	return "a whole number"
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return strconv.Quote(n.Value)
}

type fieldSet struct {
	byName map[string][]int
	names  []string // in declaration order
}

// fieldsOf lists a struct's YAML keys as yaml.v3 names them: the tag's
// name, else the lower-cased field name; ",inline" structs flattened.
func fieldsOf(t reflect.Type) fieldSet {
	fs := fieldSet{byName: map[string][]int{}}
	var walk func(t reflect.Type, index []int)
	walk = func(t reflect.Type, index []int) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("yaml")
			if !f.IsExported() || tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			idx := append(slices.Clip(index), i)
			if slices.Contains(strings.Split(opts, ","), "inline") {
				walk(f.Type, idx)
				continue
			}
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			fs.byName[name] = idx
			fs.names = append(fs.names, name)
		}
	}
	walk(t, nil)
	return fs
}

func unknownMsg(name, parent string, known []string) string {
	if s := closest(name, known); s != "" {
		return fmt.Sprintf("unknown key; did you mean %s?", s)
	}
	where := "the top level"
	if parent != "" {
		where = parent
	}
	return fmt.Sprintf("unknown key; %s takes %s", where, strings.Join(known, ", "))
}

// closest returns the known key within two edits of name, if one is.
func closest(name string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := editDistance(strings.ToLower(name), k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and swaps of neighbours ("cuont") cost one.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// ParseInt reads a decimal whole number as the lab file, an environment
// variable or a flag spells it, with the same words for every source when
// it is not one (1.5 from a file and from the environment alike).
func ParseInt(raw string, bits int) (int64, error) {
	s := strings.TrimSpace(raw)
	i, err := strconv.ParseInt(s, 10, bits)
	if err == nil {
		return i, nil
	}
	if errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("%s is too large", s)
	}
	return 0, errors.New(intMsg(s))
}

func intMsg(s string) string {
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return fmt.Sprintf("%s is not a whole number", s)
	}
	return fmt.Sprintf("%q is not a whole number", s)
}

// ParseBool reads true or false (any case). YAML 1.1's yes/no/on/off are
// refused: YAML 1.2 reads them as strings, so they mean different things
// to different tools.
func ParseBool(raw string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(raw)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, errors.New(boolMsg(raw))
}

func boolMsg(raw string) string {
	switch strings.ToLower(strings.TrimSpace(raw)) {
	case "yes", "y", "on":
		return fmt.Sprintf("%q is not true or false (write true)", raw)
	case "no", "n", "off":
		return fmt.Sprintf("%q is not true or false (write false)", raw)
	}
	return fmt.Sprintf("%q is not true or false", raw)
}
