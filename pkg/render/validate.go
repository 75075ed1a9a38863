package render

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/coreos/coreos-cloudinit/config/validate"
	butane "github.com/coreos/ignition/v2/butane/config"
	"github.com/coreos/ignition/v2/butane/config/common"
	ignition "github.com/coreos/ignition/v2/config/v3_4"
	"github.com/coreos/vcontext/report"
)

// Butane translates Butane to Ignition in strict mode: every report entry,
// warnings included, is an error pointing at name:line:col with a caret.
func Butane(src []byte, name string) ([]byte, error) {
	ign, rpt, err := butane.TranslateBytes(src, common.TranslateBytesOptions{Pretty: true})
	if len(rpt.Entries) > 0 {
		return nil, reportError(rpt, src, name)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return append(ign, '\n'), nil
}

// ValidateIgnition runs Ignition's own 3.4.0 parser and validation.
func ValidateIgnition(ign []byte) error {
	_, rpt, err := ignition.Parse(ign)
	if len(rpt.Entries) > 0 {
		return reportError(rpt, ign, "ignition")
	}
	return err
}

// ValidateCloudConfig runs coreos-cloudinit's validator; warnings count.
func ValidateCloudConfig(cc []byte) error {
	rpt, err := validate.Validate(cc)
	if err != nil {
		return err
	}
	var msgs []string
	lines := bytes.Split(cc, []byte("\n"))
	for _, e := range rpt.Entries() {
		// Entry's JSON carries kind, line and message.
		var line int
		var kind, msg string
		fmt.Sscanf(e.String(), "line %d:", &line)
		kind, msg = entryParts(e.String())
		m := fmt.Sprintf("line %d: %s: %s", line, kind, msg)
		if line > 0 && line <= len(lines) {
			m += "\n    " + strings.TrimRight(string(lines[line-1]), " ")
		}
		msgs = append(msgs, m)
	}
	if len(msgs) > 0 {
		return fmt.Errorf("cloud-config: %s", strings.Join(msgs, "\n"))
	}
	return nil
}

// entryParts splits coreos-cloudinit's "line N: kind: message".
func entryParts(s string) (kind, msg string) {
	_, rest, _ := strings.Cut(s, ": ")
	kind, msg, ok := strings.Cut(rest, ": ")
	if !ok {
		return "error", rest
	}
	return kind, msg
}

// reportError formats a vcontext report like Butane's CLI: name:line:col,
// the offending line and a caret under the column.
func reportError(r report.Report, src []byte, name string) error {
	lines := bytes.Split(src, []byte("\n"))
	var b strings.Builder
	for i, e := range r.Entries {
		if i > 0 {
			b.WriteString("\n")
		}
		line, col := e.Marker.Start()
		switch {
		case line > 0:
			fmt.Fprintf(&b, "%s:%d:%d: %s: %s", name, line, col, e.Kind, e.Message)
			if int(line) <= len(lines) {
				text := string(lines[line-1])
				fmt.Fprintf(&b, "\n    %s\n    %s^", text, strings.Repeat(" ", max(int(col)-1, 0)))
			}
		case e.Context.Len() > 0:
			fmt.Fprintf(&b, "%s: %s at %s: %s", name, e.Kind, e.Context, e.Message)
		default:
			fmt.Fprintf(&b, "%s: %s: %s", name, e.Kind, e.Message)
		}
	}
	return fmt.Errorf("%s", b.String())
}
