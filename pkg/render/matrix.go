package render

import (
	"context"
	"errors"
	"fmt"
	"path"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/cododemo/cododemo/pkg/config"
	"github.com/cododemo/cododemo/pkg/labstate"
	"github.com/cododemo/cododemo/pkg/plan"
)

// Combination is one lab of `render --check --matrix`.
type Combination struct {
	Distro  string `json:"distro"`
	Channel string `json:"channel"`
	// Version is the exact release the combination is locked at ("" for
	// CoreOS, whose boxes are never locked).
	Version  string `json:"version,omitempty"`
	Provider string `json:"provider"`
	Format   string `json:"format"` // auto, ignition or cloud-config, as a user writes it
	Nodes    int    `json:"nodes"`
}

// Name identifies the combination in reports.
func (c Combination) Name() string {
	v := c.Version
	if v == "" {
		v = "cache"
	}
	return fmt.Sprintf("%s/%s/%s/%s/%s/%d", c.Distro, c.Channel, v, c.Provider, c.Format, c.Nodes)
}

// MatrixVersions are the two box generations each Flatcar channel is
// checked at: one like today's stable (before 4722: no vboxguest) and one
// 4722 or later.
var MatrixVersions = map[string][2]string{
	"alpha":  {"4628.0.0", "4790.0.0"},
	"beta":   {"4593.1.0", "4757.1.0"},
	"stable": {"4593.2.5", "4722.2.0"},
	"lts":    {"4081.3.6", "4722.3.0"},
}

// MatrixFilter narrows the matrix; zero values keep everything. Nodes
// replaces the sizes (1, the default, the maximum) with one.
type MatrixFilter struct {
	Distro, Channel, Provider, Format string
	Nodes                             int
}

// Matrix lists every combination of distro, channel, generation, provider
// and format; the auto format also at 1 node and the maximum.
func Matrix(f MatrixFilter) []Combination {
	var out []Combination
	keep := func(want, got string) bool { return want == "" || want == got }
	for _, d := range config.Distros {
		if !keep(f.Distro, d) {
			continue
		}
		for _, ch := range config.Channels[d] {
			if !keep(f.Channel, ch) {
				continue
			}
			versions := []string{""}
			if d == "flatcar" {
				v := MatrixVersions[ch]
				versions = v[:]
			}
			for _, v := range versions {
				for _, p := range config.Providers {
					if !keep(f.Provider, p) {
						continue
					}
					for _, fm := range config.Formats {
						if !keep(f.Format, fm) || (d == "coreos" && fm == "ignition") {
							continue
						}
						sizes := []int{config.Default().Nodes.Count}
						if fm == "auto" {
							sizes = []int{1, config.Default().Nodes.Count, config.MaxNodes}
						}
						if f.Nodes > 0 {
							sizes = []int{f.Nodes}
						}
						for _, n := range sizes {
							out = append(out, Combination{Distro: d, Channel: ch, Version: v, Provider: p, Format: fm, Nodes: n})
						}
					}
				}
			}
		}
	}
	return out
}

// Expect is what a combination must come to, by FACTS' table of box
// generations, written out independently of the plan's code so that the
// matrix checks the decision and not only the rendering.
func (c Combination) Expect() (d plan.Delivery, refused bool) {
	switch {
	case c.Distro == "coreos":
		return plan.Upload, false
	case c.Format == "cloud-config":
		return plan.Upload, false
	case c.Provider == "libvirt":
		return plan.FwCfg, false
	}
	var major int
	fmt.Sscanf(c.Version, "%d", &major)
	readsProperty := major >= plan.VBoxGuestMajor
	switch {
	case readsProperty:
		return plan.GuestProperty, false
	case c.Format == "ignition":
		return "", true
	default:
		return plan.Upload, false
	}
}

// MatrixResult is one combination's outcome.
type MatrixResult struct {
	Combination
	Name       string       `json:"name"`
	Delivery   string       `json:"delivery,omitempty"`
	Generation string       `json:"generation,omitempty"`
	Expected   string       `json:"expected"` // the delivery, or "refused"
	OK         bool         `json:"ok"`
	Error      string       `json:"error,omitempty"`
	Files      []FileResult `json:"files,omitempty"`
}

