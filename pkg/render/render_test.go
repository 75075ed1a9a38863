package render

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	osexec "os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cododemo/cododemo/pkg/config"
	"github.com/cododemo/cododemo/pkg/exec"
	"github.com/cododemo/cododemo/pkg/image/releasetest"
	"github.com/cododemo/cododemo/pkg/labstate"
	"github.com/cododemo/cododemo/pkg/plan"
	"github.com/cododemo/cododemo/templates"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/render")

// fixedSecrets keep golden files stable; the key is a real ed25519 key
// nobody holds the private half of.
var fixedSecrets = plan.Secrets{
	ClusterToken:      "cododemo-golden-token",
	SSHPublicKey:      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIObsyfpMjVtxmQXSVGXpm0wmNN5APWRTU1PUazlmODnb cododemo",
	SSHPrivateKeyFile: "id_ed25519",
}

type goldenCase struct {
	name string
	edit func(*config.Lab)
	lock *config.Lock
}

// lockAt is a resolved lock of one exact release.
func lockAt(channel, version, provider string) *config.Lock {
	return &config.Lock{Version: config.LockVersion, Distro: "flatcar", Channel: channel, Arch: "amd64",
		OS: config.OSRelease{Version: version, Box: config.Box{Name: "flatcar-" + channel, Provider: provider,
			URL: "file:///cache/flatcar-" + channel + ".json", SHA256: strings.Repeat("b", 64)}},
		Artifacts: map[string]config.Artifact{"fleet": {SHA256: strings.Repeat("f", 64)},
			"etcd": {SHA256: "adddda4b06718e68671ffabff2f8cee48488ba61ad82900e639d108f2148501c"}}}
}

// withKit adds the image kit to a lock.
func withKit(l *config.Lock) *config.Lock {
	l.Artifacts["kit"] = config.Artifact{URL: "http://mirror.invalid/artifacts/cododemo-kit-amd64.tar", SHA256: strings.Repeat("c", 64)}
	return l
}

// One golden lab per delivery (plan.Delivery), and per distro and option
// that changes what a node gets.
var goldenCases = []goldenCase{
	// cododemo init's lab: stable on VirtualBox, no lock yet: assumed
	// before 4722, so cloud-config uploaded after boot.
	{name: "default", edit: func(*config.Lab) {}},
	// The same, locked: the decision made from the exact version.
	{name: "flatcar-stable-4593-virtualbox-locked", lock: lockAt("stable", "4593.2.5", "virtualbox")},
	// 4722 and later on VirtualBox: the Ignition pointer config through
	// the guest property; updates left on.
	{name: "flatcar-alpha-4722-virtualbox-locked-updates", edit: func(l *config.Lab) {
		l.Channel, l.Updates.Enabled = "alpha", true
	}, lock: lockAt("alpha", "4722.0.0", "virtualbox")},
	// Explicit cloud-config on libvirt: the stable box's upload route, as
	// the e2e tier's stable-like box runs it.
	{name: "flatcar-lts-cloudconfig-libvirt-1", edit: func(l *config.Lab) {
		l.Channel, l.Format, l.Provider, l.Nodes.Count = "lts", "cloud-config", "libvirt", 1
	}},
	{name: "coreos-stable-virtualbox", edit: func(l *config.Lab) {
		l.Distro, l.Format = "coreos", "cloud-config"
		l.ForwardPorts = []config.ForwardPort{{Guest: 80, Host: 8080}}
	}},
	// libvirt: Ignition through fw_cfg, whatever the version.
	{name: "flatcar-alpha-libvirt-docker-locked", edit: func(l *config.Lab) {
		l.Channel, l.Provider, l.Docker.TCP, l.Libvirt.Driver = "alpha", "libvirt", true, "qemu"
		l.ForwardPorts = []config.ForwardPort{{Node: "core-01", Guest: 2375, Host: 12375}}
		l.SharedFolders = []config.SharedFolder{{Host: "./share", Guest: "/home/core/share", Type: "rsync"}}
	}, lock: lockAt("alpha", "4628.0.0", "libvirt")},
	// The image kit on both deliveries, one node each: cloud-config
	// (fetched with curl, checked with sha256sum) and Ignition (fetched
	// and verified by Ignition), then docker-loaded by cododemo-kit.service.
	{name: "flatcar-stable-4593-virtualbox-kit-1", edit: func(l *config.Lab) {
		l.Kit.Enabled, l.Nodes.Count = true, 1
	}, lock: withKit(lockAt("stable", "4593.2.5", "virtualbox"))},
	{name: "flatcar-alpha-libvirt-kit-1", edit: func(l *config.Lab) {
		l.Channel, l.Provider, l.Kit.Enabled, l.Nodes.Count = "alpha", "libvirt", true, 1
	}, lock: withKit(lockAt("alpha", "4628.0.0", "libvirt"))},
	// A box of its own with its own etcd-member.service: only the ETCD_*
	// environment drop-in, as before etcd.from existed.
	{name: "flatcar-stable-etcd-from-box", edit: func(l *config.Lab) {
		l.Etcd.From, l.Etcd.ImageTag, l.Fleet.Enabled = "box", "v3.4.0", false
	}},
}

