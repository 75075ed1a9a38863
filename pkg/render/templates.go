package render

import (
	"bytes"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/template"

	"github.com/cododemo/cododemo/templates"
)

// Templates is a parsed set: the embedded defaults, each optionally
// replaced by a same-named file from an override directory.
type Templates struct {
	set *template.Template
	// Overridden lists the template names taken from the override dir.
	Overridden []string
	// sources and dir map validators' lines back to template lines.
	sources map[string]string
	dir     string
}

// funcs are the helpers templates may use. Few on purpose: logic belongs in
// the plan, not in templates.
var funcs = template.FuncMap{
	"quote": func(s string) string { return fmt.Sprintf("%q", s) },
	// ruby is the only way a value goes into the Vagrantfile: a literal
	// that cannot interpolate (see Ruby).
	"ruby": Ruby,
	"indent": func(n int, s string) string {
		pad := strings.Repeat(" ", n)
		return pad + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+pad)
	},
	"nindent": func(n int, s string) string {
		pad := strings.Repeat(" ", n)
		return "\n" + pad + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+pad)
	},
}

// LoadTemplates parses the embedded templates and, when dir is set, the
// files in dir that replace them. A file in dir that matches no template
// is an error: a typo must not silently fall back to the default.
// lf turns a template's CRLF line ends into LF. A template saved by a
// Windows editor (or checked out with core.autocrlf) would otherwise put a
// carriage return at the end of every line of a unit, a cloud-config or a
// shell step the guests run, and Ruby would see them in the Vagrantfile.
func lf(b []byte) string { return strings.ReplaceAll(string(b), "\r\n", "\n") }

func LoadTemplates(dir string) (*Templates, error) {
	t := &Templates{}
	sources := map[string]string{}
	err := fs.WalkDir(templates.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := templates.FS.ReadFile(p)
		sources[p] = lf(b)
		return err
	})
	if err != nil {
		return nil, err
	}
	if dir != "" {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("templates: %w", err)
		}
		for _, e := range entries {
			if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			if _, ok := sources[e.Name()]; !ok {
				return nil, fmt.Errorf("templates: %s matches no template (known: %s)",
					filepath.Join(dir, e.Name()), strings.Join(names(sources), ", "))
			}
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				return nil, err
			}
			sources[e.Name()] = lf(b)
			t.Overridden = append(t.Overridden, e.Name())
		}
	}
	root := template.New("").Funcs(funcs).Option("missingkey=error")
	// include runs a named template into a string so it can be piped
	// through indent (text/template's own action cannot be piped).
	root.Funcs(template.FuncMap{"include": func(name string, data any) (string, error) {
		var b bytes.Buffer
		err := root.ExecuteTemplate(&b, name, data)
		return b.String(), err
	}})
	for _, name := range names(sources) {
		// Parse errors read "template: node.bu.tmpl:12: ...": name and line.
		if _, err := root.New(name).Parse(sources[name]); err != nil {
			return nil, fmt.Errorf("%s%w", overrideNote(t, name, dir), err)
		}
	}
	t.set, t.sources, t.dir = root, sources, dir
	return t, nil
}

func overrideNote(t *Templates, name, dir string) string {
	for _, o := range t.Overridden {
		if o == name {
			return filepath.Join(dir, name) + ": "
		}
	}
	return ""
}

// Execute runs the named template; errors carry the template's name and line.
func (t *Templates) Execute(name string, data any) ([]byte, error) {
	var buf bytes.Buffer
	if err := t.set.ExecuteTemplate(&buf, name, data); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// names lists the keys sorted: deterministic parse order and messages.
func names(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }
