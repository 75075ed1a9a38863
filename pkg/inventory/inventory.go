// Package inventory describes the cluster cododemo verifies: per node a
// name, the private address its services advertise, and how to reach it
// over SSH. cododemo writes one for its own labs (<state_dir>/inventory.yaml);
// users write one by hand, in YAML or JSON, for any CoreOS-family cluster.
package inventory

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/cododemo/cododemo/pkg/fsutil"
	"github.com/cododemo/cododemo/pkg/plan"
	"github.com/cododemo/cododemo/pkg/yamlfile"
)

// Services a cluster may run. Checks for a service the inventory does not
// list are skipped with that reason.
const (
	ServiceEtcd   = "etcd"
	ServiceFleet  = "fleet"
	ServiceDocker = "docker"
	// ServiceKit is cododemo's workshop image kit loaded into each node's
	// Docker (cododemo/hello:1, web:1, lb:1); it needs docker too.
	ServiceKit = "kit"
)

// KnownServices lists the services checks exist for.
var KnownServices = []string{ServiceEtcd, ServiceFleet, ServiceDocker, ServiceKit}

// DefaultServices apply when an inventory lists none: what a plain Flatcar
// cluster runs (fleet is no longer shipped, so it must be asked for).
var DefaultServices = []string{ServiceEtcd, ServiceDocker}

// Inventory is the cluster.
type Inventory struct {
	Nodes []Node `yaml:"nodes" json:"nodes"`
	// Services the cluster runs; empty means DefaultServices.
	Services []string `yaml:"services,omitempty" json:"services,omitempty"`
	// EtcdMembers names the nodes that run an etcd member; empty means every
	// node. Other nodes reach the cluster as clients.
	EtcdMembers []string `yaml:"etcd_members,omitempty" json:"etcd_members,omitempty"`
	// OS is what the nodes should run; empty fields are not compared.
	OS OS `yaml:"os,omitempty" json:"os,omitempty"`
	// EtcdClientPort is where the members serve clients on their
	// addresses (default 2379): cluster-wide checks reach every member
	// there, so one member being down does not blind them.
	EtcdClientPort int `yaml:"etcd_client_port,omitempty" json:"etcd_client_port,omitempty"`
}

// DefaultEtcdClientPort is etcd's client port.
const DefaultEtcdClientPort = 2379

// EtcdClientURLs lists every member's client URL.
func (inv *Inventory) EtcdClientURLs() []string {
	port := inv.EtcdClientPort
	if port == 0 {
		port = DefaultEtcdClientPort
	}
	var urls []string
	for _, m := range inv.Members() {
		if n, ok := inv.Node(m); ok {
			urls = append(urls, "http://"+netJoin(n.Address, port))
		}
	}
	return urls
}

// Node is one machine.
type Node struct {
	Name string `yaml:"name" json:"name"`
	// Address is the private address etcd and fleet advertise.
	Address string `yaml:"address" json:"address"`
	SSH     SSH    `yaml:"ssh" json:"ssh"`
}

// SSH is how to log in to a node.
type SSH struct {
	Host string `yaml:"host" json:"host"`
	// Port defaults to 22.
	Port int    `yaml:"port,omitempty" json:"port,omitempty"`
	User string `yaml:"user" json:"user"`
	// IdentityFile is a private key; "~/" is the home directory, relative
	// paths are relative to the inventory file. Empty: the SSH agent only.
	IdentityFile string `yaml:"identity_file,omitempty" json:"identity_file,omitempty"`
}

// OS is the expected operating system.
type OS struct {
	ID      string `yaml:"id,omitempty" json:"id,omitempty"`           // flatcar
	Version string `yaml:"version,omitempty" json:"version,omitempty"` // 4593.2.5
	Channel string `yaml:"channel,omitempty" json:"channel,omitempty"` // stable
}

// Addr is the SSH endpoint as host:port.
func (s SSH) Addr() string {
	p := s.Port
	if p == 0 {
		p = 22
	}
	return netJoin(s.Host, p)
}

func netJoin(host string, port int) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + strconv.Itoa(port)
	}
	return host + ":" + strconv.Itoa(port)
}

// Uses says whether the cluster runs service.
func (inv *Inventory) Uses(service string) bool {
	s := inv.Services
	if len(s) == 0 {
		s = DefaultServices
	}
	return slices.Contains(s, service)
}

// Members lists the nodes expected to be etcd members.
func (inv *Inventory) Members() []string {
	if len(inv.EtcdMembers) > 0 {
		return slices.Clone(inv.EtcdMembers)
	}
	out := make([]string, len(inv.Nodes))
	for i, n := range inv.Nodes {
		out[i] = n.Name
	}
	return out
}

