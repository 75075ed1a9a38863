package release

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func testdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "testdata", "image", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestServerURLs(t *testing.T) {
	official := Server{}
	if got := official.URL("stable", "amd64", "current", VersionFile); got != "https://stable.release.flatcar-linux.net/amd64-usr/current/version.txt" {
		t.Errorf("official = %s", got)
	}
	m := Server{Mirror: "http://10.0.0.5:8080/flatcar/"}
	if got := m.URL("beta", "arm64", "4593.2.5", CatalogFile); got != "http://10.0.0.5:8080/flatcar/beta/arm64-usr/4593.2.5/flatcar_production_vagrant.json" {
		t.Errorf("mirror = %s", got)
	}
}

func TestVersionTxt(t *testing.T) {
	v, err := VersionFromTxt(testdata(t, "version.txt"))
	if err != nil || v != "4593.2.5" {
		t.Fatalf("%q %v", v, err)
	}
	for _, bad := range []string{"FLATCAR_VERSION=\n", "garbage\n", "FLATCAR_VERSION=4593.2\n"} {
		if _, err := VersionFromTxt([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestCatalog(t *testing.T) {
	c, err := ParseCatalog(testdata(t, "flatcar_production_vagrant.json"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Find("4593.2.5", "virtualbox")
	if err != nil || p.Checksum != "3b1a4f0c9d2e8b7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b" || !strings.HasSuffix(p.URL, "/flatcar_production_vagrant.box") {
		t.Fatalf("%+v %v", p, err)
	}
	if _, err := c.Find("4593.2.5", "libvirt"); err == nil || !strings.Contains(err.Error(), "providers: virtualbox, parallels") {
		t.Errorf("missing provider: %v", err)
	}
	if _, err := c.Find("1.2.3", "virtualbox"); err == nil || !strings.Contains(err.Error(), "lists 4593.2.5, not 1.2.3") {
		t.Errorf("missing version: %v", err)
	}
	if _, err := ParseCatalog([]byte(`{"name":"x","versions":[]}`)); err == nil {
		t.Error("empty catalog accepted")
	}
}

func TestLTSInfo(t *testing.T) {
	s, err := ParseLTSInfo(testdata(t, "lts-info"))
	if err != nil || len(s) != 4 || NewestSupported(s) != "current-2024" {
		t.Fatalf("%+v %v", s, err)
	}
	if NewestSupported([]LTSStream{{Major: 1, Year: 2020}}) != "" {
		t.Error("unsupported stream chosen")
	}
	if _, err := ParseLTSInfo([]byte("3510:2023:maybe\n")); err == nil {
		t.Error("bad state accepted")
	}
}

func TestDigests(t *testing.T) {
	d, err := ParseDigests(testdata(t, "flatcar_production_vagrant.box.DIGESTS"))
	if err != nil {
		t.Fatal(err)
	}
	if len(d) != 3 || !strings.HasPrefix(d["sha512"]["flatcar_production_vagrant.box"], "1f40fc92") {
		t.Fatalf("%v", d)
	}
	if _, err := ParseDigests([]byte("abc  file\n")); err == nil {
		t.Error("hash before header accepted")
	}
}

func TestIndexAndNearest(t *testing.T) {
	all := ParseIndex(testdata(t, "index.html"))
	want := []string{"4459.2.4", "4593.1.0", "4593.2.4", "4593.2.5"}
	if !reflect.DeepEqual(all, want) {
		t.Fatalf("index = %v", all)
	}
	cases := []struct {
		want string
		n    int
		out  []string
	}{
		{"4593.2.6", 2, []string{"4593.2.4", "4593.2.5"}},
		{"4593.2.0", 2, []string{"4593.1.0", "4593.2.4"}},
		{"1.0.0", 2, []string{"4459.2.4", "4593.1.0"}},
		{"9999.0.0", 3, []string{"4593.1.0", "4593.2.4", "4593.2.5"}},
		{"4593.2.5", 10, want},
	}
	for _, c := range cases {
		if got := Nearest(all, c.want, c.n); !reflect.DeepEqual(got, c.out) {
			t.Errorf("Nearest(%s, %d) = %v, want %v", c.want, c.n, got, c.out)
		}
	}
	if Compare("4593.10.0", "4593.9.9") <= 0 {
		t.Error("compare is not numeric")
	}
}

func FuzzParsers(f *testing.F) {
	for _, n := range []string{"version.txt", "flatcar_production_vagrant.json", "lts-info", "flatcar_production_vagrant.box.DIGESTS", "index.html"} {
		f.Add(testdata(f, n))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = ParseVersionTxt(data)
		if c, err := ParseCatalog(data); err == nil {
			_, _ = c.Find("4593.2.5", "virtualbox")
		}
		_, _ = ParseLTSInfo(data)
		_, _ = ParseDigests(data)
		all := ParseIndex(data)
		if got := Nearest(all, "4593.2.5", 3); len(got) > 3 {
			t.Fatalf("Nearest returned %d", len(got))
		}
	})
}
