package config

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadDefaultsWithoutFile(t *testing.T) {
	dir := t.TempDir()
	l, err := Load(Source{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	normalize(&want)
	if !reflect.DeepEqual(l.Lab, want) {
		t.Fatalf("defaults differ:\n got %+v\nwant %+v", l.Lab, want)
	}
	if l.File != "" || l.StatePath() != filepath.Join(dir, ".cododemo") {
		t.Fatalf("file %q state %q", l.File, l.StatePath())
	}
}

// The commented sample that `init` writes must decode to exactly the defaults.
func TestSampleIsDefault(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, DefaultFile, string(Sample()))
	l, err := Load(Source{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	normalize(&want)
	if !reflect.DeepEqual(l.Lab, want) {
		t.Fatalf("sample differs from Default():\n got %+v\nwant %+v", l.Lab, want)
	}
}

func TestPrecedenceFileEnvFlag(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, DefaultFile, "channel: beta\nnodes:\n  count: 2\n  memory: 3072\nprovider: libvirt\n")
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	AddLabFlags(fs)
	if err := fs.Parse([]string{"--nodes", "5"}); err != nil {
		t.Fatal(err)
	}
	l, err := Load(Source{Dir: dir, Flags: fs, Getenv: env(map[string]string{
		"CODODEMO_NODES_COUNT":  "4",
		"CODODEMO_CHANNEL":      "alpha",
		"CODODEMO_DOCKER_TCP":   "true",
		"CODODEMO_NODES_MEMORY": "",
	})})
	if err != nil {
		t.Fatal(err)
	}
	got := l.Lab
	if got.Nodes.Count != 5 { // flag beats env beats file
		t.Errorf("nodes.count = %d, want 5 from --nodes", got.Nodes.Count)
	}
	if got.Channel != "alpha" { // env beats file
		t.Errorf("channel = %q, want alpha from env", got.Channel)
	}
	if got.Nodes.Memory != 3072 || got.Provider != "libvirt" { // file beats default
		t.Errorf("memory %d provider %q: file values lost", got.Nodes.Memory, got.Provider)
	}
	if !got.Docker.TCP {
		t.Errorf("docker.tcp from env not applied")
	}
	if got.Format != "auto" {
		t.Errorf("format = %q, want auto by distro (the plan decides per box)", got.Format)
	}
}

func TestCoreOSDefaultsToCloudConfig(t *testing.T) {
	l, err := Load(Source{Dir: t.TempDir(), Getenv: env(map[string]string{"CODODEMO_DISTRO": "coreos"})})
	if err != nil {
		t.Fatal(err)
	}
	if l.Lab.Format != "cloud-config" {
		t.Fatalf("format = %q", l.Lab.Format)
	}
}

func TestLoadErrorsNameKeyAndLine(t *testing.T) {
	cases := []struct {
		name, yaml string
		env        map[string]string
		want       []string
	}{
		{"count zero", "nodes:\n  count: 0\n", nil, []string{"cododemo.yaml:2:10: nodes.count: 0 is below the minimum of 1"}},
		{"count above max", "nodes:\n  count: 12\n", nil, []string{"cododemo.yaml:2:10: nodes.count: 12 is above the supported maximum of 9"}},
		{"unknown distro", "distro: ubuntu\n", nil, []string{`cododemo.yaml:1:9: distro: "ubuntu" is not one of flatcar, coreos`}},
		{"unknown channel", "channel: edge\n", nil, []string{`cododemo.yaml:1:10: channel: "edge" is not one of alpha, beta, stable, lts`}},
		{"channel distro lacks", "distro: coreos\nchannel: lts\n", nil, []string{`cododemo.yaml:2:10: channel: coreos has no "lts" channel`}},
		{"bad cidr", "network:\n  cidr: 192.168.56.0/33\n", nil, []string{`cododemo.yaml:2:9: network.cidr: "192.168.56.0/33" is not a CIDR`}},
		{"cidr too small", "network:\n  cidr: 192.168.56.0/30\n", nil, []string{"network.cidr: 192.168.56.0/30 is too small"}},
		{"cidr no room", "network:\n  cidr: 192.168.56.0/26\n", nil, []string{"network.cidr: 192.168.56.0/26 has room for hosts 1..62, but 3 nodes from .101 need up to .103"}},
		{"memory", "nodes:\n  memory: 512\n", nil, []string{"cododemo.yaml:2:11: nodes.memory: 512 MiB is below the minimum of 1024 MiB"}},
		{"unknown key", "nodes:\n  cuont: 3\n", nil, []string{`cododemo.yaml:2:3: nodes.cuont: unknown key; did you mean count?`}},
		{"unknown top key", "flet: {}\n", nil, []string{`cododemo.yaml:1:1: flet: unknown key; did you mean fleet?`}},
		{"wrong type", "nodes:\n  count: three\n", nil, []string{`cododemo.yaml:2:10: nodes.count: "three" is not a whole number`}},
		{"wrong type bool", "fleet:\n  enabled: 3\n", nil, []string{`cododemo.yaml:2:12: fleet.enabled: "3" is not true or false`}},
		{"duplicate key", "channel: beta\nchannel: alpha\n", nil, []string{`cododemo.yaml:2:1: channel: set twice (first on line 1)`}},
		{"duplicate forward", "forwarded_ports:\n  - {node: core-01, guest: 80, host: 8080}\n  - {node: core-02, guest: 80, host: 8080}\n", nil,
			[]string{"cododemo.yaml:3:38: forwarded_ports.1.host: host port 8080 is already forwarded by forwarded_ports.0"}},
		{"forward unknown node", "forwarded_ports:\n  - {node: core-07, guest: 80, host: 8080}\n", nil,
			[]string{`forwarded_ports.0.node: "core-07" is not a node of this lab (core-01, core-02, core-03)`}},
		{"env bad int", "", map[string]string{"CODODEMO_NODES_COUNT": "many"}, []string{`CODODEMO_NODES_COUNT: nodes.count: "many" is not a whole number`}},
		{"env out of range", "", map[string]string{"CODODEMO_NODES_COUNT": "0"}, []string{"CODODEMO_NODES_COUNT: nodes.count: 0 is below the minimum of 1"}},
		{"yes is not a bool", "etcd: {enabled: yes}\n", nil, []string{`cododemo.yaml:1:17: etcd.enabled: "yes" is not true or false (write true)`}},
		{"env yes is not a bool", "", map[string]string{"CODODEMO_ETCD_ENABLED": "yes"}, []string{`CODODEMO_ETCD_ENABLED: etcd.enabled: "yes" is not true or false (write true)`}},
		{"list of strings for folders", "shared_folders: [foo]\n", nil, []string{`cododemo.yaml:1:18: shared_folders.0: want a mapping with keys host, guest, type, not "foo"`}},
		{"folders not a list", "shared_folders: /srv\n", nil, []string{`cododemo.yaml:1:17: shared_folders: want a list of mappings with keys host, guest, type, not "/srv"`}},
		{"section not a mapping", "nodes: 3\n", nil, []string{`cododemo.yaml:1:8: nodes: want a mapping with keys count, prefix, cpus, memory, not "3"`}},
		{"unknown key far from any", "nodes: {bogus: 1}\n", nil, []string{`cododemo.yaml:1:9: nodes.bogus: unknown key; nodes takes count, prefix, cpus, memory`}},
		{"tab", "nodes:\n\tcount: 3\n", nil, []string{`cododemo.yaml:2:1: a tab indents this line; YAML indents with spaces only`}},
		{"tab after spaces", "nodes:\n  count: 3\n  \tcpus: 2\n", nil, []string{`cododemo.yaml:3:3: a tab indents this line`}},
		{"second document", "channel: beta\n---\nchannel: alpha\n", nil, []string{`cododemo.yaml:2:1: a second YAML document starts here`}},
		{"count not whole", "nodes:\n  count: 1.5\n", nil, []string{`cododemo.yaml:2:10: nodes.count: 1.5 is not a whole number`}},
		{"env count not whole", "", map[string]string{"CODODEMO_NODES_COUNT": "1.5"}, []string{`CODODEMO_NODES_COUNT: nodes.count: 1.5 is not a whole number`}},
		{"count too large", "nodes:\n  count: 99999999999999999999\n", nil, []string{`cododemo.yaml:2:10: nodes.count: 99999999999999999999 is too large`}},
		{"env first host blamed on the variable", "network:\n  cidr: 192.168.56.0/24\n", map[string]string{"CODODEMO_NETWORK_FIRST_HOST": "254"},
			[]string{"CODODEMO_NETWORK_FIRST_HOST: network.first_host: 192.168.56.0/24 has room for hosts 1..254, but 3 nodes from .254 need up to .256"}},
		{"arm64 flatcar", "arch: arm64\n", nil, []string{"cododemo.yaml:1:7: arch: Flatcar builds no arm64 Vagrant or VirtualBox image, so the stable channel has no box to run; use arch: amd64 (on an amd64 host), or set box.name to an arm64 box of your own"}},
		{"env arm64 flatcar", "", map[string]string{"CODODEMO_ARCH": "arm64", "CODODEMO_CHANNEL": "alpha"}, []string{"CODODEMO_ARCH: arch: Flatcar builds no arm64 Vagrant or VirtualBox image, so the alpha channel"}},
		{"fleet without etcd", "etcd:\n  enabled: false\n", nil, []string{"fleet.enabled: fleet stores its state in etcd"}},
		{"coreos ignition", "distro: coreos\nformat: ignition\n", nil, []string{"format: legacy CoreOS boxes are provisioned with cloud-config"}},
		{"unknown etcd source", "etcd:\n  from: quay\n", nil, []string{`cododemo.yaml:2:9: etcd.from: "quay" is not one of release, box`}},
		{"env unknown etcd source", "", map[string]string{"CODODEMO_ETCD_FROM": "docker"}, []string{`CODODEMO_ETCD_FROM: etcd.from: "docker" is not one of release, box`}},
		{"etcd tag without a pin", "etcd:\n  image_tag: v3.4.0\n", nil, []string{
			"cododemo.yaml:2:14: etcd.image_tag: etcd v3.4.0 has no linux-amd64 release known to cododemo (known: v3.5.21/amd64, v3.5.21/arm64)",
			"set etcd.release_sha256"}},
		{"etcd override not a hash", "etcd:\n  release_sha256: abc\n", nil, []string{`cododemo.yaml:2:19: etcd.release_sha256: "abc" is not a sha256`}},
		{"kit without docker", "docker: {enabled: false}\nkit: {enabled: true}\n", nil, []string{"kit.enabled: needs docker.enabled"}},
		{"kit on coreos", "distro: coreos\nkit: {enabled: true}\n", nil, []string{"kit.enabled: needs distro flatcar"}},
		{"kit hash", "kit:\n  sha256: ABC\n", nil, []string{`cododemo.yaml:2:11: kit.sha256: "ABC" is not a sha256 (64 lower-case hex digits): use the one scripts/build-kit.sh printed`}},
		{"kit url unpinned", "kit:\n  url: https://example.invalid/cododemo-kit-amd64.tar\n", nil, []string{"cododemo.yaml:2:8: kit.url: needs kit.sha256"}},
		{"kit url scheme", "kit:\n  url: ftp://example.invalid/k.tar\n  sha256: " + strings.Repeat("a", 64) + "\n", nil,
			[]string{`kit.url: "ftp://example.invalid/k.tar" is not the http(s):// or file:// URL of a file`}},
		{"env kit without docker", "", map[string]string{"CODODEMO_KIT_ENABLED": "true", "CODODEMO_DOCKER_ENABLED": "false"}, []string{"kit.enabled: needs docker.enabled"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if c.yaml != "" {
				writeFile(t, dir, DefaultFile, c.yaml)
			}
			_, err := Load(Source{Dir: dir, Getenv: env(c.env)})
			if err == nil {
				t.Fatal("no error")
			}
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error is %T, want *config.Error", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\n lacks %q", err, w)
				}
			}
		})
	}
}

