package vagrant

import (
	"fmt"
	"strconv"
	"strings"
)

// SSHConfig is one Host stanza of `vagrant ssh-config`.
type SSHConfig struct {
	Host          string   `json:"host"`
	HostName      string   `json:"hostname"`
	User          string   `json:"user"`
	Port          int      `json:"port"`
	IdentityFiles []string `json:"identity_files,omitempty"`
	// StrictHostKeyChecking is false when Vagrant says "no": Vagrant does not
	// pin host keys, cododemo does (pkg/inventory).
	StrictHostKeyChecking bool   `json:"strict_host_key_checking"`
	UserKnownHostsFile    string `json:"user_known_hosts_file,omitempty"`
	IdentitiesOnly        bool   `json:"identities_only"`
	ProxyCommand          string `json:"proxy_command,omitempty"`
	// Options holds every keyword as written (lower-cased key), last value
	// wins, for settings without a field.
	Options map[string]string `json:"options,omitempty"`
}

// ParseSSHConfig reads OpenSSH ssh_config stanzas as Vagrant prints them.
// Keywords are case-insensitive; values may be quoted (Vagrant quotes key
// paths with spaces) and may be separated by "=". Lines before the first
// Host are an error, because Vagrant never prints them.
func ParseSSHConfig(text string) ([]SSHConfig, error) {
	var out []SSHConfig
	var cur *SSHConfig
	for n, raw := range strings.Split(text, "\n") {
		line := strings.TrimSpace(strings.TrimSuffix(raw, "\r"))
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, val := splitKeyword(line)
		lkey := strings.ToLower(key)
		if lkey == "host" {
			if val == "" {
				return nil, fmt.Errorf("ssh-config line %d: Host without a name", n+1)
			}
			out = append(out, SSHConfig{Host: val, Port: 22, StrictHostKeyChecking: true, Options: map[string]string{}})
			cur = &out[len(out)-1]
			continue
		}
		if cur == nil {
			return nil, fmt.Errorf("ssh-config line %d: %q before any Host", n+1, line)
		}
		cur.Options[lkey] = val
		switch lkey {
		case "hostname":
			cur.HostName = val
		case "user":
			cur.User = val
		case "port":
			p, err := strconv.Atoi(val)
			if err != nil || p < 1 || p > 65535 {
				return nil, fmt.Errorf("ssh-config line %d: Host %s: bad Port %q", n+1, cur.Host, val)
			}
			cur.Port = p
		case "identityfile":
			cur.IdentityFiles = append(cur.IdentityFiles, val)
		case "stricthostkeychecking":
			cur.StrictHostKeyChecking = !strings.EqualFold(val, "no")
		case "userknownhostsfile":
			cur.UserKnownHostsFile = val
		case "identitiesonly":
			cur.IdentitiesOnly = strings.EqualFold(val, "yes")
		case "proxycommand":
			cur.ProxyCommand = val
		}
	}
	for _, c := range out {
		if c.HostName == "" {
			return nil, fmt.Errorf("ssh-config: Host %s has no HostName", c.Host)
		}
	}
	return out, nil
}

// splitKeyword splits `Key value`, `Key=value` or `Key "quoted value"`.
func splitKeyword(line string) (key, val string) {
	i := strings.IndexAny(line, " \t=")
	if i < 0 {
		return line, ""
	}
	key = line[:i]
	val = strings.TrimSpace(line[i:])
	val = strings.TrimSpace(strings.TrimPrefix(val, "="))
	if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
		val = val[1 : len(val)-1]
	}
	return key, val
}

// ParseSSHConfigMachineReadable reads `vagrant ssh-config --machine-readable`:
// one ssh-config record per machine (the raw copy Vagrant also prints is
// ignored). An error-exit record becomes an *Error.
func ParseSSHConfigMachineReadable(data []byte) ([]SSHConfig, error) {
	recs := ParseMachineReadable(data)
	var out []SSHConfig
	for _, r := range recs {
		if r.Type != "ssh-config" {
			continue
		}
		cs, err := ParseSSHConfig(r.Datum(0))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.Target, err)
		}
		out = append(out, cs...)
	}
	if err := ErrorFromRecords(recs); err != nil {
		return out, err
	}
	return out, nil
}
