package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/spf13/pflag"

	"github.com/cododemo/cododemo/pkg/yamlfile"
)

// DefaultFile is the config file looked for in the working directory.
const DefaultFile = "cododemo.yaml"

// Source says where a lab's settings come from. Precedence, lowest first:
// built-in defaults < file < CODODEMO_* environment < flags.
type Source struct {
	// File is the config file. When empty, DefaultFile in Dir is used if it
	// exists; otherwise the embedded defaults apply.
	File string
	// Dir is the working directory relative paths are resolved against.
	Dir string
	// Getenv reads the environment (os.Getenv in production).
	Getenv func(string) string
	// Environ lists the environment, to warn about misspelt CODODEMO_*
	// variables. Optional.
	Environ func() []string
	// Flags holds flags bound to keys with BindFlag. Optional.
	Flags *pflag.FlagSet
}

// Loaded is a validated lab plus where it came from.
type Loaded struct {
	Lab Lab
	// File is the config file read ("" when only defaults applied).
	File string
	// Dir is the lab's base directory: the config file's directory, or the
	// working directory. StateDir and Templates are relative to it.
	Dir string
	// Warnings are problems that do not stop the lab (a subnet VirtualBox
	// refuses by default, an unknown CODODEMO_ variable).
	Warnings []string
	// Settings are the effective scalar keys, in declaration order, each
	// with where its value came from (`cododemo config` prints them).
	Settings []Setting
}

// Setting is one effective key and its origin: "file:line:col", a
// CODODEMO_* variable, a --flag, or "default".
type Setting struct {
	Key    string `json:"key"`
	Value  any    `json:"value"`
	Origin string `json:"origin"`
}

// StatePath returns the absolute state directory.
func (l *Loaded) StatePath() string { return l.abs(l.Lab.StateDir) }

// TemplatesPath returns the absolute template override directory, or "".
func (l *Loaded) TemplatesPath() string {
	if l.Lab.Templates == "" || strings.Contains(l.Lab.Templates, "::") || strings.Contains(l.Lab.Templates, "://") {
		return l.Lab.Templates
	}
	return l.abs(l.Lab.Templates)
}

func (l *Loaded) abs(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(l.Dir, p)
}

// flagKey is the pflag annotation that binds a flag to a config key.
const flagKey = "cododemo_config_key"

// BindFlag marks flag name on fs as setting key.
func BindFlag(fs *pflag.FlagSet, name, key string) {
	_ = fs.SetAnnotation(name, flagKey, []string{key})
}

// AddLabFlags adds the flags that override the commonest settings.
func AddLabFlags(fs *pflag.FlagSet) {
	d := Default()
	fs.String("distro", d.Distro, "OS: flatcar or coreos (legacy)")
	fs.String("channel", d.Channel, "release channel: alpha, beta, stable, lts")
	fs.String("os-version", d.Version, "OS version: current or exact (e.g. 4593.2.5)")
	fs.IntP("nodes", "n", d.Nodes.Count, "number of nodes")
	fs.String("provider", d.Provider, "Vagrant provider: virtualbox or libvirt")
	fs.String("format", "", "provisioning: auto (by box generation and provider), ignition or cloud-config")
	fs.String("state-dir", d.StateDir, "directory for the rendered lab, keys and logs")
	fs.String("templates", "", "directory of templates overriding the embedded ones")
	for name, key := range map[string]string{
		"distro": "distro", "channel": "channel", "os-version": "version", "nodes": "nodes.count",
		"provider": "provider", "format": "format", "state-dir": "state_dir", "templates": "templates",
	} {
		BindFlag(fs, name, key)
	}
}