// goldenCase returns the named case.
func caseNamed(t testing.TB, name string) goldenCase {
	for _, c := range goldenCases {
		if c.name == name {
			return c
		}
	}
	t.Fatalf("no golden case %s", name)
	return goldenCase{}
}

const pointerCase = "flatcar-alpha-4722-virtualbox-locked-updates"

func renderCase(t testing.TB, c goldenCase) *Result {
	t.Helper()
	lab := config.Default()
	lab.Format = "auto"
	if c.edit != nil {
		c.edit(&lab)
	}
	for _, p := range config.Validate(lab) {
		if !p.Warning {
			t.Fatalf("case %s: invalid lab: %v", c.name, p)
		}
	}
	p, err := plan.New(lab, c.lock, fixedSecrets)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Render(p, Options{Version: "golden"})
	if err != nil {
		t.Fatalf("case %s: %v", c.name, err)
	}
	return r
}

func TestGolden(t *testing.T) {
	for _, c := range goldenCases {
		t.Run(c.name, func(t *testing.T) {
			r := renderCase(t, c)
			dir := filepath.Join("..", "..", "testdata", "render", c.name)
			if *update {
				if err := os.RemoveAll(dir); err != nil {
					t.Fatal(err)
				}
			}
			var names []string
			for _, f := range r.Files {
				names = append(names, f.Path)
				golden := filepath.Join(dir, f.Path)
				if *update {
					if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(golden, f.Data, 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test ./pkg/render -update)", err)
				}
				if !bytes.Equal(f.Data, want) {
					t.Errorf("%s differs from %s (run go test ./pkg/render -update and review the diff)", f.Path, golden)
				}
			}
			// Every golden file is still produced: nothing silently dropped.
			_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				rel, _ := filepath.Rel(dir, p)
				if !contains(names, filepath.ToSlash(rel)) {
					t.Errorf("golden %s is no longer rendered", rel)
				}
				return nil
			})
		})
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func TestDeterministic(t *testing.T) {
	for _, c := range goldenCases {
		a, b := renderCase(t, c), renderCase(t, c)
		for i := range a.Files {
			if !bytes.Equal(a.Files[i].Data, b.Files[i].Data) {
				t.Fatalf("%s: %s differs between two renders", c.name, a.Files[i].Path)
			}
		}
	}
}

// Every file the default lab renders passes the real validators again, and
// VirtualBox's guest-property file fits its 1024 bytes.
func TestValidatorsAndVirtualBoxLimit(t *testing.T) {
	r := renderCase(t, caseNamed(t, pointerCase))
	var vbox, full int
	for _, f := range r.Files {
		switch {
		case strings.HasSuffix(f.Path, ".vbox.ign"):
			vbox++
			if len(f.Data) >= VirtualBoxIgnitionLimit {
				t.Errorf("%s is %d bytes: the guest property holds less than %d", f.Path, len(f.Data), VirtualBoxIgnitionLimit)
			}
			if err := ValidateIgnition(f.Data); err != nil {
				t.Errorf("%s: %v", f.Path, err)
			}
		case strings.HasSuffix(f.Path, ".ign"):
			full++
			if len(f.Data) <= VirtualBoxIgnitionLimit {
				t.Errorf("%s is only %d bytes: the pointer path is not exercised", f.Path, len(f.Data))
			}
			if err := ValidateIgnition(f.Data); err != nil {
				t.Errorf("%s: %v", f.Path, err)
			}
		}
	}
	if vbox != 3 || full != 3 || len(r.Served) != 3 {
		t.Fatalf("vbox %d full %d served %d, want 3 each", vbox, full, len(r.Served))
	}
	for _, s := range r.Served {
		for _, f := range r.Files {
			if f.Path == s.File && labstate.Hash(f.Data) != s.SHA256 {
				t.Errorf("served %s: hash does not match the file", s.URLPath)
			}
		}
	}
}

