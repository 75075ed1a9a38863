package render

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/coreos/coreos-cloudinit/config/validate"
	butane "github.com/coreos/ignition/v2/butane/config"
	"github.com/coreos/ignition/v2/butane/config/common"
	ignition "github.com/coreos/ignition/v2/config/v3_4"
	"github.com/coreos/vcontext/report"
)

// Butane translates Butane to Ignition in strict mode: every report entry,
// warnings included, is an error pointing at name:line:col with a caret.
func Butane(src []byte, name string) ([]byte, error) { return butaneAt(src, name, nil) }

// butaneAt is Butane with each error placed by where: the template line a
// rendered line came from.
func butaneAt(src []byte, name string, where func(line int) (location, bool)) ([]byte, error) {
	ign, rpt, err := butane.TranslateBytes(src, common.TranslateBytesOptions{Pretty: true})
	if len(rpt.Entries) > 0 {
		return nil, reportError(rpt, src, name, where)
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
		return reportError(rpt, ign, "ignition", nil)
	}
	return err
}

// LegacyKeys are the cloud-config sections CoreOS Container Linux boxes
// (before release 1675) still act on, which coreos-cloudinit's validator
// flags as deprecated. For the coreos distro those two warnings are the
// point of the legacy path and are accepted; every other entry is an error.
var LegacyKeys = []string{"etcd2", "fleet"}

// cloudinitMu serialises coreos-cloudinit's validator: it swaps the yaml
// package's global key transform on every call (validate.go's
// parseCloudConfig), so two at once race (seen with -race when the matrix
// rendered in parallel).
var cloudinitMu sync.Mutex

// ValidateCloudConfig runs coreos-cloudinit's validator; warnings count as
// errors except the deprecation of allowed legacy keys. Safe for
// concurrent use.
func ValidateCloudConfig(cc []byte, allowed ...string) error {
	cloudinitMu.Lock()
	rpt, err := validate.Validate(cc)
	cloudinitMu.Unlock()
	if err != nil {
		return err
	}
	type entry struct {
		line      int
		kind, msg string
	}
	var entries []entry
	for _, e := range rpt.Entries() {
		var en entry
		fmt.Sscanf(e.String(), "line %d:", &en.line)
		en.kind, en.msg = entryParts(e.String())
		if en.kind == "warning" && deprecatedAllowed(en.msg, allowed) {
			continue
		}
		entries = append(entries, en)
	}
	if len(entries) == 0 {
		return nil
	}
	// The validator reports in map order; sort by line for stable output.
	sort.Slice(entries, func(i, j int) bool { return entries[i].line < entries[j].line })
	lines := bytes.Split(cc, []byte("\n"))
	msgs := make([]string, 0, len(entries))
	for _, en := range entries {
		m := fmt.Sprintf("line %d: %s: %s", en.line, en.kind, en.msg)
		if en.line > 0 && en.line <= len(lines) {
			m += "\n    " + strings.TrimRight(string(lines[en.line-1]), " ")
		}
		msgs = append(msgs, m)
	}
	return fmt.Errorf("cloud-config: %s", strings.Join(msgs, "\n"))
}

func deprecatedAllowed(msg string, allowed []string) bool {
	for _, k := range allowed {
		if strings.HasPrefix(msg, fmt.Sprintf("deprecated key %q", k)) {
			return true
		}
	}
	return false
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
// the offending line and a caret under the column. With where, an entry
// starts at the template line that rendered the offending one.
func reportError(r report.Report, src []byte, name string, where func(line int) (location, bool)) error {
	lines := bytes.Split(src, []byte("\n"))
	var b strings.Builder
	for i, e := range r.Entries {
		if i > 0 {
			b.WriteString("\n")
		}
		line, col := e.Marker.Start()
		switch {
		case line > 0:
			if loc, ok := locate(where, int(line)); ok {
				fmt.Fprintf(&b, "%s: %s: %s (rendered as %s:%d:%d)", loc, e.Kind, e.Message, name, line, col)
			} else {
				fmt.Fprintf(&b, "%s:%d:%d: %s: %s", name, line, col, e.Kind, e.Message)
			}
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

func locate(where func(int) (location, bool), line int) (location, bool) {
	if where == nil {
		return location{}, false
	}
	return where(line)
}