// Load merges the sources, decodes strictly and validates. Its errors name
// the key and where it was set (file:line:col, variable or flag); a failure
// is a *Error. A file of only comments is an empty file: the defaults.
func Load(src Source) (*Loaded, error) {
	if src.Getenv == nil {
		src.Getenv = func(string) string { return "" }
	}
	out := &Loaded{Dir: src.Dir}
	path := src.File
	explicit := path != ""
	if !explicit {
		path = DefaultFile
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(src.Dir, path)
	}
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		out.File = path
		out.Dir = filepath.Dir(path)
	case errors.Is(err, fs.ErrNotExist) && !explicit:
		data = nil
	default:
		return nil, &Error{Problems: []Problem{{Where: path, Msg: err.Error()}}}
	}
	display := displayName(path, src.Dir)

	// Precedence, lowest first: defaults, file, environment, flags. The
	// file decodes onto the defaults; the others set one key each.
	lab := Default()
	var idx yamlfile.Positions
	if data != nil {
		if idx, err = yamlfile.Decode(display, data, &lab); err != nil {
			return nil, fileError(err, display)
		}
	}
	keys := scalarKeys()
	origin := map[string]string{}
	problems := envOverrides(&lab, keys, src.Getenv, origin)
	if src.Environ != nil {
		out.Warnings = append(out.Warnings, unknownEnv(keys, src.Environ())...)
	}
	if src.Flags != nil {
		problems = append(problems, flagOverrides(&lab, keys, src.Flags, origin)...)
	}
	if len(problems) > 0 {
		return nil, &Error{Problems: problems}
	}
	normalize(&lab)
	out.Lab = lab

	// rank orders where a key was set: a problem that involves several
	// keys is blamed on the one the user set last.
	rank := func(key string) int {
		if o, ok := origin[key]; ok {
			if strings.HasPrefix(o, "--") {
				return 3
			}
			return 2
		}
		if _, ok := idx[key]; ok {
			return 1
		}
		return 0
	}
	where := func(key string) string {
		if o, ok := origin[key]; ok {
			return o
		}
		if p, ok := idx.Lookup(key); ok {
			return fmt.Sprintf("%s:%d:%d", display, p.Line, p.Col)
		}
		if out.File != "" {
			return display
		}
		return "default"
	}
	var errs []Problem
	found := Validate(lab)
	if lab.StateDir != "" {
		home := src.Getenv("HOME")
		if home == "" {
			home = src.Getenv("USERPROFILE")
		}
		if msg := stateDirProblem(out.StatePath(), out.Dir, home); msg != "" {
			found = append(found, Problem{Key: "state_dir", Msg: msg})
		}
	}
	for _, p := range found {
		for _, k := range p.Also {
			if rank(k) > rank(p.Key) {
				p.Key = k
			}
		}
		p.Also = nil
		p.Where = where(p.Key)
		if p.Warning {
			out.Warnings = append(out.Warnings, p.String())
			continue
		}
		errs = append(errs, p)
	}
	if len(errs) > 0 {
		return nil, &Error{Problems: errs}
	}
	v := reflect.ValueOf(out.Lab)
	for _, k := range keys {
		// Only the key's own position counts: where() falls back to the
		// enclosing section, which did not set this value.
		o := "default"
		if e, ok := origin[k.Key]; ok {
			o = e
		} else if p, ok := idx[k.Key]; ok {
			o = fmt.Sprintf("%s:%d:%d", display, p.Line, p.Col)
		}
		out.Settings = append(out.Settings, Setting{Key: k.Key, Value: v.FieldByIndex(k.Path).Interface(), Origin: o})
	}
	return out, nil
}

// fileError turns a decode error into Problems at file:line:col.
func fileError(err error, display string) error {
	var ye *yamlfile.Error
	if !errors.As(err, &ye) {
		return &Error{Problems: []Problem{{Where: display, Msg: err.Error()}}}
	}
	ps := make([]Problem, len(ye.Issues))
	for i, is := range ye.Issues {
		ps[i] = Problem{Key: is.Key, Where: is.Where(display), Msg: is.Msg}
	}
	return &Error{Problems: ps}
}

// normalize fills settings whose default depends on others.
func normalize(l *Lab) {
	if l.Format == "" {
		l.Format = "auto"
		if l.Distro == "coreos" {
			l.Format = "cloud-config"
		}
	}
	// An empty list in the file and an absent one are the same lab.
	if len(l.ForwardPorts) == 0 {
		l.ForwardPorts = nil
	}
	if len(l.SharedFolders) == 0 {
		l.SharedFolders = nil
	}
	for i := range l.SharedFolders {
		if l.SharedFolders[i].Type == "" {
			l.SharedFolders[i].Type = "rsync"
		}
	}
}

func displayName(path, dir string) string {
	if rel, err := filepath.Rel(dir, path); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return path
}

// envOverrides applies CODODEMO_<KEY> for every scalar key, so that a typo
// in a number is an error naming the variable rather than a silent default.
func envOverrides(lab *Lab, keys []keyInfo, getenv func(string) string, origin map[string]string) []Problem {
	var problems []Problem
	for _, k := range keys {
		name := EnvName(k.Key)
		raw := getenv(name)
		if raw == "" {
			continue
		}
		if err := k.set(lab, raw); err != nil {
			problems = append(problems, Problem{Key: k.Key, Where: name, Msg: err.Error()})
			continue
		}
		origin[k.Key] = name
	}
	return problems
}

// flagOverrides applies the flags bound with BindFlag that were given.
func flagOverrides(lab *Lab, keys []keyInfo, fs *pflag.FlagSet, origin map[string]string) []Problem {
	byKey := map[string]keyInfo{}
	for _, k := range keys {
		byKey[k.Key] = k
	}
	var problems []Problem
	fs.VisitAll(func(f *pflag.Flag) {
		bound := f.Annotations[flagKey]
		if len(bound) != 1 || !f.Changed {
			return
		}
		k, ok := byKey[bound[0]]
		if !ok {
			panic("config: flag --" + f.Name + " bound to unknown key " + bound[0])
		}
		if err := k.set(lab, f.Value.String()); err != nil {
			problems = append(problems, Problem{Key: k.Key, Where: "--" + f.Name, Msg: err.Error()})
			return
		}
		origin[k.Key] = "--" + f.Name
	})
	return problems
}

// unknownEnv warns about CODODEMO_* variables that set nothing.
func unknownEnv(keys []keyInfo, environ []string) []string {
	// Variables read elsewhere than the lab config.
	known := map[string]bool{"CODODEMO_CONFIG": true, "CODODEMO_CACHE_DIR": true, "CODODEMO_KEYRING": true}
	for _, k := range keys {
		known[EnvName(k.Key)] = true
	}
	var out []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "CODODEMO_") && !known[name] {
			out = append(out, fmt.Sprintf("%s: unknown setting, ignored", name))
		}
	}
	return out
}
