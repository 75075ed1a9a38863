package render

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"strings"
	"testing"

	"github.com/cododemo/cododemo/pkg/plan"
)

// The matrix covers every channel at both generations, both providers and
// every format, reaches every delivery and the one refusal, and passes.
func TestMatrixCoversGenerations(t *testing.T) {
	combos := Matrix(MatrixFilter{})
	seen := map[string]bool{}
	for _, c := range combos {
		d, refused := c.Expect()
		if refused {
			seen["refused"] = true
		} else {
			seen[string(d)] = true
		}
		if c.Distro == "flatcar" {
			seen[c.Channel+"/"+c.Version] = true
		}
	}
	for _, want := range []string{string(plan.Upload), string(plan.GuestProperty), string(plan.FwCfg), "refused"} {
		if !seen[want] {
			t.Errorf("no combination reaches %s", want)
		}
	}
	for ch, vs := range MatrixVersions {
		if m, _ := majorOfTest(vs[0]); m >= plan.VBoxGuestMajor {
			t.Errorf("%s: %s is not before %d", ch, vs[0], plan.VBoxGuestMajor)
		}
		if m, _ := majorOfTest(vs[1]); m < plan.VBoxGuestMajor {
			t.Errorf("%s: %s is not %d or later", ch, vs[1], plan.VBoxGuestMajor)
		}
		for _, v := range vs {
			if !seen[ch+"/"+v] {
				t.Errorf("%s %s not in the matrix", ch, v)
			}
		}
	}
	tmpl, err := LoadTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	rep := CheckMatrix(combos, tmpl, "test", fixedSecrets)
	if !rep.OK() {
		for _, r := range rep.Results {
			if !r.OK {
				t.Errorf("%s: %s %+v", r.Name, r.Error, r.Files)
			}
		}
	}
	// JSON and JUnit carry the same counts.
	var jb, xb bytes.Buffer
	if err := WriteMatrixJSON(&jb, rep); err != nil {
		t.Fatal(err)
	}
	var back MatrixReport
	if err := json.Unmarshal(jb.Bytes(), &back); err != nil || back.Cases != rep.Cases || len(back.Results) != len(combos) {
		t.Fatalf("json: %v, %d cases", err, back.Cases)
	}
	if err := WriteMatrixJUnit(&xb, rep); err != nil {
		t.Fatal(err)
	}
	var doc mxSuites
	if err := xml.Unmarshal(xb.Bytes(), &doc); err != nil || len(doc.Suites) != len(combos) {
		t.Fatalf("junit: %v, %d suites", err, len(doc.Suites))
	}
	n := 0
	for _, s := range doc.Suites {
		n += len(s.Cases)
	}
	if n != rep.Cases || doc.Tests != rep.Cases {
		t.Fatalf("junit has %d cases (tests=%d), report %d", n, doc.Tests, rep.Cases)
	}
}

// A refusal the version table expects passes as a case of its own; an
// oversized guest-property config or a box-side file fails its file case.
func TestMatrixReportsFailures(t *testing.T) {
	tmpl, err := LoadTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	c := Combination{Distro: "flatcar", Channel: "stable", Version: "4593.2.5", Provider: "virtualbox", Format: "ignition", Nodes: 1}
	if _, refused := c.Expect(); !refused {
		t.Fatal("pre-4722 ignition on VirtualBox should be expected refused")
	}
	rep := CheckMatrix([]Combination{c, {Distro: "flatcar", Channel: "alpha", Version: "4790.0.0", Provider: "virtualbox", Format: "auto", Nodes: 1}}, tmpl, "test", fixedSecrets)
	if !rep.OK() || rep.Results[0].Expected != "refused" || !strings.Contains(rep.Results[0].Error, "no vboxguest") {
		t.Fatalf("%+v", rep.Results[0])
	}
	r := &Result{Files: []File{{Path: "nodes/core-01.vbox.ign", Data: bytes.Repeat([]byte("x"), VirtualBoxIgnitionLimit)}, {Path: "user-data"}}}
	files, ok := fileResults(r)
	if ok || files[0].OK || files[1].OK {
		t.Fatalf("oversized guest property and a box-side file pass: %+v", files)
	}
}

func majorOfTest(v string) (int, bool) {
	var m int
	_, err := fmt.Sscanf(v, "%d", &m)
	return m, err == nil
}
