package plan

import (
	"errors"
	"strings"
	"testing"

	"github.com/cododemo/cododemo/pkg/config"
)

func lockAt(version string) *config.Lock {
	return &config.Lock{Version: config.LockVersion, Distro: "flatcar", Channel: "stable", Arch: "amd64",
		OS: config.OSRelease{Version: version, Box: config.Box{Name: "flatcar-stable", Provider: "virtualbox",
			URL: "https://example.invalid/flatcar_production_vagrant.json", SHA256: strings.Repeat("a", 64)}}}
}

// The decision table of FACTS "Flatcar box generations", row by row.
func TestProvisioningFollowsTheBox(t *testing.T) {
	cases := []struct {
		name    string
		edit    func(*config.Lab)
		lock    *config.Lock
		want    Delivery
		assumed bool
		upload  string
		whyHas  string
		genHas  string
		wantErr string
	}{
		{name: "stable locked 4593", lock: lockAt("4593.2.5"), want: Upload, upload: FlatcarUploadPath,
			whyHas: "no vboxguest", genHas: "4593.2.5 (before 4722"},
		{name: "lts locked 4081", edit: func(l *config.Lab) { l.Channel = "lts" }, lock: lockAt("4081.3.6"), want: Upload},
		{name: "last release before vboxguest", lock: lockAt("4721.9.9"), want: Upload},
		{name: "first release with vboxguest", edit: func(l *config.Lab) { l.Channel = "alpha" }, lock: lockAt("4722.0.0"),
			want: GuestProperty, genHas: "4722.0.0 (4722 and later"},
		{name: "beta 4757", edit: func(l *config.Lab) { l.Channel = "beta" }, lock: lockAt("4757.1.0"), want: GuestProperty},
		{name: "exact version without lock", edit: func(l *config.Lab) { l.Version = "4790.0.0" }, want: GuestProperty},
		{name: "no lock stable assumes before 4722", want: Upload, assumed: true, genHas: "Flatcar stable assumed to be 4593.x", whyHas: "no vboxguest"},
		{name: "no lock lts assumes before 4722", edit: func(l *config.Lab) { l.Channel = "lts" }, want: Upload, assumed: true},
		{name: "no lock alpha assumes 4722+", edit: func(l *config.Lab) { l.Channel = "alpha" }, want: GuestProperty, assumed: true},
		{name: "libvirt stable", edit: func(l *config.Lab) { l.Provider = "libvirt" }, lock: lockAt("4593.2.5"), want: FwCfg},
		{name: "libvirt alpha", edit: func(l *config.Lab) { l.Provider, l.Channel = "libvirt", "alpha" }, lock: lockAt("4790.0.0"), want: FwCfg},
		{name: "libvirt explicit ignition on old", edit: func(l *config.Lab) { l.Provider, l.Format = "libvirt", "ignition" }, lock: lockAt("4081.3.6"), want: FwCfg},
		{name: "libvirt explicit cloud-config (e2e stable stand-in)", edit: func(l *config.Lab) { l.Provider, l.Format = "libvirt", "cloud-config" },
			want: Upload, assumed: true, upload: FlatcarUploadPath},
		{name: "explicit cloud-config on 4722+", edit: func(l *config.Lab) { l.Format = "cloud-config" }, lock: lockAt("4790.0.0"), want: Upload},
		{name: "explicit ignition on 4722+", edit: func(l *config.Lab) { l.Format = "ignition" }, lock: lockAt("4722.1.0"), want: GuestProperty},
		{name: "explicit ignition on stable is refused", edit: func(l *config.Lab) { l.Format = "ignition" }, lock: lockAt("4593.2.5"),
			wantErr: "format: ignition: Flatcar 4593.2.5 on VirtualBox cannot read Ignition: releases before 4722 have no vboxguest driver"},
		{name: "explicit ignition, exact old version unlocked", edit: func(l *config.Lab) { l.Format, l.Version = "ignition", "4081.3.6" },
			wantErr: "Flatcar 4081.3.6"},
		{name: "explicit ignition on assumed stable warns", edit: func(l *config.Lab) { l.Format = "ignition" }, want: GuestProperty,
			assumed: true, whyHas: "warning: format: ignition: Flatcar stable (assumed 4593.x"},
		{name: "coreos", edit: func(l *config.Lab) { l.Distro, l.Format = "coreos", "cloud-config" }, want: Upload, upload: CoreOSUploadPath},
		{name: "coreos auto", edit: func(l *config.Lab) { l.Distro = "coreos" }, want: Upload, upload: CoreOSUploadPath},
		{name: "own box, auto", edit: func(l *config.Lab) { l.Box.Name = "my-box" }, want: GuestProperty, genHas: "unknown (box my-box)"},
		{name: "own box, explicit ignition is the user's call", edit: func(l *config.Lab) { l.Box.Name, l.Format = "my-box", "ignition" }, want: GuestProperty},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lab := config.Default()
			lab.Format = "auto"
			if c.edit != nil {
				c.edit(&lab)
			}
			p, err := New(lab, c.lock, Secrets{ClusterToken: "t"})
			if c.wantErr != "" {
				var ge *GenerationError
				if err == nil || !errors.As(err, &ge) || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want a generation error with %q", err, c.wantErr)
				}
				for _, w := range []string{"/Ignition/Config", "fix:", "remove format"} {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error lacks %q: %v", w, err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			pr := p.Provision
			if pr.Delivery != c.want || pr.Assumed != c.assumed {
				t.Fatalf("delivery %s assumed %v, want %s %v (%+v)", pr.Delivery, pr.Assumed, c.want, c.assumed, pr)
			}
			if p.Lab.Format != c.want.Format() || pr.Format != c.want.Format() {
				t.Errorf("format %q/%q, want %q", p.Lab.Format, pr.Format, c.want.Format())
			}
			if c.upload != "" && pr.UploadPath != c.upload {
				t.Errorf("upload path %q, want %q", pr.UploadPath, c.upload)
			}
			if !strings.Contains(pr.Why, c.whyHas) || !strings.Contains(pr.Generation, c.genHas) {
				t.Errorf("why %q / generation %q, want %q / %q", pr.Why, pr.Generation, c.whyHas, c.genHas)
			}
			for _, n := range p.Nodes {
				if n.Delivery != pr.Delivery {
					t.Errorf("%s: delivery %s, plan says %s", n.Name, n.Delivery, pr.Delivery)
				}
			}
		})
	}
}

func TestUpdatesOffByDefault(t *testing.T) {
	lab := config.Default()
	p, err := New(lab, nil, Secrets{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Updates {
		t.Fatal("updates on by default")
	}
	lab.Updates.Enabled = true
	if p, _ = New(lab, nil, Secrets{}); !p.Updates {
		t.Fatal("updates.enabled ignored")
	}
}
