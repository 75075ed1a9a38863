package plan

import (
	"strings"
	"testing"

	"github.com/cododemo/cododemo/pkg/config"
)

func TestNewDefault(t *testing.T) {
	lab := config.Default()
	p, err := New(lab, nil, Secrets{ClusterToken: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(p.NodeNames(), ","); got != "core-01,core-02,core-03" {
		t.Fatalf("names %s", got)
	}
	wantIPs := []string{"192.168.56.101", "192.168.56.102", "192.168.56.103"}
	macs := map[string]bool{}
	for i, n := range p.Nodes {
		if n.IP.String() != wantIPs[i] {
			t.Errorf("%s ip %s want %s", n.Name, n.IP, wantIPs[i])
		}
		if macs[n.MAC] {
			t.Errorf("duplicate MAC %s", n.MAC)
		}
		macs[n.MAC] = true
		if !strings.HasPrefix(n.MAC, "02:") {
			t.Errorf("MAC %s is not locally administered", n.MAC)
		}
	}
	want := "core-01=http://192.168.56.101:2380,core-02=http://192.168.56.102:2380,core-03=http://192.168.56.103:2380"
	if p.Etcd.InitialCluster != want || p.Etcd.Token != "tok" || !p.Etcd.EnableV2 {
		t.Fatalf("etcd %+v", p.Etcd)
	}
	if p.HostIP.String() != "192.168.56.1" {
		t.Fatalf("host ip %s", p.HostIP)
	}
	// VirtualBox guests reach the host's loopback through NAT.
	if p.FirstBoot.Listen.String() != "127.0.0.1:8765" || p.FirstBoot.GuestBase != "http://10.0.2.2:8765" {
		t.Fatalf("first boot %+v", p.FirstBoot)
	}
	if p.Box.Name != "flatcar-stable" || p.Box.Version != "" ||
		p.Box.URL != "https://stable.release.flatcar-linux.net/amd64-usr/current/flatcar_production_vagrant.json" {
		t.Fatalf("box %+v", p.Box)
	}
	a, ok := p.Artifact("fleet")
	if !ok || a.URL != "http://10.0.2.2:8765/artifacts/fleet-v1.0.0-linux-amd64.tar.gz" {
		t.Fatalf("fleet artifact %+v", a)
	}
	// etcd comes from its release tarball by default, served the same way.
	e, ok := p.Artifact("etcd")
	if !ok || e.URL != "http://10.0.2.2:8765/artifacts/etcd-v3.5.21-linux-amd64.tar.gz" || e.Version != "v3.5.21" || e.SHA256 != "" {
		t.Fatalf("etcd artifact %+v", e)
	}
}

// etcd.from: box and legacy CoreOS boxes serve no etcd: the box has its own.
func TestEtcdFromBoxServesNothing(t *testing.T) {
	for _, edit := range []func(*config.Lab){
		func(l *config.Lab) { l.Etcd.From = "box" },
		func(l *config.Lab) { l.Etcd.Enabled, l.Fleet.Enabled = false, false },
		func(l *config.Lab) { l.Distro, l.Channel, l.Format = "coreos", "stable", "cloud-config" },
	} {
		lab := config.Default()
		edit(&lab)
		p, err := New(lab, nil, Secrets{})
		if err != nil {
			t.Fatal(err)
		}
		if a, ok := p.Artifact("etcd"); ok {
			t.Errorf("%+v: etcd served: %+v", lab.Etcd, a)
		}
	}
}

func TestNewLibvirtLockedMirror(t *testing.T) {
	lab := config.Default()
	lab.Provider, lab.Mirror, lab.Network.CIDR, lab.Network.FirstHost = "libvirt", "http://127.0.0.1:9000/flatcar/", "10.77.0.0/24", 10
	lock := &config.Lock{OS: config.OSRelease{Version: "4593.2.5", Box: config.Box{Name: "flatcar-stable", SHA256: "ab"}},
		Artifacts: map[string]config.Artifact{"fleet": {SHA256: "ff"}, "etcd": {SHA256: "ee"}}}
	p, err := New(lab, lock, Secrets{})
	if err != nil {
		t.Fatal(err)
	}
	// The first-boot server binds only the management network's gateway.
	if p.FirstBoot.Listen.String() != "192.168.121.1:8765" || p.FirstBoot.GuestBase != "http://192.168.121.1:8765" {
		t.Fatalf("first boot %+v", p.FirstBoot)
	}
	if p.Nodes[2].IP.String() != "10.77.0.12" {
		t.Fatalf("ip %s", p.Nodes[2].IP)
	}
	if p.Box.Version != "4593.2.5" || p.Box.URL != "http://127.0.0.1:9000/flatcar/stable/amd64-usr/current/flatcar_production_vagrant.json" {
		t.Fatalf("box %+v", p.Box)
	}
	if a, _ := p.Artifact("fleet"); a.SHA256 != "ff" {
		t.Fatalf("fleet hash %q", a.SHA256)
	}
	if a, _ := p.Artifact("etcd"); a.SHA256 != "ee" || a.URL != "http://192.168.121.1:8765/artifacts/etcd-v3.5.21-linux-amd64.tar.gz" {
		t.Fatalf("etcd %+v", a)
	}
	if got := strings.Join(p.EtcdEndpoints(), ","); !strings.HasPrefix(got, "http://10.77.0.10:2379,") {
		t.Fatalf("endpoints %s", got)
	}
}

func TestMACsDifferPerLab(t *testing.T) {
	a, b := config.Default(), config.Default()
	b.Name = "other"
	pa, _ := New(a, nil, Secrets{})
	pb, _ := New(b, nil, Secrets{})
	if pa.Nodes[0].MAC == pb.Nodes[0].MAC {
		t.Fatal("two labs share a MAC")
	}
	if pa.Nodes[0].VMName == pb.Nodes[0].VMName {
		t.Fatal("two labs share a VM name")
	}
}
