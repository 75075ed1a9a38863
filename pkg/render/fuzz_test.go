package render

import (
	"strings"
	"testing"

	"github.com/cododemo/cododemo/pkg/config"
	"github.com/cododemo/cododemo/pkg/plan"
)

// FuzzVagrantfile drives the path from a lab file's free-text values to
// the Vagrantfile: every input gets a clear error naming its key, or a
// Vagrantfile that `ruby -c` accepts and in which Ruby's lexer finds no
// interpolation and no command. The seeds run in every `go test`; a
// longer search: go test ./pkg/render -run '^$' -fuzz FuzzVagrantfile -fuzztime 60s
func FuzzVagrantfile(f *testing.F) {
	for _, s := range hostile {
		f.Add(s, "https://example.com/"+s, s, "/home/core/"+s, "")
	}
	f.Add("flatcar-stable", "file:///C:/Users/A%20B/box.json", `C:\Users\A B\lab`, "/srv", "http://127.0.0.1:9000/")
	f.Add("org/box", "http://h/x'y", "./share'\\", "/a b", "https://mirror/#{`id`}")
	f.Add("a\nb", "https://h/\n", "x\x00", "/\t", "http://m/\r")
	f.Fuzz(func(t *testing.T, boxName, boxURL, host, guest, mirror string) {
		lab := config.Default()
		lab.Format = "ignition"
		lab.Box.Name, lab.Box.URL, lab.Mirror = boxName, boxURL, mirror
		lab.SharedFolders = []config.SharedFolder{{Host: host, Guest: guest, Type: "rsync"}}
		// A refused value is replaced by a good one, so the others still
		// reach the Vagrantfile.
		reset := map[string]func(){
			"box.name":               func() { lab.Box.Name, lab.Box.URL = "", "" },
			"box.url":                func() { lab.Box.URL = "" },
			"mirror":                 func() { lab.Mirror = "" },
			"shared_folders.0.host":  func() { lab.SharedFolders[0].Host = "share" },
			"shared_folders.0.guest": func() { lab.SharedFolders[0].Guest = "/share" },
		}
		for round := 0; ; round++ {
			var errs []config.Problem
			for _, p := range config.Validate(lab) {
				if !p.Warning {
					errs = append(errs, p)
				}
			}
			if len(errs) == 0 {
				break
			}
			if round == 2 {
				t.Fatalf("still invalid after replacing the refused values: %v", errs)
			}
			for _, p := range errs {
				fix, ok := reset[p.Key]
				if !ok || p.Msg == "" || strings.Contains(p.Msg, "config.") || len(p.Msg) > 300 {
					t.Fatalf("unclear problem or wrong key: %+v", p)
				}
				fix()
			}
		}
		p, err := plan.New(lab, nil, fixedSecrets)
		if err != nil {
			t.Fatalf("plan of a valid lab: %v", err)
		}
		r, err := Render(p, Options{})
		if err != nil {
			t.Fatalf("render of a valid lab: %v", err)
		}
		checkRuby(t, string(r.Files[0].Data))
	})
}
