package render

import (
	"errors"
	"fmt"

	"github.com/cododemo/cododemo/pkg/cmdutil"
	"github.com/cododemo/cododemo/pkg/config"
	"github.com/cododemo/cododemo/pkg/lab"
	"github.com/cododemo/cododemo/pkg/plan"
	"github.com/cododemo/cododemo/pkg/render"
)

// Combination is one lab of the matrix.
type Combination struct {
	Distro, Channel, Format, Provider string
	Nodes                             int
}

func (c Combination) String() string {
	return fmt.Sprintf("%s/%s/%s/%s/%d", c.Distro, c.Channel, c.Format, c.Provider, c.Nodes)
}

// Matrix lists every supported combination of distro, channel, format,
// provider and three cluster sizes (1, the default, the maximum).
func Matrix() []Combination {
	var out []Combination
	for _, d := range config.Distros {
		for _, ch := range config.Channels[d] {
			for _, f := range config.Formats {
				if d == "coreos" && f == "ignition" {
					continue
				}
				for _, p := range config.Providers {
					for _, n := range []int{1, config.Default().Nodes.Count, config.MaxNodes} {
						out = append(out, Combination{d, ch, f, p, n})
					}
				}
			}
		}
	}
	return out
}

// CheckMatrix renders and validates every combination with tmpl and
// returns the failures joined.
func CheckMatrix(tmpl *render.Templates, version string, secrets plan.Secrets) (int, error) {
	var errs []error
	combos := Matrix()
	for _, c := range combos {
		lab := config.Default()
		lab.Distro, lab.Channel, lab.Format, lab.Provider, lab.Nodes.Count = c.Distro, c.Channel, c.Format, c.Provider, c.Nodes
		if ps := config.Validate(lab); hasError(ps) {
			errs = append(errs, fmt.Errorf("%s: invalid: %v", c, ps))
			continue
		}
		p, err := plan.New(lab, nil, secrets)
		if err == nil {
			_, err = render.Render(p, render.Options{Version: version, Templates: tmpl})
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c, err))
		}
	}
	return len(combos), errors.Join(errs...)
}

func hasError(ps []config.Problem) bool {
	for _, p := range ps {
		if !p.Warning {
			return true
		}
	}
	return false
}

// runMatrix checks every combination with the lab's templates (its
// --templates override included) and its secrets.
func runMatrix(opts *Options, lab *lab.Lab) error {
	tmpl, err := render.LoadTemplates(lab.TemplatesPath())
	if err != nil {
		return cmdutil.Usage(err)
	}
	n, err := CheckMatrix(tmpl, opts.Version, lab.Plan.Secrets)
	if err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.Out, "ok: %d combinations rendered and validated\n", n)
	return nil
}
