package render

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/cododemo/cododemo/pkg/config"
	"github.com/cododemo/cododemo/pkg/plan"
)

// rubyEscaper escapes the only two characters a single-quoted Ruby string
// treats specially.
var rubyEscaper = strings.NewReplacer(`\`, `\\`, `'`, `\'`)

// Ruby writes v as a Ruby literal that cannot run code when Vagrant
// evaluates the Vagrantfile: a string as a single-quoted literal, where
// Ruby interpolates nothing (no #{}, no #@var) and only \\ and \' are
// escapes; an integer in decimal; a bool as true or false. Strings with
// control characters or invalid UTF-8 are refused rather than escaped:
// single quotes cannot spell them, and no valid value holds one.
func Ruby(v any) (string, error) {
	switch v := v.(type) {
	case string:
		if !utf8.ValidString(v) {
			return "", fmt.Errorf("%q is not valid UTF-8 and cannot go into the Vagrantfile", v)
		}
		if strings.ContainsFunc(v, unicode.IsControl) {
			return "", fmt.Errorf("%q contains a control character and cannot go into the Vagrantfile", v)
		}
		return "'" + rubyEscaper.Replace(v) + "'", nil
	case int:
		return strconv.Itoa(v), nil
	case bool:
		return strconv.FormatBool(v), nil
	case fmt.Stringer:
		return Ruby(v.String())
	default:
		return "", fmt.Errorf("a %T cannot be written as a Ruby literal", v)
	}
}

// checkVagrantValues checks, at render time, the values that reach the
// Vagrantfile from outside the lab file, which config.Validate has not
// seen: the box name and version a lock pins.
func checkVagrantValues(p *plan.Plan) error {
	if err := config.CheckBoxName(p.Box.Name); err != nil {
		return fmt.Errorf("box name (from the lock or box.name): %w", err)
	}
	if p.Box.Version != "" {
		if err := config.CheckBoxVersion(p.Box.Version); err != nil {
			return fmt.Errorf("box version (from the lock): %w", err)
		}
	}
	if p.Box.URL != "" {
		if err := config.CheckBoxURL(p.Box.URL); err != nil {
			return fmt.Errorf("box URL (from box.url or mirror): %w", err)
		}
	}
	return nil
}