// Go type names never reach the user, whatever the mistake.
func TestNoGoTypeNames(t *testing.T) {
	for _, body := range []string{
		"shared_folders: [foo]\n", "nodes: {bogus: 1}\n", "forwarded_ports: {a: 1}\n", "box: [x]\n",
		"etcd: {enabled: yes}\n", "nodes: {count: [1]}\n", "name: {a: b}\n", "[1, 2]\n", "just a string\n",
	} {
		dir := t.TempDir()
		writeFile(t, dir, DefaultFile, body)
		_, err := Load(Source{Dir: dir})
		if err == nil {
			t.Errorf("%q: no error", body)
			continue
		}
		for _, leak := range []string{"config.", "Node", "!!", "unmarshal", "[]", "int", "expected type"} {
			if strings.Contains(err.Error(), leak) {
				t.Errorf("%q: error %q has %q", body, err, leak)
			}
		}
	}
}

// A file of only comments is an empty file: the defaults.
func TestCommentOnlyFile(t *testing.T) {
	for _, body := range []string{"# nothing set yet\n", "\n\n", "---\n", "# a\n---\n# b\n"} {
		dir := t.TempDir()
		writeFile(t, dir, DefaultFile, body)
		l, err := Load(Source{Dir: dir})
		if err != nil {
			t.Errorf("%q: %v", body, err)
			continue
		}
		if l.Lab.Nodes.Count != 3 || l.File == "" {
			t.Errorf("%q: %+v from %q", body, l.Lab.Nodes, l.File)
		}
	}
}

