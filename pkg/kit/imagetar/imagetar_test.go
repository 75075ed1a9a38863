package imagetar

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"
)

func sample() []Image {
	return []Image{
		{Tags: []string{"cododemo/web:1"}, Arch: "arm64", Entrypoint: []string{"/web"}, ExposedPorts: []string{"8080/tcp"},
			Files: []File{{Path: "/web", Mode: 0o755, Data: []byte("web binary")}, {Path: "etc/motd", Data: []byte("hi")}}},
		{Tags: []string{"cododemo/hello:1"}, Arch: "arm64", Entrypoint: []string{"/hello"},
			Files: []File{{Path: "/hello", Mode: 0o755, Data: []byte("hello binary")}}},
	}
}

func build(t *testing.T, images []Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, images); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestReproducible(t *testing.T) {
	a, b := build(t, sample()), build(t, sample())
	if sha256.Sum256(a) != sha256.Sum256(b) {
		t.Fatal("two writes of the same images differ")
	}
	// Files given in another order make the same layer.
	s := sample()
	s[0].Files[0], s[0].Files[1] = s[0].Files[1], s[0].Files[0]
	if c := build(t, s); !bytes.Equal(a, c) {
		t.Fatal("file order changed the tarball")
	}
}

func TestEntriesSortedEpochOwnerless(t *testing.T) {
	tarball := build(t, sample())
	var check func(where string, r io.Reader) []string
	check = func(where string, r io.Reader) []string {
		var names []string
		tr := tar.NewReader(r)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, h.Name)
			if !h.ModTime.Equal(time.Unix(0, 0)) || h.Uid != 0 || h.Gid != 0 || h.Uname != "" {
				t.Errorf("%s %s: mtime %v owner %d:%d %q", where, h.Name, h.ModTime, h.Uid, h.Gid, h.Uname)
			}
			if strings.HasSuffix(h.Name, "layer.tar") {
				b, _ := io.ReadAll(tr)
				inner := check("layer", bytes.NewReader(b))
				if strings.Join(inner, ",") != "etc/,etc/motd,web" && strings.Join(inner, ",") != "hello" {
					t.Errorf("layer entries %v", inner)
				}
			}
		}
		for i := 1; i < len(names); i++ {
			if names[i-1] >= names[i] {
				t.Errorf("%s: entries not sorted: %v", where, names)
			}
		}
		return names
	}
	check("tarball", bytes.NewReader(tarball))
}

func TestReadBack(t *testing.T) {
	got, err := Read(bytes.NewReader(build(t, sample())))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Tags[0] != "cododemo/web:1" || got[1].Tags[0] != "cododemo/hello:1" {
		t.Fatalf("images %+v", got)
	}
	web := got[0]
	if f := web.Files["web"]; string(f.Data) != "web binary" || f.Mode != 0o755 {
		t.Errorf("web binary: %+v", f)
	}
	if f := web.Files["etc/motd"]; f.Mode != 0o644 {
		t.Errorf("default mode: %o", f.Mode)
	}
	var cfg map[string]any
	if err := json.Unmarshal(web.Config, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg["architecture"] != "arm64" || cfg["os"] != "linux" || cfg["created"] != "1970-01-01T00:00:00Z" {
		t.Errorf("config %v", cfg)
	}
	c := cfg["config"].(map[string]any)
	if ep := c["Entrypoint"].([]any); ep[0] != "/web" {
		t.Errorf("entrypoint %v", ep)
	}
	if _, ok := c["ExposedPorts"].(map[string]any)["8080/tcp"]; !ok {
		t.Errorf("ports %v", c["ExposedPorts"])
	}
}

func TestReadRejectsTampering(t *testing.T) {
	tarball := build(t, sample())
	// Flip one byte of the web binary inside its layer: the layer no
	// longer matches its diff_id.
	i := bytes.Index(tarball, []byte("web binary"))
	bad := bytes.Clone(tarball)
	bad[i] = 'W'
	if _, err := Read(bytes.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "diff_id") {
		t.Errorf("tampered layer: %v", err)
	}
}

func TestWriteErrors(t *testing.T) {
	for name, imgs := range map[string][]Image{
		"no images":  nil,
		"no tag":     {{Arch: "amd64"}},
		"no arch":    {{Tags: []string{"a:1"}}},
		"dup tag":    {{Tags: []string{"a:1"}, Arch: "amd64"}, {Tags: []string{"a:1"}, Arch: "amd64"}},
		"dotdot":     {{Tags: []string{"a:1"}, Arch: "amd64", Files: []File{{Path: "../x"}}}},
		"dup file":   {{Tags: []string{"a:1"}, Arch: "amd64", Files: []File{{Path: "/x"}, {Path: "x"}}}},
		"empty path": {{Tags: []string{"a:1"}, Arch: "amd64", Files: []File{{Path: ""}}}},
	} {
		if err := Write(io.Discard, imgs); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
