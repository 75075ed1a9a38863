package health

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Parsers of what nodes print. Everything here reads outside input: no
// panics on any bytes (fuzzed), errors say what was wrong.

// OSRelease is the part of os-release(5) and update.conf checks use.
type OSRelease struct {
	ID, IDLike, Name, VersionID, PrettyName string
	// Channel is update.conf's GROUP (Flatcar's update channel); "" when
	// there is no update.conf.
	Channel string
	Fields  map[string]string
}

// ParseOSRelease reads the output of CmdOSRelease: os-release, the marker,
// then update.conf files (later ones override earlier ones, as
// update_engine reads them).
func ParseOSRelease(out []byte) (OSRelease, error) {
	osPart, upd, _ := bytes.Cut(out, []byte(UpdateConfMarker))
	fields, err := parseEnvFile(osPart)
	if err != nil {
		return OSRelease{}, fmt.Errorf("os-release: %w", err)
	}
	r := OSRelease{Fields: fields, ID: fields["ID"], IDLike: fields["ID_LIKE"], Name: fields["NAME"],
		VersionID: fields["VERSION_ID"], PrettyName: fields["PRETTY_NAME"]}
	if r.ID == "" {
		return r, errors.New("os-release: no ID= line")
	}
	if u, err := parseEnvFile(upd); err == nil {
		r.Channel = u["GROUP"]
	}
	return r, nil
}

// parseEnvFile reads KEY=value lines with optional shell quoting, as
// os-release(5) specifies.
func parseEnvFile(b []byte) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" || strings.ContainsAny(k, " \t\"'") {
			return nil, fmt.Errorf("line %d: not KEY=value: %q", n, truncate(line, 60))
		}
		out[k] = unquote(v)
	}
	return out, sc.Err()
}

func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		q := v[0]
		v = v[1 : len(v)-1]
		if q == '"' {
			var b strings.Builder
			for i := 0; i < len(v); i++ {
				if v[i] == '\\' && i+1 < len(v) && strings.IndexByte("\"\\$`", v[i+1]) >= 0 {
					i++
				}
				b.WriteByte(v[i])
			}
			return b.String()
		}
	}
	return v
}

// EndpointHealth is one entry of `etcdctl endpoint health -w json`.
type EndpointHealth struct {
	Endpoint string `json:"endpoint"`
	Health   bool   `json:"health"`
	Took     string `json:"took"`
	Error    string `json:"error"`
}

// ParseEndpointHealth reads `etcdctl endpoint health [--cluster] -w json`.
func ParseEndpointHealth(out []byte) ([]EndpointHealth, error) {
	var hs []EndpointHealth
	if err := decodeJSON(out, &hs); err != nil {
		return nil, fmt.Errorf("endpoint health: %w", err)
	}
	return hs, nil
}

// Member is one etcd member.
type Member struct {
	ID         uint64   `json:"ID"`
	Name       string   `json:"name"`
	PeerURLs   []string `json:"peerURLs"`
	ClientURLs []string `json:"clientURLs"`
	IsLearner  bool     `json:"isLearner"`
}

// MemberList is `etcdctl member list -w json`.
type MemberList struct {
	Header struct {
		ClusterID uint64 `json:"cluster_id"`
		MemberID  uint64 `json:"member_id"`
		RaftTerm  uint64 `json:"raft_term"`
	} `json:"header"`
	Members []Member `json:"members"`
}

// ParseMemberList reads `etcdctl member list -w json`. IDs are uint64
// above 2^53: decoded into uint64 fields, never through float64.
func ParseMemberList(out []byte) (MemberList, error) {
	var ml MemberList
	if err := decodeJSON(out, &ml); err != nil {
		return ml, fmt.Errorf("member list: %w", err)
	}
	return ml, nil
}

// EndpointStatus is one entry of `etcdctl endpoint status -w json`.
type EndpointStatus struct {
	Endpoint string `json:"Endpoint"`
	Status   struct {
		Header struct {
			ClusterID uint64 `json:"cluster_id"`
			MemberID  uint64 `json:"member_id"`
			Revision  int64  `json:"revision"`
			RaftTerm  uint64 `json:"raft_term"`
		} `json:"header"`
		Version   string `json:"version"`
		DBSize    int64  `json:"dbSize"`
		Leader    uint64 `json:"leader"`
		RaftIndex uint64 `json:"raftIndex"`
		RaftTerm  uint64 `json:"raftTerm"`
	} `json:"Status"`
}

