package sshx

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/cododemo/cododemo/pkg/fsutil"
)

// KnownHosts pins host keys in an OpenSSH known_hosts file: the first key a
// host shows is recorded; any other key later is a HostKeyChangedError.
// One value is shared by every dial of a run so concurrent first contacts
// do not lose each other's lines.
type KnownHosts struct {
	Path string
	// NoPin refuses unknown hosts instead of recording them.
	NoPin bool

	mu sync.Mutex
}

// NewKnownHosts returns a store backed by path (created on first pin).
func NewKnownHosts(path string) *KnownHosts { return &KnownHosts{Path: path} }

// HostKeyChangedError is a node presenting a different key from the pinned
// one: a re-created VM, or someone in the middle.
type HostKeyChangedError struct {
	Node, Host string
	Got        string   // fingerprint shown now
	Want       []string // pinned fingerprints
	File       string
	Line       int
}

func (e *HostKeyChangedError) Error() string {
	return fmt.Sprintf("%s: HOST KEY CHANGED for %s: pinned %s, now %s. Someone may be intercepting the connection, "+
		"or the node was re-created. If you re-created it, delete line %d of %s and run again",
		e.Node, e.Host, strings.Join(e.Want, ", "), e.Got, e.Line, e.File)
}

// UnknownHostError is an unpinned host when pinning is off.
type UnknownHostError struct{ Node, Host, Got string }

func (e *UnknownHostError) Error() string {
	return fmt.Sprintf("%s: host key of %s (%s) is not in known_hosts", e.Node, e.Host, e.Got)
}

func (k *KnownHosts) load() (ssh.HostKeyCallback, error) {
	if _, err := os.Stat(k.Path); errors.Is(err, os.ErrNotExist) {
		return func(string, net.Addr, ssh.PublicKey) error {
			return &knownhosts.KeyError{}
		}, nil
	}
	return knownhosts.New(k.Path)
}

// Callback verifies (and on first contact pins) the key of node.
func (k *KnownHosts) Callback(node string) ssh.HostKeyCallback {
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		k.mu.Lock()
		defer k.mu.Unlock()
		cb, err := k.load()
		if err != nil {
			return fmt.Errorf("known_hosts %s: %w", k.Path, err)
		}
		err = cb(hostname, remote, key)
		var ke *knownhosts.KeyError
		var re *knownhosts.RevokedError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &re):
			return fmt.Errorf("%s: host key of %s is revoked in %s", node, hostname, k.Path)
		case errors.As(err, &ke) && len(ke.Want) > 0:
			e := &HostKeyChangedError{Node: node, Host: hostname, Got: ssh.FingerprintSHA256(key), File: k.Path}
			for _, w := range ke.Want {
				e.Want = append(e.Want, ssh.FingerprintSHA256(w.Key))
				if e.Line == 0 {
					e.Line = w.Line
				}
			}
			return e
		case errors.As(err, &ke):
			if k.NoPin {
				return &UnknownHostError{Node: node, Host: hostname, Got: ssh.FingerprintSHA256(key)}
			}
			return k.pin(hostname, key)
		}
		return err
	}
}

// pin appends the key; the file is rewritten atomically so a reader never
// sees half a line.
func (k *KnownHosts) pin(hostname string, key ssh.PublicKey) error {
	old, err := os.ReadFile(k.Path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if len(old) > 0 && old[len(old)-1] != '\n' {
		old = append(old, '\n')
	}
	line := knownhosts.Line([]string{knownhosts.Normalize(hostname)}, key)
	data := append(old, []byte(line+"\n")...)
	if err := fsutil.WriteFileAtomic(k.Path, data, 0o600); err != nil {
		return fmt.Errorf("pin host key in %s: %w", k.Path, err)
	}
	return nil
}

// Algorithms lists the key types pinned for addr, so the server is asked
// for the kind of key we can check; nil lets the client choose.
func (k *KnownHosts) Algorithms(addr string) []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	cb, err := k.load()
	if err != nil {
		return nil
	}
	// A throwaway key never matches: the KeyError lists what is pinned.
	err = cb(addr, fakeAddr(addr), probeKey{})
	var ke *knownhosts.KeyError
	if !errors.As(err, &ke) || len(ke.Want) == 0 {
		return nil
	}
	var out []string
	for _, w := range ke.Want {
		out = append(out, algorithmsFor(w.Key.Type())...)
	}
	return out
}