func TestWarnings(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, DefaultFile, "network:\n  cidr: 10.10.0.0/24\n")
	l, err := Load(Source{Dir: dir, Environ: func() []string { return []string{"CODODEMO_NODE_COUNT=4", "CODODEMO_CONFIG=x"} }})
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(l.Warnings, "\n")
	for _, w := range []string{"/etc/vbox/networks.conf", "cododemo.yaml:2:9", "CODODEMO_NODE_COUNT: unknown setting"} {
		if !strings.Contains(all, w) {
			t.Errorf("warnings %q lack %q", all, w)
		}
	}
	if strings.Contains(all, "CODODEMO_CONFIG") {
		t.Errorf("CODODEMO_CONFIG is known, not a warning: %q", all)
	}
}

func TestExplicitMissingFile(t *testing.T) {
	_, err := Load(Source{Dir: t.TempDir(), File: "nope.yaml"})
	if err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Fatalf("err = %v", err)
	}
}

func TestLockRoundTrip(t *testing.T) {
	p := filepath.Join(t.TempDir(), LockFile)
	in := &Lock{Version: LockVersion, Distro: "flatcar", Channel: "stable", Arch: "amd64",
		OS: OSRelease{Version: "4593.2.5", Box: Box{Name: "flatcar-stable", Provider: "virtualbox", URL: "file:///x.box", SHA256: strings.Repeat("a", 64)}}}
	if err := WriteLock(p, in); err != nil {
		t.Fatal(err)
	}
	out, err := ReadLock(p)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip: %+v != %+v", out, in)
	}
	lab := Default()
	lab.Channel = "beta"
	if err := out.Matches(lab); err == nil {
		t.Fatal("a stable lock matched a beta lab")
	}
}