// ParseEndpointStatus reads `etcdctl endpoint status [--cluster] -w json`.
func ParseEndpointStatus(out []byte) ([]EndpointStatus, error) {
	var st []EndpointStatus
	if err := decodeJSON(out, &st); err != nil {
		return nil, fmt.Errorf("endpoint status: %w", err)
	}
	return st, nil
}

// decodeJSON decodes exactly one JSON value (etcdctl prints one), so that
// a truncated or concatenated output is an error, not half a result.
func decodeJSON(out []byte, v any) error {
	trimmed := bytes.TrimSpace(out)
	if len(trimmed) == 0 {
		return errors.New("no output")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("not the JSON etcdctl prints: %w (%q)", err, truncate(string(trimmed), 80))
	}
	if dec.More() {
		return fmt.Errorf("unexpected data after the JSON (%q)", truncate(string(trimmed), 80))
	}
	return nil
}

// FleetMachine is a row of `fleetctl list-machines --full --no-legend`.
type FleetMachine struct {
	ID       string
	IP       string
	Metadata string // "-" or k=v,k=v
}

// ParseFleetMachines reads `fleetctl list-machines --full --no-legend
// --fields=machine,ip,metadata`: tab-padded columns (fleetctl uses a
// tabwriter), a "-" for an empty field. A legend line, if present, is
// skipped. Truncated IDs ("1a2b3c4d...") are refused: without --full two
// machines can look alike.
func ParseFleetMachines(out []byte) ([]FleetMachine, error) {
	var ms []FleetMachine
	for i, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(ms) == 0 && strings.EqualFold(f[0], "MACHINE") {
			continue
		}
		if len(f) < 2 || len(f) > 3 {
			return nil, fmt.Errorf("list-machines line %d: want MACHINE IP [METADATA], got %q", i+1, truncate(line, 80))
		}
		if strings.HasSuffix(f[0], "...") {
			return nil, fmt.Errorf("list-machines line %d: machine ID %q is truncated (run with --full)", i+1, f[0])
		}
		if !isHex(f[0]) {
			return nil, fmt.Errorf("list-machines line %d: machine ID %q is not hexadecimal", i+1, truncate(f[0], 40))
		}
		m := FleetMachine{ID: f[0], IP: f[1], Metadata: "-"}
		if len(f) == 3 {
			m.Metadata = f[2]
		}
		ms = append(ms, m)
	}
	return ms, nil
}

// FleetUnit is a row of `fleetctl list-units --no-legend --fields=unit,active`.
type FleetUnit struct{ Name, Active string }

// ParseFleetUnits reads `fleetctl list-units --no-legend --full --fields=unit,active`.
func ParseFleetUnits(out []byte) ([]FleetUnit, error) {
	var us []FleetUnit
	for i, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(us) == 0 && f[0] == "UNIT" {
			continue
		}
		if len(f) != 2 {
			return nil, fmt.Errorf("list-units line %d: want UNIT ACTIVE, got %q", i+1, truncate(line, 80))
		}
		us = append(us, FleetUnit{Name: f[0], Active: f[1]})
	}
	return us, nil
}

// ParseFailedUnits reads `systemctl list-units --failed --plain
// --no-legend`: the first column is the unit (older systemd prints a "●"
// marker before it even with --plain).
func ParseFailedUnits(out []byte) []string {
	var units []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && (f[0] == "●" || f[0] == "*") {
			f = f[1:]
		}
		if len(f) == 0 || !strings.Contains(f[0], ".") {
			continue
		}
		units = append(units, f[0])
	}
	return units
}

// ParseSystemState reads `systemctl is-system-running`'s first line.
func ParseSystemState(out []byte) string {
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return strings.TrimSpace(line)
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// hostOf returns the host of an etcd URL (http://10.0.0.1:2379 → 10.0.0.1).
func hostOf(url string) string {
	s := url
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
	}
	if i := strings.IndexAny(s, "/?#"); i >= 0 {
		s = s[:i]
	}
	if strings.HasPrefix(s, "[") {
		if i := strings.Index(s, "]"); i >= 0 {
			return s[1:i]
		}
	}
	if i := strings.LastIndex(s, ":"); i >= 0 && strings.Count(s, ":") == 1 {
		if _, err := strconv.Atoi(s[i+1:]); err == nil {
			return s[:i]
		}
	}
	return s
}
