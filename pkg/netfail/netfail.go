// Package netfail says what to do when cododemo cannot reach the release
// server or a mirror: the network error in one plain sentence, and the
// way out (a mirror, or a bundle carried in and used offline).
package netfail

import (
	"errors"
	"net"
	"net/url"
	"strings"
)

// Hint is the way out of a network failure, as every network command
// words it.
const Hint = "no network to the release server? use a mirror (--mirror URL, or mirror: in cododemo.yaml), " +
	"or bring a bundle packed elsewhere: cododemo bundle import DIR, then run with --offline"

// Error is a network failure explained.
type Error struct {
	Err error
	// text is Err's message with the raw network error replaced by a
	// sentence.
	text string
}

func (e *Error) Error() string { return e.text + "\n" + Hint }

func (e *Error) Unwrap() error { return e.Err }

// Explain returns err with its network failure (no route, no DNS,
// refused, reset, timed out) said in one sentence and the way out added;
// any other error is returned as it is.
func Explain(err error) error {
	var op *net.OpError
	var dns *net.DNSError
	if err == nil || !(errors.As(err, &op) || errors.As(err, &dns)) {
		return err
	}
	var ne *Error
	if errors.As(err, &ne) {
		return err // explained already
	}
	raw, sentence := rawAndSentence(err)
	text := err.Error()
	if raw != "" && strings.Contains(text, raw) {
		text = strings.Replace(text, raw, sentence, 1)
	}
	return &Error{Err: err, text: text}
}

// rawAndSentence finds the innermost request in err (a *url.Error, else
// the *net.OpError or *net.DNSError itself) and says what failed.
func rawAndSentence(err error) (raw, sentence string) {
	what := ""
	var ue *url.Error
	inner := err
	if errors.As(err, &ue) {
		raw, inner = ue.Error(), ue.Err
		what = ue.URL
		if u, perr := url.Parse(ue.URL); perr == nil {
			u.User = nil // never repeat a password from a mirror URL
			what = u.String()
		}
	}
	var dns *net.DNSError
	var op *net.OpError
	switch {
	case errors.As(inner, &dns):
		if raw == "" {
			raw = dns.Error()
		}
		cause := "the name does not resolve"
		if dns.IsTimeout {
			cause = "DNS timed out"
		} else if !dns.IsNotFound && dns.Err != "" {
			cause = dns.Err
		}
		if what == "" {
			what = dns.Name
		}
		return raw, "cannot reach " + what + ": " + cause + " (" + dns.Name + ")"
	case errors.As(inner, &op):
		if raw == "" {
			raw = op.Error()
		}
		if what == "" && op.Addr != nil {
			what = op.Addr.String()
		}
		cause := "network error"
		if op.Err != nil {
			cause = op.Err.Error()
			// "connect: connection refused" -> "connection refused"
			if i := strings.LastIndex(cause, ": "); i >= 0 {
				cause = cause[i+2:]
			}
		}
		if op.Timeout() {
			cause = "timed out"
		}
		return raw, "cannot reach " + what + ": " + cause
	}
	return "", ""
}