// FuzzLoad feeds arbitrary bytes as cododemo.yaml, and an arbitrary value
// to one CODODEMO_* variable: Load must never panic; what it refuses it
// refuses as a *Error whose every problem says where, in the user's words
// and in a bounded number of lines; what it accepts must validate cleanly.
func FuzzLoad(f *testing.F) {
	f.Add(string(Sample()), uint8(0), "")
	f.Add("nodes:\n  count: 3\n", uint8(0), "")
	f.Add("network: {cidr: 10.0.0.0/8, first_host: 2}\n", uint8(1), "254")
	f.Add("forwarded_ports: [{guest: 80, host: 8080}]\n", uint8(2), "8080")
	f.Add("channel: [1, 2]\n", uint8(3), "yes")
	f.Add("&a [*a]", uint8(4), "-1")
	f.Add("nodes: {count: -1}\n", uint8(5), "1.5")
	f.Add("etcd: {enabled: yes, peer_port: 22}\n", uint8(6), "/")
	f.Add("a: &a {b: 1}\nnodes: {<<: *a}\n---\nx: 1\n", uint8(7), "arm64")
	f.Add("nodes:\n\tcount: 3\n", uint8(8), "")
	f.Add("state_dir: /\nforwarded_ports: [{guest: 22, host: 65535}]\n", uint8(9), "99999999999999999999")
	f.Add("nodes: {count: 2000000000}\nforwarded_ports: [{node: x, guest: 1, host: 1}]\n", uint8(10), "")
	keys := scalarKeys()
	f.Fuzz(func(t *testing.T, body string, key uint8, val string) {
		dir := t.TempDir()
		writeFile(t, dir, DefaultFile, body)
		vars := map[string]string{"HOME": dir}
		if val != "" {
			vars[EnvName(keys[int(key)%len(keys)].Key)] = val
		}
		l, err := Load(Source{Dir: dir, Getenv: env(vars)})
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error is %T, not *config.Error: %v", err, err)
			}
			for _, p := range ce.Problems {
				if p.Where == "" || p.Msg == "" {
					t.Fatalf("problem without a place or words: %+v", p)
				}
				for _, leak := range []string{"config.", "yaml.", "!!", "unmarshal", "reflect", "goroutine"} {
					if strings.Contains(p.Msg, leak) {
						t.Fatalf("problem %q leaks %q", p, leak)
					}
				}
			}
			if n := strings.Count(err.Error(), "\n"); n > MaxListed+1 {
				t.Fatalf("%d lines of error", n)
			}
			return
		}
		for _, p := range Validate(l.Lab) {
			if !p.Warning {
				t.Fatalf("accepted a lab with problem %v", p)
			}
		}
		if n := len(l.Lab.NodeNames()); n < 1 || n > MaxNodes {
			t.Fatalf("accepted %d nodes", n)
		}
	})
}