// Node returns the named node.
func (inv *Inventory) Node(name string) (Node, bool) {
	for _, n := range inv.Nodes {
		if n.Name == name {
			return n, true
		}
	}
	return Node{}, false
}

// NodeByAddress returns the node whose private address is addr.
func (inv *Inventory) NodeByAddress(addr string) (Node, bool) {
	for _, n := range inv.Nodes {
		if n.Address == addr {
			return n, true
		}
	}
	return Node{}, false
}

var nodeName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// Validate reports every problem, each naming its key (nodes.0.ssh.user,
// as the file's errors do) and the node.
func (inv *Inventory) Validate() error {
	var errs []error
	for _, is := range inv.issues(nil) {
		errs = append(errs, fmt.Errorf("%s: %s", is.Key, is.Msg))
	}
	return errors.Join(errs...)
}

// issues lists every problem; with pos (where the file set each key) each
// is placed at its key, or at the nearest enclosing one for a key that is
// missing.
func (inv *Inventory) issues(pos yamlfile.Positions) []yamlfile.Issue {
	var out []yamlfile.Issue
	add := func(key, shown, format string, a ...any) {
		p, _ := pos.Lookup(key)
		out = append(out, yamlfile.Issue{Pos: p, Key: shown, Msg: fmt.Sprintf(format, a...)})
	}
	if len(inv.Nodes) == 0 {
		add("nodes", "nodes", "at least one node is required")
	}
	seen := map[string]int{}
	for i, n := range inv.Nodes {
		key := fmt.Sprintf("nodes.%d", i)
		// The node's name beside its key, once it has one.
		shown := func(field string) string {
			if n.Name != "" && nodeName.MatchString(n.Name) {
				return fmt.Sprintf("%s.%s (%s)", key, field, n.Name)
			}
			return key + "." + field
		}
		field := func(f, format string, a ...any) { add(key+"."+f, shown(f), format, a...) }
		switch first, dup := seen[n.Name]; {
		case n.Name == "":
			field("name", "is required")
		case !nodeName.MatchString(n.Name):
			field("name", "%q: use letters, digits, '.', '_' and '-'", n.Name)
		case dup:
			field("name", "%q appears twice (also nodes.%d)", n.Name, first)
		default:
			seen[n.Name] = i
		}
		if _, err := netip.ParseAddr(n.Address); err != nil {
			if n.Address == "" {
				field("address", "is required (the private IP address etcd advertises)")
			} else {
				field("address", "%q is not an IP address (the private address etcd advertises)", n.Address)
			}
		}
		if n.SSH.Host == "" {
			field("ssh.host", "is required")
		}
		if n.SSH.Port < 0 || n.SSH.Port > 65535 {
			field("ssh.port", "%d is out of range", n.SSH.Port)
		}
		if n.SSH.User == "" {
			field("ssh.user", "is required")
		}
	}
	for i, s := range inv.Services {
		if !slices.Contains(KnownServices, s) {
			k := fmt.Sprintf("services.%d", i)
			add(k, k, "unknown service %q (known: %s)", s, strings.Join(KnownServices, ", "))
		}
	}
	if inv.EtcdClientPort < 0 || inv.EtcdClientPort > 65535 {
		add("etcd_client_port", "etcd_client_port", "%d is out of range", inv.EtcdClientPort)
	}
	for i, m := range inv.EtcdMembers {
		if _, ok := seen[m]; !ok {
			k := fmt.Sprintf("etcd_members.%d", i)
			add(k, k, "%q is not a node of this inventory", m)
		}
	}
	return out
}

// Load reads an inventory file: JSON when it starts with '{', YAML
// otherwise. Unknown keys are errors; errors name file:line. Relative
// identity files are resolved against the file's directory, "~/" against
// home (from getenv("HOME"), so tests control it).
func Load(path string, getenv func(string) string) (*Inventory, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	inv, err := Parse(data, path)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	home := ""
	if getenv != nil {
		home = getenv("HOME")
	}
	for i := range inv.Nodes {
		inv.Nodes[i].SSH.IdentityFile = resolvePath(inv.Nodes[i].SSH.IdentityFile, dir, home)
	}
	return inv, nil
}

func resolvePath(p, dir, home string) string {
	switch {
	case p == "":
		return ""
	case p == "~" || strings.HasPrefix(p, "~/"):
		if home == "" {
			return p
		}
		return filepath.Join(home, strings.TrimPrefix(p, "~"))
	case filepath.IsAbs(p):
		return p
	}
	return filepath.Join(dir, p)
}

var (
	jsonOffRe     = regexp.MustCompile(`offset (\d+)`)
	jsonUnknownRe = regexp.MustCompile(`unknown field "(.*)"`)
)

