package inventory

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cododemo/cododemo/pkg/config"
	"github.com/cododemo/cododemo/pkg/labstate"
	"github.com/cododemo/cododemo/pkg/plan"
)

const example = `nodes:
  - name: core-01
    address: 192.168.56.101        # private address: etcd and fleet advertise here
    ssh: {host: 127.0.0.1, port: 2222, user: core, identity_file: ~/.ssh/lab_ed25519}
  - name: core-02
    address: 192.168.56.102
    ssh: {host: 127.0.0.1, port: 2200, user: core, identity_file: keys/id}
services: [etcd, fleet, docker]    # what this cluster runs
`

func TestLoadYAMLAndJSON(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "hosts.yaml")
	if err := os.WriteFile(p, []byte(example), 0o644); err != nil {
		t.Fatal(err)
	}
	inv, err := Load(p, func(k string) string { return map[string]string{"HOME": "/home/u"}[k] })
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Nodes) != 2 || inv.Nodes[0].SSH.Addr() != "127.0.0.1:2222" || !inv.Uses(ServiceFleet) {
		t.Errorf("%+v", inv)
	}
	if inv.Nodes[0].SSH.IdentityFile != "/home/u/.ssh/lab_ed25519" || inv.Nodes[1].SSH.IdentityFile != filepath.Join(dir, "keys/id") {
		t.Errorf("identity files: %q %q", inv.Nodes[0].SSH.IdentityFile, inv.Nodes[1].SSH.IdentityFile)
	}
	if n, ok := inv.NodeByAddress("192.168.56.102"); !ok || n.Name != "core-02" {
		t.Errorf("NodeByAddress")
	}
	if m := inv.Members(); strings.Join(m, ",") != "core-01,core-02" {
		t.Errorf("members %v", m)
	}
	js := `{"nodes":[{"name":"a","address":"10.0.0.1","ssh":{"host":"10.0.0.1","user":"core"}}]}`
	inv, err = Parse([]byte(js), "hosts.json")
	if err != nil || inv.Nodes[0].SSH.Addr() != "10.0.0.1:22" || !inv.Uses(ServiceEtcd) || inv.Uses(ServiceFleet) {
		t.Errorf("json: %+v %v", inv, err)
	}
	ip6 := SSH{Host: "fd00::1", Port: 22}
	if ip6.Addr() != "[fd00::1]:22" {
		t.Errorf("ipv6 addr %s", ip6.Addr())
	}
}