func TestValidatorsReject(t *testing.T) {
	if err := ValidateIgnition([]byte(`{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"relative"}]}}`)); err == nil {
		t.Error("Ignition accepted a relative path")
	}
	if err := ValidateIgnition([]byte(`{"ignition":{"version":"3.3.0"}}`)); err == nil {
		t.Error("3.4 parser accepted 3.3.0")
	}
	err := ValidateCloudConfig([]byte("#cloud-config\ncoreos:\n  etcd2:\n    name: x\n  unitz: []\n"))
	if err == nil || !strings.Contains(err.Error(), "line 3") || !strings.Contains(err.Error(), "line 5") {
		t.Errorf("cloud-config: %v", err)
	}
	if err := ValidateCloudConfig([]byte("#cloud-config\ncoreos:\n  etcd2:\n    name: x\n"), LegacyKeys...); err != nil {
		t.Errorf("legacy etcd2 refused for coreos: %v", err)
	}
	_, err = Butane([]byte("variant: flatcar\nversion: 1.1.0\netcd:\n  name: x\n"), "node.bu")
	if err == nil || !strings.Contains(err.Error(), "node.bu:3:1") || !strings.Contains(err.Error(), "^") {
		t.Errorf("strict Butane: %v", err)
	}
}

func TestTemplateOverride(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "node.bu.tmpl"), []byte("variant: flatcar\nversion: 1.1.0\n{{ .Nope }}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tmpl, err := LoadTemplates(dir)
	if err != nil {
		t.Fatal(err)
	}
	lab := config.Default()
	lab.Format = "ignition"
	lab.Channel = "alpha"
	p, _ := plan.New(lab, nil, fixedSecrets)
	_, err = Render(p, Options{Templates: tmpl})
	if err == nil || !strings.Contains(err.Error(), "node.bu.tmpl:3") || !strings.Contains(err.Error(), "core-01") {
		t.Fatalf("error should name node, template and line: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "node.bu.tmpl"), []byte("{{ if }}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadTemplates(dir); err == nil || !strings.Contains(err.Error(), "node.bu.tmpl:1") {
		t.Fatalf("parse error should name file and line: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "nodes.bu.tmpl"), []byte(""), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadTemplates(dir); err == nil || !strings.Contains(err.Error(), "matches no template") {
		t.Fatalf("a misspelt override must be an error: %v", err)
	}
}

func TestWriteProtectsEdits(t *testing.T) {
	dir := labstate.Dir{Path: t.TempDir()}
	ign := caseNamed(t, pointerCase)
	r := renderCase(t, ign)
	if _, err := Write(dir, r, false); err != nil {
		t.Fatal(err)
	}
	rep, err := Write(dir, r, false)
	if err != nil || len(rep.Written) != 0 {
		t.Fatalf("second write: %v, written %v", err, rep)
	}
	edited := dir.Join("Vagrantfile")
	if err := os.WriteFile(edited, []byte("# my edit\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(dir.Join("nodes/core-01.ign"))
	r2 := renderCase(t, goldenCase{name: "other", lock: ign.lock, edit: func(l *config.Lab) { ign.edit(l); l.Nodes.Memory = 4096 }})
	_, err = Write(dir, r2, false)
	var ee *labstate.EditedError
	if !errors.As(err, &ee) || !strings.Contains(err.Error(), edited) {
		t.Fatalf("want EditedError naming %s, got %v", edited, err)
	}
	if got, _ := os.ReadFile(edited); string(got) != "# my edit\n" {
		t.Fatal("the edited file was overwritten")
	}
	if after, _ := os.ReadFile(dir.Join("nodes/core-01.ign")); !bytes.Equal(before, after) {
		t.Fatal("a refused write still changed other files")
	}
	if _, err := Write(dir, r2, true); err != nil {
		t.Fatalf("--force: %v", err)
	}
	// Shrinking the lab removes the files of nodes that are gone.
	r3 := renderCase(t, goldenCase{name: "one", lock: ign.lock, edit: func(l *config.Lab) { ign.edit(l); l.Nodes.Count = 1 }})
	rep, err = Write(dir, r3, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir.Join("nodes/core-03.ign")); !os.IsNotExist(err) || len(rep.Removed) != 6 {
		t.Fatalf("stale node files: removed %v, stat %v", rep.Removed, err)
	}
	leftovers, _ := filepath.Glob(dir.Join("*", ".*.tmp-*"))
	more, _ := filepath.Glob(dir.Join(".*.tmp-*"))
	if len(leftovers)+len(more) > 0 {
		t.Fatalf("temporary files left: %v %v", leftovers, more)
	}
}

// Every golden Vagrantfile passes a real `vagrant validate`. Vagrant is
// installed by .ci/run; its absence is a failure, not a skip.
func TestVagrantValidate(t *testing.T) {
	home := t.TempDir()
	for _, c := range goldenCases {
		t.Run(c.name, func(t *testing.T) {
			// A lab as `cododemo render` leaves it: the config dir holds
			// the shared folder, the state dir the key and the files.
			base := t.TempDir()
			dir := labstate.Dir{Path: filepath.Join(base, ".cododemo")}
			if _, err := dir.Secrets(); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(filepath.Join(base, "share"), 0o755); err != nil {
				t.Fatal(err)
			}
			r := renderCase(t, c)
			if _, err := Write(dir, r, false); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			err := exec.OS{}.Run(context.Background(), exec.Cmd{
				Name: "vagrant", Args: []string{"validate", "--ignore-provider"}, Dir: dir.Path,
				Env:    []string{"VAGRANT_HOME=" + home, "VAGRANT_CHECKPOINT_DISABLE=1", "VAGRANT_BOX_UPDATE_CHECK_DISABLE=1"},
				Stdout: &out, Stderr: &out,
			})
			if err != nil {
				t.Fatalf("vagrant validate: %v\n%s", err, out.String())
			}
			if !strings.Contains(out.String(), "validated successfully") {
				t.Fatalf("unexpected output: %s", out.String())
			}
			if r.Plan.Lab.Provider != "libvirt" {
				return
			}
			// vagrant-libvirt (installed by .ci/setup) checks its own
			// settings, the serial console's among them, without libvirtd.
			out.Reset()
			err = exec.OS{}.Run(context.Background(), exec.Cmd{
				Name: "vagrant", Args: []string{"validate"}, Dir: dir.Path,
				Env: []string{"VAGRANT_HOME=" + home, "VAGRANT_CHECKPOINT_DISABLE=1", "VAGRANT_BOX_UPDATE_CHECK_DISABLE=1",
					"VAGRANT_DEFAULT_PROVIDER=libvirt"},
				Stdout: &out, Stderr: &out,
			})
			if err != nil || !strings.Contains(out.String(), "validated successfully") {
				t.Fatalf("vagrant validate with the libvirt provider: %v\n%s", err, out.String())
			}
		})
	}
}

func BenchmarkRenderDefault(b *testing.B) {
	tmpl, err := LoadTemplates("")
	if err != nil {
		b.Fatal(err)
	}
	lab := config.Default()
	lab.Format = "auto"
	p, _ := plan.New(lab, nil, fixedSecrets)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Render(p, Options{Templates: tmpl}); err != nil {
			b.Fatal(err)
		}
	}
}

// Artifacts the lock does not pin yet are rendered without verification,
// and the user is told so, one note per artifact; a locked lab gets none.
func TestUnpinnedArtifactsNoted(t *testing.T) {
	notes := strings.Join(renderCase(t, goldenCases[0]).Notes, "\n")
	for _, name := range []string{"fleet", "etcd"} {
		if !strings.Contains(notes, name+"'s tarball is not pinned by sha256 yet") {
			t.Errorf("notes lack %s:\n%s", name, notes)
		}
	}
	for _, c := range goldenCases {
		if c.lock == nil {
			continue
		}
		for _, n := range renderCase(t, c).Notes {
			if strings.Contains(n, "not pinned") {
				t.Errorf("locked lab: %s", n)
			}
		}
	}
}

// The etcd-install.service command, run with the real tar on a tarball laid
// out like etcd's release, installs etcd and etcdctl and nothing else.
func TestEtcdInstallCommandUnpacks(t *testing.T) {
	if _, err := osexec.LookPath("tar"); err != nil {
		t.Fatal("tar is required")
	}
	// Both paths unpack with the same command: Ignition's and cloud-config's.
	var cmds []string
	for _, c := range []string{pointerCase, "default"} {
		for _, f := range renderCase(t, caseNamed(t, c)).Files {
			if f.Path != "nodes/core-01.bu" && f.Path != "nodes/core-01.user-data" {
				continue
			}
			for _, line := range strings.Split(string(f.Data), "\n") {
				line = strings.TrimSpace(line)
				if strings.HasPrefix(line, "ExecStart=/usr/bin/tar ") && strings.Contains(line, "/opt/cododemo/etcd-") {
					cmds = append(cmds, strings.TrimPrefix(line, "ExecStart="))
				}
			}
		}
	}
	if len(cmds) != 2 || cmds[0] != cmds[1] {
		t.Fatalf("want one etcd unpack command on each path, got %q", cmds)
	}
	cmd := cmds[0]
	root := t.TempDir()
	for _, d := range []string{"opt/cododemo", "opt/bin"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tgz := releasetest.EtcdTarball(t, "v3.5.21", "amd64")
	if err := os.WriteFile(filepath.Join(root, "opt/cododemo/etcd-v3.5.21-linux-amd64.tar.gz"), tgz, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd = strings.ReplaceAll(cmd, " /opt/", " "+root+"/opt/")
	if out, err := osexec.Command("sh", "-c", cmd).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
	ents, err := os.ReadDir(filepath.Join(root, "opt/bin"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if strings.Join(got, " ") != "etcd etcdctl" {
		t.Fatalf("/opt/bin has %v, want etcd etcdctl", got)
	}
	if fi, err := os.Stat(filepath.Join(root, "opt/bin/etcd")); err != nil || fi.Mode()&0o111 == 0 {
		t.Fatalf("etcd not executable: %v %v", fi, err)
	}
}

// Flatcar's 4722+ box Vagrantfile hands a config.ign or user-data in
// Vagrant's working directory (the state dir) to every node: no render ever
// writes one there, Write refuses a state dir holding one, and the rendered
// Vagrantfile itself stops a real `vagrant validate` run beside one.
func TestNoBoxSideFiles(t *testing.T) {
	for _, c := range goldenCases {
		for _, f := range renderCase(t, c).Files {
			for _, side := range BoxSideFiles {
				if path.Base(f.Path) == side || f.Path == side {
					t.Errorf("%s renders %s", c.name, f.Path)
				}
			}
		}
	}
	for _, side := range BoxSideFiles {
		t.Run(side, func(t *testing.T) {
			dir := labstate.Dir{Path: t.TempDir()}
			if err := os.WriteFile(dir.Join(side), []byte("{}"), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Write(dir, renderCase(t, goldenCases[0]), true)
			if err == nil || !strings.Contains(err.Error(), dir.Join(side)) || !strings.Contains(err.Error(), "every node") {
				t.Fatalf("Write beside %s: %v", side, err)
			}
			if _, err := os.Stat(dir.Join("Vagrantfile")); !os.IsNotExist(err) {
				t.Fatal("a refused write wrote the Vagrantfile")
			}
			// The Vagrantfile refuses it too, for a user who runs vagrant by hand.
			r := renderCase(t, goldenCases[0])
			if err := os.Remove(dir.Join(side)); err != nil {
				t.Fatal(err)
			}
			if _, err := Write(dir, r, false); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dir.Join(side), []byte("{}"), 0o644); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			err = exec.OS{}.Run(context.Background(), exec.Cmd{
				Name: "vagrant", Args: []string{"validate", "--ignore-provider"}, Dir: dir.Path,
				Env:    []string{"VAGRANT_HOME=" + t.TempDir(), "VAGRANT_CHECKPOINT_DISABLE=1", "VAGRANT_BOX_UPDATE_CHECK_DISABLE=1"},
				Stdout: &out, Stderr: &out,
			})
			if err == nil || !strings.Contains(out.String(), "would be handed to every node") {
				t.Fatalf("vagrant validate beside %s: %v\n%s", side, err, out.String())
			}
		})
	}
}

// The pointer config stays under VirtualBox's limit for the longest URL a
// lab can produce: the longest node name, a libvirt-style gateway address
// and the highest port.
func TestPointerConfigWorstCase(t *testing.T) {
	url := "http://255.255.255.254:65535/ignition/" + strings.Repeat("n", 20) + "-09.ign"
	ptr, err := PointerConfig(url, strings.Repeat("f", 64))
	if err != nil {
		t.Fatal(err)
	}
	if len(ptr) >= VirtualBoxIgnitionLimit {
		t.Fatalf("pointer config is %d bytes, not under %d", len(ptr), VirtualBoxIgnitionLimit)
	}
	lab := config.Default()
	lab.Format, lab.Channel, lab.Nodes.Prefix, lab.Nodes.Count, lab.FirstBoot.Port = "auto", "alpha", strings.Repeat("n", 20), config.MaxNodes, 65535
	p, err := plan.New(lab, lockAt("alpha", "4790.0.0", "virtualbox"), fixedSecrets)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Render(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for _, f := range r.Files {
		if strings.HasSuffix(f.Path, ".vbox.ign") {
			n++
			if len(f.Data) >= VirtualBoxIgnitionLimit || !bytes.Contains(f.Data, []byte(`"replace"`)) {
				t.Errorf("%s: %d bytes: %s", f.Path, len(f.Data), f.Data)
			}
		}
	}
	if n != config.MaxNodes {
		t.Fatalf("%d guest-property files, want %d", n, config.MaxNodes)
	}
}

// The cloud-config validator is called from the matrix's parallel renders:
// under -race this fails if the validator's global state is not guarded.
func TestValidateCloudConfigConcurrent(t *testing.T) {
	cc := []byte("#cloud-config\nhostname: core-01\ncoreos:\n  units:\n    - name: a.service\n      command: start\n")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- ValidateCloudConfig(cc)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// A template override saved with CRLF line ends (a Windows editor, or a
// checkout with core.autocrlf) renders exactly what the LF original does:
// no carriage return reaches a guest's unit, cloud-config or shell step.
func TestTemplateOverrideCRLF(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"Vagrantfile.tmpl", "cloud-config.tmpl", "node-files.tmpl", "node.bu.tmpl", "etcd-env.tmpl"} {
		b, err := templates.FS.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		crlf := strings.ReplaceAll(string(b), "\n", "\r\n")
		if err := os.WriteFile(filepath.Join(dir, name), []byte(crlf), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tmpl, err := LoadTemplates(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"cloud-config", "ignition"} {
		lab := config.Default()
		lab.Format = format
		lab.Channel = "alpha"
		p, err := plan.New(lab, nil, fixedSecrets)
		if err != nil {
			t.Fatal(err)
		}
		want, err := Render(p, Options{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := Render(p, Options{Templates: tmpl})
		if err != nil {
			t.Fatalf("%s: CRLF templates: %v", format, err)
		}
		if len(got.Files) != len(want.Files) {
			t.Fatalf("%s: %d files from CRLF templates, %d from the embedded ones", format, len(got.Files), len(want.Files))
		}
		for i, f := range got.Files {
			if strings.Contains(string(f.Data), "\r") {
				t.Errorf("%s: %s holds a carriage return", format, f.Path)
			}
			if string(f.Data) != string(want.Files[i].Data) {
				t.Errorf("%s: %s differs from the embedded templates' render", format, f.Path)
			}
		}
	}
}
