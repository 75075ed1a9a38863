package workshop

import (
	"fmt"
	"strconv"
	"time"

	"github.com/cododemo/cododemo/pkg/yamlfile"
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

// decodeFile decodes one exercise file strictly with the project's YAML
// decoder (unknown keys, wrong types and duplicates are errors naming the
// dotted key and file:line:col, never a Go type), then gives every part
// of the exercise its position for the checks that follow, and reads the
// durations.
func decodeFile(file string, data []byte, ex *Exercise) error {
	pos, err := yamlfile.Decode(file, data, ex)
	if err != nil {
		return err
	}
	at := func(key string) Pos {
		p, ok := pos.Lookup(key)
		if !ok {
			return Pos{File: file, Line: 1, Col: 1}
		}
		return Pos{File: file, Line: p.Line, Col: p.Col}
	}
	duration := func(key, text string) (time.Duration, error) {
		if text == "" {
			return 0, nil
		}
		d, err := time.ParseDuration(text)
		if err != nil || d < 0 {
			return 0, at(key).Errorf("%s: want a duration like 5s or 2m, got %q", key, text)
		}
		return d, nil
	}
	ex.Pos = at("id")
	if ex.Probe != nil {
		ex.Probe.Pos = at("probe")
		if ex.Probe.Every, err = duration("probe.every", ex.Probe.EveryText); err != nil {
			return err
		}
	}
	for _, g := range []struct {
		key   string
		steps []Step
	}{{"steps", ex.Steps}, {"checkpoints", ex.Checkpoints}, {"cleanup", ex.Cleanup}} {
		for i := range g.steps {
			s := &g.steps[i]
			key := g.key + "." + strconv.Itoa(i)
			s.Pos = at(key)
			if s.Expect != nil {
				s.Expect.Pos = at(key + ".expect")
			}
			if s.HTTP != nil {
				s.HTTP.Pos = at(key + ".http")
			}
			if s.Etcd != nil {
				s.Etcd.Pos = at(key + ".etcd")
			}
			if s.Fleet != nil {
				s.Fleet.Pos = at(key + ".fleet")
			}
			for _, d := range []struct {
				name string
				text string
				to   *time.Duration
			}{{"retry", s.RetryText, &s.Retry}, {"every", s.EveryText, &s.Every}, {"timeout", s.TimeoutText, &s.Timeout}} {
				if *d.to, err = duration(key+"."+d.name, d.text); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
