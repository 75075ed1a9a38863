package artifacts

import (
	"regexp"
	"strings"
	"testing"
)

var hex64 = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Every pin is a well-formed sha256 or empty (fleet: trust on first use),
// and names the file its URL ends in.
func TestPinTable(t *testing.T) {
	for _, r := range []release{fleet, etcd} {
		for key, sha := range r.sha256 {
			if sha != "" && !hex64.MatchString(sha) {
				t.Errorf("%s %s: %q is not a sha256", r.name, key, sha)
			}
			version, arch, _ := strings.Cut(key, "/")
			p, err := r.known(version, arch)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasSuffix(p.URL, "/"+version+"/"+p.File) || p.MirrorPath != "artifacts/"+p.File || p.SHA256 != sha {
				t.Errorf("%s %s: %+v", r.name, key, p)
			}
		}
	}
}

func TestEtcd(t *testing.T) {
	p, err := Etcd("v3.5.21", "amd64", "")
	if err != nil {
		t.Fatal(err)
	}
	want := Pin{Name: "etcd", File: "etcd-v3.5.21-linux-amd64.tar.gz", Arch: "amd64",
		URL:        "https://github.com/etcd-io/etcd/releases/download/v3.5.21/etcd-v3.5.21-linux-amd64.tar.gz",
		MirrorPath: "artifacts/etcd-v3.5.21-linux-amd64.tar.gz",
		SHA256:     "adddda4b06718e68671ffabff2f8cee48488ba61ad82900e639d108f2148501c",
		Builtin:    "adddda4b06718e68671ffabff2f8cee48488ba61ad82900e639d108f2148501c"}
	if p != want {
		t.Fatalf("got %+v\nwant %+v", p, want)
	}
	if got := p.Source("http://10.0.0.5:8080/mirror/"); got != "http://10.0.0.5:8080/mirror/artifacts/etcd-v3.5.21-linux-amd64.tar.gz" {
		t.Errorf("Source = %s", got)
	}

	own := strings.Repeat("e", 64)
	p, err = Etcd("v3.5.21", "amd64", own)
	if err != nil || p.SHA256 != own || !p.Overridden || p.Builtin != want.SHA256 {
		t.Fatalf("override: %v %+v", err, p)
	}
	// An override makes a version with no built-in pin usable.
	p, err = Etcd("v3.6.0", "amd64", own)
	if err != nil || p.SHA256 != own || p.Builtin != "" || p.File != "etcd-v3.6.0-linux-amd64.tar.gz" {
		t.Fatalf("unknown version with override: %v %+v", err, p)
	}
	_, err = Etcd("v3.6.0", "amd64", "")
	if err == nil || err.Error() != "etcd v3.6.0 has no linux-amd64 release known to cododemo (known: v3.5.21/amd64, v3.5.21/arm64)" {
		t.Fatalf("unknown version: %v", err)
	}
	if _, err := Etcd("v3.5.21", "s390x", ""); err == nil || !strings.Contains(err.Error(), "no linux-s390x release") {
		t.Fatalf("unknown arch: %v", err)
	}
}

func TestFleetUnchanged(t *testing.T) {
	p, err := Fleet("v1.0.0", "amd64")
	if err != nil || p.URL != "https://github.com/coreos/fleet/releases/download/v1.0.0/fleet-v1.0.0-linux-amd64.tar.gz" || p.SHA256 != "" || p.Overridden {
		t.Fatalf("%v %+v", err, p)
	}
	if _, err := Fleet("v1.0.0", "arm64"); err == nil || !strings.Contains(err.Error(), "known: v1.0.0/amd64") {
		t.Fatalf("arm64: %v", err)
	}
}

func TestFromURL(t *testing.T) {
	p, err := FromURL("etcd", "https://github.com/etcd-io/etcd/releases/download/v3.5.21/etcd-v3.5.21-linux-amd64.tar.gz")
	if err != nil || p.File != "etcd-v3.5.21-linux-amd64.tar.gz" || p.MirrorPath != "artifacts/etcd-v3.5.21-linux-amd64.tar.gz" {
		t.Fatalf("%v %+v", err, p)
	}
	for _, bad := range []string{"", "not a url", "https://example.org/"} {
		if _, err := FromURL("x", bad); err == nil {
			t.Errorf("FromURL(%q) accepted", bad)
		}
	}
}