func TestLockComplete(t *testing.T) {
	lab := Default()
	etcd := Artifact{URL: "https://github.com/etcd-io/etcd/releases/download/v3.5.21/etcd-v3.5.21-linux-amd64.tar.gz",
		SHA256: "adddda4b06718e68671ffabff2f8cee48488ba61ad82900e639d108f2148501c"}
	own := strings.Repeat("e", 64)
	arts := map[string]Artifact{"fleet": {SHA256: "cd"}, "etcd": etcd}
	full := &Lock{OS: OSRelease{Version: "1.2.3", Box: Box{SHA256: "ab"}}, Artifacts: arts}
	noFleet := &Lock{OS: full.OS, Artifacts: map[string]Artifact{"etcd": etcd}}
	noEtcd := &Lock{OS: full.OS, Artifacts: map[string]Artifact{"fleet": {SHA256: "cd"}}}
	ownEtcd := &Lock{OS: full.OS, Artifacts: map[string]Artifact{"fleet": {SHA256: "cd"}, "etcd": {URL: etcd.URL, SHA256: own}}}
	cases := []struct {
		name string
		edit func(*Lab)
		lock *Lock
		want bool
	}{
		{"default needs a lock", func(*Lab) {}, nil, false},
		{"default complete", func(*Lab) {}, full, true},
		{"fleet unpinned", func(*Lab) {}, noFleet, false},
		{"fleet off", func(l *Lab) { l.Fleet.Enabled = false }, noFleet, true},
		{"etcd unpinned", func(*Lab) {}, noEtcd, false},
		{"etcd from the box", func(l *Lab) { l.Etcd.From = "box" }, noEtcd, true},
		{"etcd off", func(l *Lab) { l.Etcd.Enabled, l.Fleet.Enabled = false, false }, &Lock{OS: full.OS}, true},
		{"etcd pinned by another hash than the override", func(l *Lab) { l.Etcd.ReleaseSHA256 = own }, full, false},
		{"etcd pinned by the override", func(l *Lab) { l.Etcd.ReleaseSHA256 = own }, ownEtcd, true},
		{"override dropped: back to the built-in pin", func(*Lab) {}, ownEtcd, false},
		{"etcd version moved", func(l *Lab) { l.Etcd.ImageTag, l.Etcd.ReleaseSHA256 = "v3.5.22", own }, ownEtcd, false},
		{"own box, fleet and etcd from the box: nothing to pin", func(l *Lab) { l.Box.Name = "mine"; l.Fleet.Enabled = false; l.Etcd.From = "box" }, nil, true},
		{"own box, etcd from the release", func(l *Lab) { l.Box.Name = "mine"; l.Fleet.Enabled = false }, nil, false},
		{"own box, fleet on", func(l *Lab) { l.Box.Name = "mine"; l.Etcd.From = "box" }, nil, false},
		{"own box, artifacts pinned", func(l *Lab) { l.Box.Name = "mine" }, &Lock{Artifacts: arts}, true},
		{"coreos: etcd2 and fleet are in the box", func(l *Lab) { l.Distro, l.Box.Name = "coreos", "coreos-stable" }, nil, true},
		{"kit off by default: not needed", func(*Lab) {}, full, true},
		{"kit on, unpinned", func(l *Lab) { l.Kit.Enabled = true }, full, false},
		{"kit on, pinned on first use", func(l *Lab) { l.Kit.Enabled = true }, withKit(full, "ab"), true},
		{"kit on, pinned by another hash than kit.sha256", func(l *Lab) { l.Kit.Enabled, l.Kit.SHA256 = true, own }, withKit(full, "ab"), false},
		{"kit on, pinned by kit.sha256", func(l *Lab) { l.Kit.Enabled, l.Kit.SHA256 = true, own }, withKit(full, own), true},
		{"kit on but docker off: not loaded", func(l *Lab) { l.Kit.Enabled, l.Docker.Enabled = true, false }, full, true},
	}
	for _, c := range cases {
		l := lab
		c.edit(&l)
		if got := c.lock.Complete(l); got != c.want {
			t.Errorf("%s: Complete = %v, want %v", c.name, got, c.want)
		}
	}
}