// Pinned returns the host keys pinned for addr (host:port), in file
// order; none when addr is not pinned or the file does not exist.
func (k *KnownHosts) Pinned(addr string) ([]ssh.PublicKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, err := os.Stat(k.Path); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	cb, err := knownhosts.New(k.Path)
	if err != nil {
		return nil, fmt.Errorf("known_hosts %s: %w", k.Path, err)
	}
	// A throwaway key never matches: the KeyError lists what is pinned.
	err = cb(addr, fakeAddr(addr), probeKey{})
	var ke *knownhosts.KeyError
	if !errors.As(err, &ke) {
		return nil, nil
	}
	var out []ssh.PublicKey
	for _, w := range ke.Want {
		out = append(out, w.Key)
	}
	return out, nil
}

func algorithmsFor(keyType string) []string {
	if keyType == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{keyType}
}

type probeKey struct{}

func (probeKey) Type() string                        { return "cododemo-probe" }
func (probeKey) Marshal() []byte                     { return []byte("cododemo-probe") }
func (probeKey) Verify([]byte, *ssh.Signature) error { return errors.New("probe") }

// fakeAddr makes a TCP address from addr without resolving names: a
// lookup here would send DNS traffic for a question the file answers.
func fakeAddr(addr string) net.Addr {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	p, _ := strconv.Atoi(port)
	ip := net.ParseIP(host)
	if ip == nil {
		ip = net.IPv4zero
	}
	return &net.TCPAddr{IP: ip, Port: p}
}

// Forget drops what is pinned for addr (host:port, or a bare host for
// port 22), so the next contact pins the node's new key: for a VM that was
// destroyed and created again. Lines naming other hosts too keep those
// hosts; hashed names are matched; @cert-authority and @revoked lines and
// wildcard patterns are left alone (they are policy, not pins). The file
// is rewritten atomically; a missing file or nothing to drop is not an
// error.
func (k *KnownHosts) Forget(addr string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	data, err := os.ReadFile(k.Path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("known_hosts %s: %w", k.Path, err)
	}
	host := knownhosts.Normalize(addr)
	lines := strings.SplitAfter(string(data), "\n")
	var b strings.Builder
	changed := false
	for _, line := range lines {
		kept, drop := forgetLine(line, host)
		if drop || kept != line {
			changed = true
		}
		if !drop {
			b.WriteString(kept)
		}
	}
	if !changed {
		return nil
	}
	mode := os.FileMode(0o600)
	if fi, err := os.Stat(k.Path); err == nil {
		mode = fi.Mode().Perm()
	}
	if err := fsutil.WriteFileAtomic(k.Path, []byte(b.String()), mode); err != nil {
		return fmt.Errorf("forget %s in %s: %w", addr, k.Path, err)
	}
	return nil
}

// forgetLine returns line without host in its host list, and whether the
// whole line goes.
func forgetLine(line, host string) (string, bool) {
	body := strings.TrimLeft(line, " \t")
	if body == "" || body[0] == '#' || body[0] == '@' {
		return line, false
	}
	end := strings.IndexAny(body, " \t")
	if end < 0 {
		return line, false
	}
	var keep []string
	removed := false
	for _, h := range strings.Split(body[:end], ",") {
		if h == host || hashedMatch(h, host) {
			removed = true
			continue
		}
		keep = append(keep, h)
	}
	if !removed {
		return line, false
	}
	if len(keep) == 0 {
		return "", true
	}
	return strings.Join(keep, ",") + body[end:], false
}

// hashedMatch says whether a HashKnownHosts entry (|1|salt|hash, both
// base64, hash = HMAC-SHA1 keyed by salt over the host) names host.
func hashedMatch(entry, host string) bool {
	if !strings.HasPrefix(entry, "|1|") {
		return false
	}
	parts := strings.Split(entry[3:], "|")
	if len(parts) != 2 {
		return false
	}
	salt, err1 := base64.StdEncoding.DecodeString(parts[0])
	want, err2 := base64.StdEncoding.DecodeString(parts[1])
	if err1 != nil || err2 != nil {
		return false
	}
	mac := hmac.New(sha1.New, salt)
	mac.Write([]byte(host))
	return hmac.Equal(mac.Sum(nil), want)
}