// FileResult is one rendered file of a combination.
type FileResult struct {
	Path string `json:"path"`
	// Check names what validated it: Butane strict + Ignition, Ignition,
	// coreos-cloudinit's validator, Ruby's parser (the Vagrantfile; the
	// real `vagrant validate` runs on the goldens, one per delivery).
	Check string `json:"check"`
	Bytes int    `json:"bytes"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// MatrixReport is the whole matrix.
type MatrixReport struct {
	Combinations int            `json:"combinations"`
	Cases        int            `json:"cases"`
	Failures     int            `json:"failures"`
	Results      []MatrixResult `json:"results"`
}

// OK says whether every case passed.
func (r *MatrixReport) OK() bool { return r.Failures == 0 }

// CheckMatrix renders and validates every combination with tmpl. Each
// Flatcar combination is locked at its version (artifacts pinned), as
// `cododemo up` renders it.
//
// Combinations are independent: they render on every CPU at once (parsed
// templates are safe for concurrent use), and the report keeps their order.
func CheckMatrix(combos []Combination, tmpl *Templates, version string, secrets plan.Secrets) *MatrixReport {
	rep := &MatrixReport{Combinations: len(combos), Results: make([]MatrixResult, len(combos))}
	rendered := make([]*Result, len(combos))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(combos)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				rep.Results[i], rendered[i] = checkCombination(combos[i], tmpl, version, secrets)
			}
		}()
	}
	for i := range combos {
		next <- i
	}
	close(next)
	wg.Wait()
	checkMatrixRuby(rep, rendered)
	rep.count()
	return rep
}

// checkMatrixRuby checks every rendered Vagrantfile with one Ruby process
// (one each would take seconds) and marks each combination's result.
func checkMatrixRuby(rep *MatrixReport, rendered []*Result) {
	var batch []*Result
	var at []int
	for i, r := range rendered {
		if r != nil {
			batch, at = append(batch, r), append(at, i)
		}
	}
	if len(batch) == 0 {
		return
	}
	errs, err := ValidateVagrantfiles(context.Background(), batch...)
	for k, i := range at {
		res := &rep.Results[i]
		for j := range res.Files {
			fr := &res.Files[j]
			if fr.Path != labstate.Vagrantfile {
				continue
			}
			switch {
			case errors.Is(err, ErrNoRuby):
				fr.Check = "not checked: no ruby"
			case err != nil:
				fr.OK, fr.Error, res.OK = false, err.Error(), false
			default:
				fr.Check = rubyCheck
				if errs[k] != nil {
					fr.OK, fr.Error, res.OK = false, errs[k].Error(), false
				}
			}
		}
	}
}

func checkCombination(c Combination, tmpl *Templates, version string, secrets plan.Secrets) (MatrixResult, *Result) {
	want, refuse := c.Expect()
	res := MatrixResult{Combination: c, Name: c.Name(), Expected: string(want)}
	if refuse {
		res.Expected = "refused"
	}
	fail := func(format string, a ...any) (MatrixResult, *Result) {
		res.OK = false
		res.Error = fmt.Sprintf(format, a...)
		return res, nil
	}
	lab := config.Default()
	lab.Distro, lab.Channel, lab.Provider, lab.Format, lab.Nodes.Count = c.Distro, c.Channel, c.Provider, c.Format, c.Nodes
	for _, p := range config.Validate(lab) {
		if !p.Warning {
			return fail("invalid lab: %v", p)
		}
	}
	var lock *config.Lock
	if c.Version != "" {
		lock = matrixLock(c)
	}
	p, err := plan.New(lab, lock, secrets)
	var ge *plan.GenerationError
	switch {
	case refuse && errors.As(err, &ge):
		res.OK, res.Error = true, err.Error()
		return res, nil
	case refuse:
		return fail("want format: ignition refused for %s on VirtualBox, got %v", c.Version, err)
	case err != nil:
		return fail("plan: %v", err)
	}
	res.Delivery, res.Generation = string(p.Provision.Delivery), p.Provision.Generation
	if p.Provision.Delivery != want {
		return fail("delivery %s, want %s", p.Provision.Delivery, want)
	}
	r, err := Render(p, Options{Version: version, Templates: tmpl})
	if err != nil {
		return fail("render: %v", err)
	}
	res.Files, res.OK = fileResults(r)
	return res, r
}

// fileResults checks what Render cannot see per file: no file the box's
// own Vagrantfile would pick up, guest-property configs under the limit,
// served files under their own hash.
func fileResults(r *Result) ([]FileResult, bool) {
	ok := true
	served := map[string]Served{}
	for _, s := range r.Served {
		served[s.File] = s
	}
	var out []FileResult
	for _, f := range r.Files {
		fr := FileResult{Path: f.Path, Bytes: len(f.Data), OK: true, Check: fileCheck(f.Path)}
		if f.Path == labstate.Vagrantfile && r.RubyChecked {
			fr.Check = rubyCheck
		}
		var problems []string
		if slices.Contains(BoxSideFiles, path.Base(f.Path)) {
			problems = append(problems, "a file Flatcar's box Vagrantfile hands to every node")
		}
		if strings.HasSuffix(f.Path, ".vbox.ign") && len(f.Data) >= VirtualBoxIgnitionLimit {
			problems = append(problems, fmt.Sprintf("%d bytes: the guest property holds less than %d", len(f.Data), VirtualBoxIgnitionLimit))
		}
		if s, found := served[f.Path]; found && labstate.Hash(f.Data) != s.SHA256 {
			problems = append(problems, "served under a hash it does not have")
		}
		if len(problems) > 0 {
			fr.OK, fr.Error, ok = false, strings.Join(problems, "; "), false
		}
		out = append(out, fr)
	}
	return out, ok
}

// LabReport is the report of one lab's `render --check`: one combination.
func LabReport(name string, p *plan.Plan, r *Result, err error) *MatrixReport {
	res := MatrixResult{Name: name, OK: err == nil}
	if p != nil {
		l := p.Lab
		res.Combination = Combination{Distro: l.Distro, Channel: l.Channel, Version: p.Provision.Version,
			Provider: l.Provider, Format: l.Format, Nodes: l.Nodes.Count}
		res.Delivery, res.Generation, res.Expected = string(p.Provision.Delivery), p.Provision.Generation, string(p.Provision.Delivery)
	}
	rep := &MatrixReport{Combinations: 1}
	if err != nil {
		res.Error = err.Error()
	} else {
		res.Files, res.OK = fileResults(r)
	}
	rep.Results = []MatrixResult{res}
	rep.count()
	return rep
}

func (r *MatrixReport) count() {
	r.Cases, r.Failures = 0, 0
	for _, res := range r.Results {
		// One case per rendered file; a combination that renders none
		// (refused, or failed before any file) is one case itself.
		if len(res.Files) == 0 {
			r.Cases++
			if !res.OK {
				r.Failures++
			}
		}
		for _, f := range res.Files {
			r.Cases++
			if !f.OK {
				r.Failures++
			}
		}
	}
}

// rubyCheck names ValidateVagrantfiles' check in reports.
const rubyCheck = "ruby parser"

func fileCheck(p string) string {
	switch {
	case strings.HasSuffix(p, ".bu"):
		return "butane strict"
	case strings.HasSuffix(p, ".ign"):
		return "ignition 3.4.0"
	case strings.HasSuffix(p, ".user-data"):
		return "coreos-cloudinit validate"
	}
	return "rendered"
}

// matrixLock pins a combination's exact version and every artifact, as a
// lock `cododemo lock` writes would.
func matrixLock(c Combination) *config.Lock {
	l := &config.Lock{Version: config.LockVersion, Distro: c.Distro, Channel: c.Channel, Arch: "amd64",
		OS: config.OSRelease{Version: c.Version, Box: config.Box{Name: c.Distro + "-" + c.Channel, Provider: c.Provider,
			URL:    "https://" + c.Channel + ".release.flatcar-linux.net/amd64-usr/" + c.Version + "/flatcar_production_vagrant.json",
			SHA256: strings.Repeat("0", 64)}},
		Artifacts: map[string]config.Artifact{},
	}
	for _, a := range []string{"fleet", "etcd"} {
		l.Artifacts[a] = config.Artifact{SHA256: strings.Repeat("0", 64)}
	}
	return l
}
