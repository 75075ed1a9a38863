package render

import (
	"bytes"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/template"
)

// A validator reports lines of a rendered file; the user edits the
// template. To map one to the other, the template set is executed once
// more, only when there is an error to place, from sources with a marker at
// the start of every line that begins with text: each output line then
// names the template file and line it came from. Lines starting with an
// action and lines next to a whitespace-trimming {{- or -}} get no marker
// (one would change the output); they count on from the marker before.

const (
	markOpen  = "\x1e"
	markClose = "\x1f"
)

// instrument puts markers into src, a template file named name.
func instrument(name, src string) string {
	lines := strings.SplitAfter(src, "\n")
	var b strings.Builder
	inAction := false
	for i, line := range lines {
		trimmed := strings.TrimLeft(line, " \t\r")
		if !inAction && trimmed != "" && !strings.HasPrefix(trimmed, "{{") &&
			!strings.HasSuffix(strings.TrimRight(b.String(), " \t\r\n"), "-}}") {
			fmt.Fprintf(&b, "%s%s:%d%s", markOpen, name, i+1, markClose)
		}
		b.WriteString(line)
		// Track whether the next line starts inside {{ ... }}.
		for rest := line; ; {
			if inAction {
				j := strings.Index(rest, "}}")
				if j < 0 {
					break
				}
				inAction, rest = false, rest[j+2:]
				continue
			}
			j := strings.Index(rest, "{{")
			if j < 0 {
				break
			}
			inAction, rest = true, rest[j+2:]
		}
	}
	return b.String()
}

// location is where in a template file an output line came from.
type location struct {
	File string // the template's name (embedded) or path (override)
	Line int
}

func (l location) String() string { return l.File + ":" + strconv.Itoa(l.Line) }

// sourceLines executes template name with data from instrumented sources
// and returns, for every line of its output (0-based), where it came from.
// It returns nil when the instrumented output differs from want: better no
// template line than a wrong one.
func (t *Templates) sourceLines(name string, data any, want []byte) []location {
	if t.sources == nil {
		return nil
	}
	clone, err := t.set.Clone()
	if err != nil {
		return nil
	}
	clone.Funcs(template.FuncMap{"include": func(n string, d any) (string, error) {
		var b bytes.Buffer
		err := clone.ExecuteTemplate(&b, n, d)
		return b.String(), err
	}})
	for _, n := range names(t.sources) {
		if _, err := clone.New(n).Parse(instrument(n, t.sources[n])); err != nil {
			return nil
		}
	}
	var out bytes.Buffer
	if err := clone.ExecuteTemplate(&out, name, data); err != nil {
		return nil
	}
	var (
		locs     []location
		stripped strings.Builder
		last     location
		lastAt   int
	)
	for i, line := range strings.SplitAfter(out.String(), "\n") {
		for {
			j := strings.Index(line, markOpen)
			if j < 0 {
				break
			}
			k := strings.Index(line[j:], markClose)
			if k < 0 {
				return nil
			}
			file, num, _ := strings.Cut(line[j+1:j+k], ":")
			n, _ := strconv.Atoi(num)
			last, lastAt = location{File: t.path(file), Line: n}, i
			line = line[:j] + line[j+k+1:]
		}
		stripped.WriteString(line)
		l := last
		if l.Line > 0 {
			l.Line += i - lastAt
		}
		locs = append(locs, l)
	}
	if stripped.String() != string(want) {
		return nil
	}
	return locs
}

// path names a template file as the user finds it: the override's path,
// or the embedded template's name.
func (t *Templates) path(name string) string {
	if slices.Contains(t.Overridden, name) {
		return filepath.Join(t.dir, name)
	}
	return name
}

// lineOf says where 1-based line of out, the output of template name with
// data, came from.
func (t *Templates) lineOf(name string, data any, out []byte, line int) (location, bool) {
	locs := t.sourceLines(name, data, out)
	if line < 1 || line > len(locs) || locs[line-1].Line == 0 {
		return location{}, false
	}
	return locs[line-1], true
}