// Parse decodes inventory data strictly and validates it; name is used in
// error messages.
func Parse(data []byte, name string) (*Inventory, error) {
	var inv Inventory
	var pos yamlfile.Positions
	var err error
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, fmt.Errorf("%s: empty inventory: want a nodes list", name)
	}
	if trimmed[0] == '{' {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err = dec.Decode(&inv); err != nil {
			return nil, fmt.Errorf("%s:%d: %s", name, jsonLine(data, dec, err), jsonMsg(err))
		}
		if dec.More() {
			return nil, fmt.Errorf("%s:%d: unexpected data after the inventory object", name, lineAt(data, int(dec.InputOffset())))
		}
	} else if pos, err = yamlfile.Decode(name, data, &inv); err != nil {
		return nil, err
	}
	// JSON keeps no positions: its problems name the file and the key.
	if issues := inv.issues(pos); len(issues) > 0 {
		return nil, &yamlfile.Error{File: name, Issues: issues}
	}
	return &inv, nil
}

func jsonLine(data []byte, dec *json.Decoder, err error) int {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return lineAt(data, int(se.Offset))
	case errors.As(err, &te):
		return lineAt(data, int(te.Offset))
	}
	// encoding/json gives no offset for an unknown field: find the key.
	if m := jsonUnknownRe.FindStringSubmatch(err.Error()); m != nil {
		key := regexp.MustCompile(regexp.QuoteMeta(strconv.Quote(m[1])) + `\s*:`)
		if loc := key.FindIndex(data); loc != nil {
			return lineAt(data, loc[0])
		}
	}
	if m := jsonOffRe.FindStringSubmatch(err.Error()); m != nil {
		n, _ := strconv.Atoi(m[1])
		return lineAt(data, n)
	}
	return lineAt(data, int(dec.InputOffset()))
}

func jsonMsg(err error) string {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "json: ")
	return strings.Replace(msg, "Go struct field ", "", 1)
}

func lineAt(data []byte, off int) int {
	if off > len(data) {
		off = len(data)
	}
	if off < 0 {
		off = 0
	}
	return bytes.Count(data[:off], []byte("\n")) + 1
}

// Marshal renders the inventory as commented YAML.
func Marshal(inv *Inventory) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString("# cododemo inventory: the nodes `cododemo verify` checks.\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(inv); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Write validates inv and writes it atomically as YAML.
func Write(path string, inv *Inventory) error {
	if err := inv.Validate(); err != nil {
		return err
	}
	data, err := Marshal(inv)
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(path, data, 0o644)
}

// Endpoint is where a node's SSH server answers, as Vagrant reports it
// (`vagrant ssh-config`: HostName, Port, User, IdentityFile).
type Endpoint struct {
	Host         string
	Port         int
	User         string
	IdentityFile string
}

// FromPlan builds a lab's inventory: names, private addresses and services
// from the plan, SSH endpoints from Vagrant (on VirtualBox a NAT port on
// 127.0.0.1, not the private address). Every planned node needs an endpoint.
func FromPlan(p *plan.Plan, ssh map[string]Endpoint) (*Inventory, error) {
	inv := &Inventory{}
	var errs []error
	for _, n := range p.Nodes {
		ep, ok := ssh[n.Name]
		if !ok {
			errs = append(errs, fmt.Errorf("%s: no SSH endpoint (is the VM up?)", n.Name))
			continue
		}
		user := ep.User
		if user == "" {
			user = p.SSHUser
		}
		id := ep.IdentityFile
		if id == "" {
			id = p.Secrets.SSHPrivateKeyFile
		}
		inv.Nodes = append(inv.Nodes, Node{
			Name:    n.Name,
			Address: n.IP.String(),
			SSH:     SSH{Host: ep.Host, Port: ep.Port, User: user, IdentityFile: id},
		})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if p.Etcd.Enabled {
		inv.Services = append(inv.Services, ServiceEtcd)
		if p.Etcd.ClientPort != DefaultEtcdClientPort {
			inv.EtcdClientPort = p.Etcd.ClientPort
		}
	}
	if p.Lab.Fleet.Enabled {
		inv.Services = append(inv.Services, ServiceFleet)
	}
	if p.Lab.Docker.Enabled {
		inv.Services = append(inv.Services, ServiceDocker)
	}
	if p.Lab.KitEnabled() {
		inv.Services = append(inv.Services, ServiceKit)
	}
	// A lab on its own box (box.name) may run any OS: expect none.
	if p.Lab.Box.Name == "" {
		inv.OS = OS{ID: p.Lab.Distro, Channel: p.Lab.Channel}
		if p.Lock != nil && p.Lock.OS.Version != "" {
			inv.OS.Version = p.Lock.OS.Version
		}
	}
	if err := inv.Validate(); err != nil {
		return nil, err
	}
	return inv, nil
}
