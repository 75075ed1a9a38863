package lab

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/cododemo/cododemo/pkg/config"
	"github.com/cododemo/cododemo/pkg/hostos"
	"github.com/cododemo/cododemo/pkg/render"
)

// Render renders the lab with its templates (the templates override
// included) and validates everything; nothing is written. Every failure is
// an *Error: of the templates or of the settings they are given.
func (l *Lab) Render(version string) (*render.Result, *render.Templates, error) {
	tmpl, err := render.LoadTemplates(l.TemplatesPath())
	if err != nil {
		return nil, nil, &Error{err}
	}
	res, err := render.Render(l.Plan, render.Options{Version: version, Templates: tmpl, ConfigDir: l.ConfigDirFromState()})
	if err != nil {
		// A template that does not parse and one that fails when run, or
		// renders something the validators refuse, are the same to the
		// user: the lab's templates or settings are wrong (exit 2).
		return nil, nil, &Error{err}
	}
	// Ruby's parser is one more validator: a Vagrantfile template with a
	// syntax error is the lab's template wrong, too.
	if err := render.CheckRuby(res); err != nil {
		return nil, nil, &Error{err}
	}
	return res, tmpl, nil
}

// WriteRender renders the lab into its state dir (what `render` and `up`
// do) and prints what changed to out.
func (l *Lab) WriteRender(version string, force bool, out io.Writer) (*render.Result, error) {
	res, tmpl, err := l.Render(version)
	if err != nil {
		return nil, err
	}
	rep, err := render.Write(l.State, res, force)
	if err != nil {
		return nil, err
	}
	rel := relTo(l.Dir, l.State.Path)
	fmt.Fprintf(out, "rendered %s into %s: %d written, %d unchanged", Describe(l.Plan.Lab), rel, len(rep.Written), len(rep.Unchanged))
	if len(rep.Removed) > 0 {
		fmt.Fprintf(out, ", %d removed (%s)", len(rep.Removed), strings.Join(rep.Removed, ", "))
	}
	fmt.Fprintln(out)
	if len(tmpl.Overridden) > 0 {
		fmt.Fprintf(out, "templates from %s: %s\n", l.TemplatesPath(), strings.Join(tmpl.Overridden, ", "))
	}
	return res, nil
}

// ConfigDirFromState is the config file's directory as seen from the state
// dir, so the Vagrantfile resolves relative paths the way the user wrote them.
func (l *Lab) ConfigDirFromState() string {
	// Relative with / where it can be; on Windows across drives the
	// absolute C:/... form (hostos.VagrantfilePath decides).
	return hostos.VagrantfilePath(hostos.GOOS, l.State.Path, l.Dir)
}

// Describe is a lab in one line: "3 x flatcar stable current (ignition, virtualbox)".
// Pass the plan's copy (Plan.Lab), whose format is the one decided for the box.
func Describe(c config.Lab) string {
	return fmt.Sprintf("%d x %s %s %s (%s, %s)", c.Nodes.Count, c.Distro, c.Channel, c.Version, c.Format, c.Provider)
}

func relTo(base, p string) string {
	if r, err := filepath.Rel(base, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}
