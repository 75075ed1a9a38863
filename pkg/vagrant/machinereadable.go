// Package vagrant drives the vagrant CLI for a lab's state dir. Running a
// command (Driver) and reading its output (the Parse* functions) are kept
// apart, lima style: the parsers are pure and tested against output captured
// from the real vagrant in testdata/vagrant.
package vagrant

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"
)

// Record is one line of `vagrant --machine-readable` output:
// timestamp,target,type,data...
type Record struct {
	Time   int64
	Target string // machine name, "" for the environment
	Type   string // metadata, state, ui, error-exit, box-name, ssh-config, ...
	Data   []string
}

// Datum returns Data[i], or "" when the record is shorter.
func (r Record) Datum(i int) string {
	if i < len(r.Data) {
		return r.Data[i]
	}
	return ""
}

// maxLine bounds one machine-readable line; Vagrant puts whole multi-line
// messages on one line, but nothing it prints comes near this.
const maxLine = 4 << 20

// ParseMachineReadable reads every machine-readable record in data. Lines
// that are not records are skipped, because Vagrant mixes plain text into
// this mode (ssh-config prints its stanza twice: once as a record, once
// raw).
func ParseMachineReadable(data []byte) []Record {
	var out []Record
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	for sc.Scan() {
		if r, ok := ParseRecord(sc.Text()); ok {
			out = append(out, r)
		}
	}
	return out
}

// ParseRecord parses one line; ok is false when it is not a record.
func ParseRecord(line string) (Record, bool) {
	line = strings.TrimSuffix(line, "\r")
	fields := strings.Split(line, ",")
	if len(fields) < 3 || fields[2] == "" {
		return Record{}, false
	}
	ts, err := strconv.ParseInt(fields[0], 10, 64)
	if err != nil || ts < 0 || fields[0][0] == '+' {
		return Record{}, false
	}
	r := Record{Time: ts, Target: fields[1], Type: fields[2]}
	for _, f := range fields[3:] {
		r.Data = append(r.Data, Unescape(f))
	}
	return r, true
}

// Unescape undoes Vagrant's machine-readable escaping (lib/vagrant/ui.rb:
// "," becomes %!(VAGRANT_COMMA), newlines and carriage returns become \n
// and \r). Vagrant does not escape backslashes, so a literal `\n` in a
// message cannot be told apart; it becomes a newline, as Vagrant's own
// consumers do.
func Unescape(s string) string {
	if !strings.ContainsAny(s, `%\`) {
		return s
	}
	return unescaper.Replace(s)
}

var unescaper = strings.NewReplacer(`%!(VAGRANT_COMMA)`, ",", `\n`, "\n", `\r`, "\r")
