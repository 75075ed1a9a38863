package health

import (
	"strings"
	"testing"
)

// Every parser of node output must survive any bytes.

func seedAll(f *testing.F, names ...string) {
	for _, n := range names {
		f.Add(testdata(f, n))
	}
	f.Add([]byte(""))
	f.Add([]byte("\x00\xff\n=\n\"\n"))
}

func FuzzParseOSRelease(f *testing.F) {
	seedAll(f, "os-release-flatcar.txt", "os-release-coreos.txt")
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseOSRelease(b)
		if err == nil && r.ID == "" {
			t.Fatal("accepted os-release without ID")
		}
	})
}

func FuzzParseEtcd(f *testing.F) {
	seedAll(f, "etcd-endpoint-health-cluster.json", "etcd-endpoint-health-cluster-dead-member.json",
		"etcd-member-list.json", "etcd-endpoint-status-cluster.json", "etcd-endpoint-status-cluster-dead-member.json")
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ParseEndpointHealth(b)
		_, _ = ParseMemberList(b)
		_, _ = ParseEndpointStatus(b)
	})
}

func FuzzParseFleet(f *testing.F) {
	seedAll(f, "fleet-list-machines-full.txt", "fleet-list-machines-legend.txt", "fleet-list-machines-truncated.txt",
		"fleet-list-machines-cloned-machine-id.txt", "fleet-list-units.txt")
	f.Fuzz(func(t *testing.T, b []byte) {
		ms, err := ParseFleetMachines(b)
		if err == nil {
			for _, m := range ms {
				if m.ID == "" || m.IP == "" || strings.ContainsAny(m.ID+m.IP+m.Metadata, " \t\n") {
					t.Fatalf("bad machine %+v", m)
				}
			}
		}
		_, _ = ParseFleetUnits(b)
	})
}

func FuzzParseSystemd(f *testing.F) {
	seedAll(f, "systemctl-failed-units.txt", "systemctl-failed-units-bullet.txt")
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, u := range ParseFailedUnits(b) {
			if u == "" || strings.ContainsAny(u, " \t\n") {
				t.Fatalf("bad unit %q", u)
			}
		}
		if s := ParseSystemState(b); strings.Contains(s, "\n") {
			t.Fatalf("multi-line state %q", s)
		}
		_ = hostOf(string(b))
	})
}