func TestParseErrorsNameFileAndLine(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"unknown key", "nodes:\n  - name: a\n    adress: 10.0.0.1\n", "hosts.yaml:3:5: nodes.0.adress: unknown key; did you mean address?"},
		{"wrong type", "nodes:\n  - name: a\n    address: 10.0.0.1\n    ssh: {host: h, user: u, port: many}\n", `hosts.yaml:4:35: nodes.0.ssh.port: "many" is not a whole number`},
		{"bad address", "nodes:\n  - name: a\n    address: core-01\n    ssh: {host: h, user: u}\n", `hosts.yaml:3:14: nodes.0.address (a): "core-01" is not an IP address`},
		{"missing user", "nodes:\n  - name: a\n    address: 10.0.0.1\n    ssh: {host: h}\n", "hosts.yaml:4:10: nodes.0.ssh.user (a): is required"},
		{"duplicate", "nodes:\n  - {name: a, address: 10.0.0.1, ssh: {host: h, user: u}}\n  - {name: a, address: 10.0.0.2, ssh: {host: h, user: u}}\n", `hosts.yaml:3:12: nodes.1.name (a): "a" appears twice (also nodes.0)`},
		{"service", "nodes:\n  - {name: a, address: 10.0.0.1, ssh: {host: h, user: u}}\nservices: [kubernetes]\n", `hosts.yaml:3:12: services.0: unknown service "kubernetes"`},
		{"members", "nodes:\n  - {name: a, address: 10.0.0.1, ssh: {host: h, user: u}}\netcd_members: [b]\n", `hosts.yaml:3:16: etcd_members.0: "b" is not a node of this inventory`},
		{"empty", "  \n", "empty inventory"},
		{"no nodes", "services: [etcd]\n", "hosts.yaml: nodes: at least one node is required"},
		{"json syntax", "{\n  \"nodes\": [\n    {\"name\": \"a\",}\n  ]\n}\n", "hosts.yaml:3:"},
		{"json invalid", "{\"nodes\": [{\"name\": \"a\", \"address\": \"x\", \"ssh\": {\"host\": \"h\", \"user\": \"u\"}}]}\n",
			`hosts.yaml: nodes.0.address (a): "x" is not an IP address`},
		{"no name", "nodes:\n  - address: 10.0.0.1\n    ssh: {host: h, user: u}\n", "hosts.yaml:2:5: nodes.0.name: is required"},
		{"json unknown", "{\n  \"nodes\": [],\n  \"extra\": 1\n}\n", `hosts.yaml:3: unknown field "extra"`},
	} {
		_, err := Parse([]byte(tc.in), "hosts.yaml")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestWriteRoundTrip(t *testing.T) {
	inv, err := Parse([]byte(example), "x")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "state", labstate.InventoryFile)
	if err := Write(p, inv); err != nil {
		t.Fatal(err)
	}
	got, err := Load(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Nodes[1].SSH.Port != 2200 || strings.Join(got.Services, ",") != "etcd,fleet,docker" {
		t.Errorf("%+v", got)
	}
	if err := Write(p, &Inventory{}); err == nil {
		t.Error("wrote an invalid inventory")
	}
}

func TestFromPlan(t *testing.T) {
	lab := config.Default()
	lock := &config.Lock{OS: config.OSRelease{Version: "4593.2.5"}}
	p, err := plan.New(lab, lock, plan.Secrets{ClusterToken: "t", SSHPrivateKeyFile: "/lab/.cododemo/id_ed25519"})
	if err != nil {
		t.Fatal(err)
	}
	eps := map[string]Endpoint{
		"core-01": {Host: "127.0.0.1", Port: 2222, User: "core"},
		"core-02": {Host: "127.0.0.1", Port: 2200},
		"core-03": {Host: "127.0.0.1", Port: 2201, IdentityFile: "/other/key"},
	}
	inv, err := FromPlan(p, eps)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Nodes) != 3 || inv.Nodes[0].Address != netip.MustParseAddr("192.168.56.101").String() ||
		inv.Nodes[1].SSH.User != "core" || inv.Nodes[1].SSH.IdentityFile != "/lab/.cododemo/id_ed25519" ||
		inv.Nodes[2].SSH.IdentityFile != "/other/key" {
		t.Errorf("%+v", inv.Nodes)
	}
	if strings.Join(inv.Services, ",") != "etcd,fleet,docker" || inv.OS != (OS{ID: "flatcar", Version: "4593.2.5", Channel: "stable"}) {
		t.Errorf("services %v os %+v", inv.Services, inv.OS)
	}
	delete(eps, "core-02")
	if _, err := FromPlan(p, eps); err == nil || !strings.Contains(err.Error(), "core-02: no SSH endpoint") {
		t.Errorf("missing endpoint: %v", err)
	}
}

func TestEtcdClientURLs(t *testing.T) {
	inv := &Inventory{Nodes: []Node{
		{Name: "a", Address: "192.168.56.101"}, {Name: "b", Address: "fd00::2"}, {Name: "c", Address: "192.168.56.103"},
	}, EtcdMembers: []string{"a", "b"}}
	if got := strings.Join(inv.EtcdClientURLs(), ","); got != "http://192.168.56.101:2379,http://[fd00::2]:2379" {
		t.Errorf("default port: %s", got)
	}
	inv.EtcdClientPort = 12379
	if got := inv.EtcdClientURLs()[0]; got != "http://192.168.56.101:12379" {
		t.Errorf("port: %s", got)
	}
	inv.EtcdClientPort = 70000
	if err := inv.Validate(); err == nil || !strings.Contains(err.Error(), "etcd_client_port: 70000 is out of range") {
		t.Errorf("validate: %v", err)
	}
}