// withKit is l with the image kit pinned by sha.
func withKit(l *Lock, sha string) *Lock {
	c := *l
	c.Artifacts = maps.Clone(l.Artifacts)
	c.Artifacts["kit"] = Artifact{URL: "http://mirror.invalid/artifacts/cododemo-kit-amd64.tar", SHA256: sha}
	return &c
}

// etcd.from: box keeps any image_tag (the box's wrapper reads it), and so
// does release with an override: the mirror serves the user's own build.
func TestEtcdTagAccepted(t *testing.T) {
	for _, body := range []string{
		"etcd:\n  image_tag: v3.4.0\n  from: box\n",
		"etcd:\n  image_tag: v3.4.0\n  release_sha256: " + strings.Repeat("e", 64) + "\n",
		"arch: arm64\nbox: {name: my-arm64-flatcar}\n",
	} {
		dir := t.TempDir()
		writeFile(t, dir, DefaultFile, body)
		if _, err := Load(Source{Dir: dir}); err != nil {
			t.Errorf("%q: %v", body, err)
		}
	}
}

// A negative count from any source is an error, not a panic in NodeNames.
func TestNegativeCount(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, DefaultFile, "nodes:\n  count: -1\n")
	if _, err := Load(Source{Dir: dir}); err == nil || !strings.Contains(err.Error(), "cododemo.yaml:2:10: nodes.count: -1 is below the minimum of 1") {
		t.Errorf("file: %v", err)
	}
	if _, err := Load(Source{Dir: t.TempDir(), Getenv: env(map[string]string{"CODODEMO_NODES_COUNT": "-1"})}); err == nil ||
		!strings.Contains(err.Error(), "CODODEMO_NODES_COUNT: nodes.count: -1 is below the minimum of 1") {
		t.Errorf("env: %v", err)
	}
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	AddLabFlags(fs)
	if err := fs.Parse([]string{"--nodes=-1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(Source{Dir: t.TempDir(), Flags: fs}); err == nil || !strings.Contains(err.Error(), "--nodes: nodes.count: -1 is below the minimum of 1") {
		t.Errorf("flag: %v", err)
	}
}

// A huge count is refused without building its node list.
func TestHugeCount(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, DefaultFile, "nodes:\n  count: 2000000000\nforwarded_ports:\n  - {node: core-01, guest: 80, host: 8080}\n")
	if _, err := Load(Source{Dir: dir}); err == nil || !strings.Contains(err.Error(), "nodes.count: 2000000000 is above the supported maximum of 9") {
		t.Fatalf("err = %v", err)
	}
}

// A port forwarded to every node takes one host port per node: the last
// must still be a port.
func TestForwardSpanAbovePortRange(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, DefaultFile, "forwarded_ports:\n  - {guest: 80, host: 65534}\n")
	_, err := Load(Source{Dir: dir})
	if err == nil || !strings.Contains(err.Error(), "forwarded_ports.0.host: 3 nodes from host port 65534 need up to 65536, above 65535") {
		t.Fatalf("err = %v", err)
	}
}

