package health

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func testdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "health", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseOSRelease(t *testing.T) {
	r, err := ParseOSRelease(testdata(t, "os-release-flatcar.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if r.ID != "flatcar" || r.VersionID != "4593.2.5" || r.IDLike != "coreos" || r.Channel != "beta" ||
		r.PrettyName != "Flatcar Container Linux by Kinvolk 4593.2.5 (Oklo)" {
		t.Errorf("flatcar: %+v", r)
	}
	r, err = ParseOSRelease(testdata(t, "os-release-coreos.txt"))
	if err != nil || r.ID != "coreos" || r.Channel != "stable" || r.VersionID != "2512.3.0" {
		t.Errorf("coreos: %+v %v", r, err)
	}
	// No update.conf at all (a non-Flatcar host): no channel, no error.
	r, err = ParseOSRelease([]byte("ID=debian\nVERSION_ID=\"12\"\n" + UpdateConfMarker + "\n"))
	if err != nil || r.ID != "debian" || r.VersionID != "12" || r.Channel != "" {
		t.Errorf("debian: %+v %v", r, err)
	}
	for _, bad := range []string{"", "NAME=x\n", "this is not os-release\n"} {
		if _, err := ParseOSRelease([]byte(bad)); err == nil {
			t.Errorf("%q: want error", bad)
		}
	}
	if got := unquote(`"a \"quoted\" \$value"`); got != `a "quoted" $value` {
		t.Errorf("unquote: %q", got)
	}
}

func TestParseEtcdCaptured(t *testing.T) {
	hs, err := ParseEndpointHealth(testdata(t, "etcd-endpoint-health-cluster.json"))
	if err != nil || len(hs) != 3 {
		t.Fatalf("%v %+v", err, hs)
	}
	for _, h := range hs {
		if !h.Health || !strings.HasPrefix(h.Endpoint, "http://127.") {
			t.Errorf("%+v", h)
		}
	}
	hs, err = ParseEndpointHealth(testdata(t, "etcd-endpoint-health-cluster-dead-member.json"))
	if err != nil || len(hs) != 3 {
		t.Fatalf("%v %+v", err, hs)
	}
	if hs[2].Health || hs[2].Error != "context deadline exceeded" {
		t.Errorf("dead member: %+v", hs[2])
	}

	ml, err := ParseMemberList(testdata(t, "etcd-member-list.json"))
	if err != nil || len(ml.Members) != 3 {
		t.Fatalf("%v %+v", err, ml)
	}
	// IDs above 2^53 survive exactly: compare with the text.
	raw := string(testdata(t, "etcd-member-list.json"))
	for _, m := range ml.Members {
		if !strings.Contains(raw, `"ID":`+uitoa(m.ID)+",") {
			t.Errorf("member %s: ID %d not exactly as printed", m.Name, m.ID)
		}
	}
	if ml.Header.ClusterID == 0 {
		t.Error("cluster_id not decoded")
	}

	st, err := ParseEndpointStatus(testdata(t, "etcd-endpoint-status-cluster.json"))
	if err != nil || len(st) != 3 {
		t.Fatalf("%v %+v", err, st)
	}
	for _, s := range st {
		if s.Status.Leader != st[0].Status.Leader || s.Status.Version != "3.4.23" {
			t.Errorf("%+v", s)
		}
	}
	st, err = ParseEndpointStatus(testdata(t, "etcd-endpoint-status-cluster-dead-member.json"))
	if err != nil || len(st) != 2 {
		t.Fatalf("dead member: %v %+v", err, st)
	}

	for _, bad := range []string{"", "Error: unhealthy cluster", `[{"endpoint":1}]`, `[] []`, `{"members":[{"ID":-1}]}`} {
		if _, err := ParseEndpointHealth([]byte(bad)); err == nil && bad != `{"members":[{"ID":-1}]}` {
			t.Errorf("health %q: want error", bad)
		}
	}
	if _, err := ParseMemberList([]byte(`{"members":[{"ID":-1}]}`)); err == nil {
		t.Error("negative member ID: want error")
	}
	if _, err := ParseMemberList([]byte(`{"members":[{"ID":1.5e19}]}`)); err == nil {
		t.Error("float member ID: want error")
	}
}

func uitoa(u uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + u%10)
		u /= 10
		if u == 0 {
			return string(b[i:])
		}
	}
}

func TestParseFleetMachines(t *testing.T) {
	for _, name := range []string{"fleet-list-machines-full.txt", "fleet-list-machines-legend.txt"} {
		ms, err := ParseFleetMachines(testdata(t, name))
		if err != nil || len(ms) != 3 {
			t.Fatalf("%s: %v %+v", name, err, ms)
		}
		if ms[0].ID != "d3b1ba4d4f5a4c6e9e0f2a3b4c5d6e7f" || ms[0].IP != "192.168.56.101" {
			t.Errorf("%s: %+v", name, ms[0])
		}
	}
	ms, _ := ParseFleetMachines(testdata(t, "fleet-list-machines-full.txt"))
	if ms[0].Metadata != "role=core,zone=a" || ms[1].Metadata != "-" {
		t.Errorf("metadata: %+v", ms)
	}
	if _, err := ParseFleetMachines(testdata(t, "fleet-list-machines-truncated.txt")); err == nil || !strings.Contains(err.Error(), "--full") {
		t.Errorf("truncated IDs: %v", err)
	}
	if _, err := ParseFleetMachines([]byte("zz\t1.2.3.4\t-\n")); err == nil {
		t.Error("non-hex ID accepted")
	}
	if _, err := ParseFleetMachines([]byte("Error retrieving list of active machines: x\n")); err == nil {
		t.Error("error text accepted")
	}
	us, err := ParseFleetUnits(testdata(t, "fleet-list-units.txt"))
	if err != nil || len(us) != 2 || us[0].Active != "activating" || us[1].Name != "hello.service" {
		t.Errorf("units: %v %+v", err, us)
	}
}

func TestParseSystemd(t *testing.T) {
	if got := ParseFailedUnits(testdata(t, "systemctl-failed-units.txt")); strings.Join(got, ",") != "locksmithd.service,update-engine.service" {
		t.Errorf("failed units: %v", got)
	}
	if got := ParseFailedUnits(testdata(t, "systemctl-failed-units-bullet.txt")); strings.Join(got, ",") != "docker.service" {
		t.Errorf("failed units with bullet: %v", got)
	}
	if got := ParseSystemState([]byte("degraded\n")); got != "degraded" {
		t.Errorf("state %q", got)
	}
}

func TestHostOf(t *testing.T) {
	for in, want := range map[string]string{
		"http://10.0.0.1:2379":    "10.0.0.1",
		"https://[fd00::1]:2379/": "fd00::1",
		"http://node-1":           "node-1",
		"10.0.0.2:2379":           "10.0.0.2",
		"":                        "",
	} {
		if got := hostOf(in); got != want {
			t.Errorf("hostOf(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestErrorLines(t *testing.T) {
	in := `{"level":"warn","ts":"x","msg":"retrying of unary invoker failed"}
Error: context deadline exceeded
`
	if got := errorLines([]byte(in)); got != "Error: context deadline exceeded" {
		t.Errorf("%q", got)
	}
}
