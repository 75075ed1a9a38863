package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"
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
	fs.String("format", "", "provisioning: ignition (flatcar default) or cloud-config")
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
// is a *Error.
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
	var idx positions
	if len(bytes.TrimSpace(data)) > 0 {
		if idx, err = strictDecode(data, display); err != nil {
			return nil, err
		}
	}

	keys := scalarKeys()
	v := viper.New()
	for k, val := range defaultsMap(keys) {
		v.SetDefault(k, val)
	}
	v.SetConfigType("yaml")
	if data != nil {
		if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
			return nil, &Error{Problems: []Problem{{Where: display, Msg: err.Error()}}}
		}
	}

	origin := map[string]string{}
	envMap, problems := envOverrides(keys, src.Getenv, origin)
	if len(problems) > 0 {
		return nil, &Error{Problems: problems}
	}
	if err := v.MergeConfigMap(envMap); err != nil {
		return nil, err
	}
	if src.Environ != nil {
		out.Warnings = append(out.Warnings, unknownEnv(keys, src.Environ())...)
	}
	if src.Flags != nil {
		var bindErr error
		src.Flags.VisitAll(func(f *pflag.Flag) {
			if k := f.Annotations[flagKey]; len(k) == 1 {
				if f.Changed {
					origin[k[0]] = "--" + f.Name
				}
				if err := v.BindPFlag(k[0], f); err != nil {
					bindErr = err
				}
			}
		})
		if bindErr != nil {
			return nil, bindErr
		}
	}

	var lab Lab
	if err := v.UnmarshalExact(&lab, func(c *mapstructure.DecoderConfig) {
		c.WeaklyTypedInput = false
		c.ErrorUnused = true
	}); err != nil {
		return nil, &Error{Problems: []Problem{{Where: display, Msg: err.Error()}}}
	}
	normalize(&lab)
	out.Lab = lab

	where := func(key string) string {
		if o, ok := origin[key]; ok {
			return o
		}
		if p, ok := idx.lookup(key); ok {
			return fmt.Sprintf("%s:%d:%d", display, p.line, p.col)
		}
		if out.File != "" {
			return display
		}
		return "default"
	}
	var errs []Problem
	for _, p := range Validate(lab) {
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
	return out, nil
}

// normalize fills settings whose default depends on others.
func normalize(l *Lab) {
	if l.Format == "" {
		l.Format = "ignition"
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

// envOverrides reads CODODEMO_<KEY> for every scalar key and converts it to
// the field's type, so that a typo in a number is an error naming the
// variable rather than a silent default.
func envOverrides(keys []keyInfo, getenv func(string) string, origin map[string]string) (map[string]any, []Problem) {
	nested := map[string]any{}
	var problems []Problem
	for _, k := range keys {
		name := EnvName(k.Key)
		raw := getenv(name)
		if raw == "" {
			continue
		}
		var val any
		var err error
		switch k.Kind {
		case reflect.Int:
			val, err = strconv.Atoi(strings.TrimSpace(raw))
		case reflect.Bool:
			val, err = strconv.ParseBool(strings.TrimSpace(raw))
		default:
			val = raw
		}
		if err != nil {
			problems = append(problems, Problem{Key: k.Key, Where: name,
				Msg: fmt.Sprintf("%q is not a valid %s", raw, k.Kind)})
			continue
		}
		origin[k.Key] = name
		m := nested
		parts := strings.Split(k.Key, ".")
		for _, p := range parts[:len(parts)-1] {
			sub, ok := m[p].(map[string]any)
			if !ok {
				sub = map[string]any{}
				m[p] = sub
			}
			m = sub
		}
		m[parts[len(parts)-1]] = val
	}
	return nested, problems
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

// strictDecode decodes the YAML into Lab refusing unknown keys and wrong
// types, and indexes where every key sits for later messages.
func strictDecode(data []byte, display string) (positions, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, &Error{Problems: yamlProblems(err, display)}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var lab Lab
	if err := dec.Decode(&lab); err != nil {
		return nil, &Error{Problems: yamlProblems(err, display)}
	}
	idx := positions{}
	idx.walk(&root, "")
	return idx, nil
}

var (
	yamlLine     = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	yamlNotFound = regexp.MustCompile(`field (\S+) not found in type config\.(\w+)`)
	yamlType     = regexp.MustCompile(`cannot unmarshal !!(\w+) ` + "`" + `(.*)` + "`" + ` into (\S+)`)
)

// yamlProblems turns yaml.v3's messages into file:line problems in the
// user's words: keys, not Go types.
func yamlProblems(err error, display string) []Problem {
	var lines []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		lines = te.Errors
	} else {
		lines = []string{err.Error()}
	}
	var out []Problem
	for _, l := range lines {
		p := Problem{Where: display, Msg: l}
		if m := yamlLine.FindStringSubmatch(l); m != nil {
			p.Where = display + ":" + m[1]
			p.Msg = m[2]
		}
		if m := yamlNotFound.FindStringSubmatch(p.Msg); m != nil {
			p.Msg = fmt.Sprintf("unknown key %q (in %s)", m[1], sectionName(m[2]))
		} else if m := yamlType.FindStringSubmatch(p.Msg); m != nil {
			p.Msg = fmt.Sprintf("wrong type: %s %q where %s is expected", m[1], m[2], goTypeWord(m[3]))
		}
		out = append(out, p)
	}
	return out
}

func sectionName(goType string) string {
	if goType == "Lab" {
		return "the top level"
	}
	return "section " + strings.ToLower(goType)
}

func goTypeWord(t string) string {
	switch {
	case t == "int":
		return "a whole number"
	case t == "bool":
		return "true or false"
	case t == "string":
		return "a string"
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "config."):
		return "a mapping"
	}
	return t
}

type pos struct{ line, col int }

// positions maps dotted keys ("nodes.count", "forwarded_ports.0.host") to
// where their value starts in the file.
type positions map[string]pos

func (p positions) walk(n *yaml.Node, prefix string) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			p.walk(c, prefix)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			key := prefix + k.Value
			p[key] = pos{val.Line, val.Column}
			p.walk(val, key+".")
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			key := prefix + strconv.Itoa(i)
			p[key] = pos{c.Line, c.Column}
			p.walk(c, key+".")
		}
	}
}

func (p positions) lookup(key string) (pos, bool) {
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
	return pos{}, false
}