// 2000 problems print a bounded list.
func TestErrorListIsBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("forwarded_ports:\n")
	for range 2000 {
		b.WriteString("  - {node: core-01, guest: 80, host: 8080}\n")
	}
	dir := t.TempDir()
	writeFile(t, dir, DefaultFile, b.String())
	_, err := Load(Source{Dir: dir})
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	if n := strings.Count(msg, "\n"); n > MaxListed+1 {
		t.Errorf("%d lines:\n%s", n, msg)
	}
	if !strings.Contains(msg, "... and 1989 more") {
		t.Errorf("no count of the rest:\n%s", msg)
	}
}

// Two uses of one port on the same side, or a port the nodes need, are
// errors that name both settings, blamed on the one the user set last.
func TestPortCollisions(t *testing.T) {
	cases := []struct {
		name, yaml string
		env        map[string]string
		want       string
	}{
		{"etcd peer on sshd", "etcd:\n  peer_port: 22\n", nil,
			"cododemo.yaml:2:14: etcd.peer_port: 22 is the port of sshd (Vagrant, verify and ssh log in through it) on every node"},
		{"docker on etcd client", "docker:\n  tcp: true\n  port: 2379\n", nil,
			"cododemo.yaml:3:9: docker.port: port 2379 is both etcd's client port (etcd.client_port) and Docker's TCP socket (docker.port) on the nodes"},
		{"docker on etcd client from env", "docker:\n  tcp: true\n  port: 2379\n", map[string]string{"CODODEMO_ETCD_CLIENT_PORT": "2379"},
			"CODODEMO_ETCD_CLIENT_PORT: etcd.client_port: port 2379 is both"},
		{"etcd client on peer", "etcd:\n  client_port: 2380\n", nil,
			"cododemo.yaml:2:16: etcd.client_port: port 2380 is both"},
		{"forward on first boot", "forwarded_ports:\n  - {node: core-02, guest: 80, host: 8765}\n", nil,
			"cododemo.yaml:2:38: forwarded_ports.0.host: host port 8765 is both forwarded by forwarded_ports.0 and first_boot.port"},
		{"per-node forward over first boot", "forwarded_ports:\n  - {guest: 80, host: 8764}\n", nil,
			"forwarded_ports.0.host: host ports 8764..8766 (forwarded_ports.0, one per node) take first_boot.port 8765"},
		{"first boot moved onto a forward by flag-like env", "forwarded_ports:\n  - {node: core-01, guest: 80, host: 9000}\n", map[string]string{"CODODEMO_FIRST_BOOT_PORT": "9000"},
			"CODODEMO_FIRST_BOOT_PORT: first_boot.port: host port 9000 is both"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, DefaultFile, c.yaml)
			_, err := Load(Source{Dir: dir, Getenv: env(c.env)})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v\nwant %q", err, c.want)
			}
		})
	}
	// Docker's port is free while its TCP socket is off; a forward to a
	// service's guest port is what forwarding is for.
	dir := t.TempDir()
	writeFile(t, dir, DefaultFile, "docker:\n  port: 2379\nforwarded_ports:\n  - {node: core-01, guest: 2379, host: 12379}\n")
	if _, err := Load(Source{Dir: dir}); err != nil {
		t.Fatal(err)
	}
}

// A state dir gets private keys and is removed whole by destroy --purge:
// it must be a directory of its own.
func TestStateDirOfItsOwn(t *testing.T) {
	home := t.TempDir()
	lab := filepath.Join(home, "lab")
	if err := os.Mkdir(lab, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, lab, "afile", "x")
	if err := os.Symlink(home, filepath.Join(lab, "tohome")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ dir, want string }{
		{"/", "is a filesystem root"},
		{home, "is your home directory"},
		{"tohome", "is your home directory"},
		{".", "is the lab's directory"},
		{"..", "is your home directory"},
		{filepath.Dir(home), "holds the lab's directory"},
		{"afile", "exists and is not a directory"},
	} {
		writeFile(t, lab, DefaultFile, "state_dir: "+strconv.Quote(c.dir)+"\n")
		_, err := Load(Source{Dir: lab, Getenv: env(map[string]string{"HOME": home})})
		if err == nil || !strings.Contains(err.Error(), "cododemo.yaml:1:12: state_dir: ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("state_dir %q: %v, want %q", c.dir, err, c.want)
		}
	}
	for _, ok := range []string{".cododemo", "../elsewhere", filepath.Join(home, "state")} {
		writeFile(t, lab, DefaultFile, "state_dir: "+strconv.Quote(ok)+"\n")
		if _, err := Load(Source{Dir: lab, Getenv: env(map[string]string{"HOME": home})}); err != nil {
			t.Errorf("state_dir %q: %v", ok, err)
		}
	}
	if _, err := Load(Source{Dir: lab, Getenv: env(map[string]string{"HOME": home, "CODODEMO_STATE_DIR": "/"})}); err == nil ||
		!strings.Contains(err.Error(), "CODODEMO_STATE_DIR: state_dir: / is a filesystem root") {
		t.Errorf("env: %v", err)
	}
}

