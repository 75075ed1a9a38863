package vagrant

import (
	"regexp"
	"strings"
)

// A Vagrant command dies with a Ruby backtrace on stderr when a plugin
// raises an error that is not one of Vagrant's own: vagrant-libvirt
// re-raises fog's Fog::Errors::TimeoutError when a domain never gets an IP
// address, ruby-libvirt's Libvirt::Error escapes from some calls. Ruby
// prints the exception first, then one "from" line per frame:
//
//	/usr/share/.../fog/core/wait_for.rb:9:in `block in wait_for': The specified wait_for timeout (2 seconds) was exceeded (Fog::Errors::TimeoutError)
//		from /usr/share/.../fog/core/wait_for.rb:6:in `loop'
//
// Those frames are for the log file; the user gets the exception's class
// and message, classified.

// crashHead matches the first line of an uncaught exception: the frame,
// then the message and the class in parentheses. Ruby 3.4 quotes the
// method as 'm', earlier versions as `m'. With a message of several
// lines the class closes the last of them (crashHeadOpen, crashClass).
var (
	crashHead     = regexp.MustCompile("^(\\S[^:]*\\.rb):\\d+:in [`'][^']*': (.*) \\(([A-Z][A-Za-z0-9_]*(?:::[A-Z][A-Za-z0-9_]*)*)\\)$")
	crashHeadOpen = regexp.MustCompile("^(\\S[^:]*\\.rb):\\d+:in [`'][^']*': (.*)$")
	crashClass    = regexp.MustCompile(`^(.*) \(([A-Z][A-Za-z0-9_]*(?:::[A-Z][A-Za-z0-9_]*)*)\)$`)
)

// isFrame says whether line is a backtrace frame ("\tfrom file.rb:1:in ...").
func isFrame(line string) bool {
	t := strings.TrimLeft(line, " \t")
	return len(t) < len(line) && strings.HasPrefix(t, "from ") && strings.Contains(t, ":in ")
}

// isCrashHead says whether line starts an uncaught Ruby exception.
func isCrashHead(line string) bool {
	return crashHeadOpen.MatchString(line)
}

// Crash is an uncaught Ruby exception a vagrant run died of.
type Crash struct {
	// Class is the exception's class: Fog::Errors::TimeoutError.
	Class string
	// Message is its message, without the frame and the class.
	Message string
}

// ParseCrash finds the uncaught Ruby exception in a vagrant run's output,
// nil when it died of none.
func ParseCrash(out string) *Crash {
	lines := strings.Split(strings.ReplaceAll(out, "\r\n", "\n"), "\n")
	for i, l := range lines {
		if m := crashHead.FindStringSubmatch(l); m != nil {
			return &Crash{Class: m[3], Message: strings.TrimSpace(m[2])}
		}
		m := crashHeadOpen.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		// A message of several lines: the class closes the last one
		// before the first frame.
		msg := []string{m[2]}
		for _, next := range lines[i+1:] {
			if isFrame(next) {
				break
			}
			if c := crashClass.FindStringSubmatch(next); c != nil {
				return &Crash{Class: c[2], Message: strings.TrimSpace(strings.Join(append(msg, c[1]), "\n"))}
			}
			msg = append(msg, next)
		}
	}
	return nil
}