func fullLock() *Lock {
	return &Lock{Version: LockVersion, Distro: "flatcar", Channel: "stable", Arch: "amd64",
		OS: OSRelease{Version: "4593.2.5", Box: Box{Name: "flatcar-stable", Provider: "virtualbox", URL: "https://example.test/x.box", SHA256: strings.Repeat("a", 64)}},
		Artifacts: map[string]Artifact{
			"fleet": {URL: "https://github.com/coreos/fleet/releases/download/v1.0.0/fleet-v1.0.0-linux-amd64.tar.gz", SHA256: strings.Repeat("b", 64), Size: 10},
			"etcd": {URL: "https://github.com/etcd-io/etcd/releases/download/v3.5.21/etcd-v3.5.21-linux-amd64.tar.gz",
				SHA256: "adddda4b06718e68671ffabff2f8cee48488ba61ad82900e639d108f2148501c"},
		}}
}

// A lock is read strictly: every field WriteLock writes must be there,
// hashes must be hashes, and problems name the key and file:line:col.
func TestReadLockStrict(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, LockFile)
	if err := WriteLock(p, fullLock()); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ReadLock(p); err != nil {
		t.Fatalf("a lock WriteLock wrote: %v", err)
	}
	own := fullLock()
	own.OS = OSRelease{}
	if err := WriteLock(p, own); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadLock(p); err != nil {
		t.Fatalf("a lock for a box of the user's own: %v", err)
	}
	cases := []struct{ name, body, want string }{
		{"truncated", string(good[:200]), "os.box.url: missing"},
		{"truncated early", string(good[:150]), "cododemo.lock: arch: missing"},
		{"not a hash", strings.Replace(string(good), strings.Repeat("b", 64), "not-a-hash", 1), `cododemo.lock:20:13: artifacts.fleet.sha256: "not-a-hash" is not a sha256`},
		{"upper-case hash", strings.Replace(string(good), strings.Repeat("a", 64), strings.Repeat("A", 64), 1), `os.box.sha256: "AAAA`},
		{"unknown key", strings.Replace(string(good), "arch: amd64\n", "arch: amd64\nextra: 1\n", 1), "cododemo.lock:7:1: extra: unknown key"},
		{"empty distro", strings.Replace(string(good), "distro: flatcar", "distro: \"\"", 1), "distro: must not be empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := os.WriteFile(p, []byte(c.body), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := ReadLock(p)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v\nwant %q\nlock:\n%s", err, c.want, c.body)
			}
			if !strings.Contains(err.Error(), "run `cododemo lock`") {
				t.Errorf("no way out in %v", err)
			}
		})
	}
}

// One changed hex digit of etcd's hash, where cododemo has a built-in pin,
// is an error naming both hashes; an override is the user's to pin.
func TestLockDisagreesWithBuiltinPin(t *testing.T) {
	l := fullLock()
	lab := Default()
	if err := l.CheckPins(lab); err != nil {
		t.Fatal(err)
	}
	e := l.Artifacts["etcd"]
	e.SHA256 = "bdddda4b06718e68671ffabff2f8cee48488ba61ad82900e639d108f2148501c"
	l.Artifacts["etcd"] = e
	err := l.CheckPins(lab)
	if err == nil || !strings.Contains(err.Error(), "artifacts.etcd.sha256 is bdddda4b") || !strings.Contains(err.Error(), "built-in pin of etcd-v3.5.21-linux-amd64.tar.gz is adddda4b") {
		t.Fatalf("err = %v", err)
	}
	lab.Etcd.ReleaseSHA256 = e.SHA256
	if err := l.CheckPins(lab); err != nil {
		t.Fatalf("override: %v", err)
	}
}
