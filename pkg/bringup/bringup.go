// Package bringup is `cododemo up` as a list of named steps run in order
// (kind's create/actions is the model): preflight, pin, box, render,
// serve, boot, inventory, verify. Each step reads and fills the State it
// is given, so each can be run, and tested, on its own.
package bringup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/cododemo/cododemo/pkg/exec"
	"github.com/cododemo/cododemo/pkg/firstboot"
	"github.com/cododemo/cododemo/pkg/image"
	"github.com/cododemo/cododemo/pkg/lab"
	"github.com/cododemo/cododemo/pkg/render"
	"github.com/cododemo/cododemo/pkg/vagrant"
)

// Options are what the user asked `up` for.
type Options struct {
	Nodes         []string // the nodes to bring up; all when empty
	SkipPreflight bool
	DryRun        bool // print the plan (DryRun) instead of running the steps
	NoVerify      bool
	Serial        bool
	Force         bool // overwrite rendered files edited by hand
	Offline       bool
	Mirror        string
	Wait          time.Duration // how long verify may retry
	CheckTimeout  time.Duration // each verify check's limit; verify's default when 0
}

// Env is what the steps need of the process.
type Env struct {
	Runner  exec.Runner
	Getenv  func(string) string
	Version string    // cododemo's, written into rendered files
	Out     io.Writer // the verdict (stdout)
	ErrOut  io.Writer // step headings, warnings, per-node output (stderr)
	// Live says ErrOut is a terminal: live per-node views, download progress.
	Live bool
	// Colour says Out takes colour (the verify table).
	Colour bool
}

// State is one run of `up`: the lab, and what each step leaves for the
// next ones.
type State struct {
	Lab  *lab.Lab
	Opts Options
	Env  Env

	// Verified is set by Verify when the lab is healthy.
	Verified bool

	imageSvc    *image.Service    // pin and box
	artifacts   []image.Artifact  // box, for serve
	rendered    *render.Result    // render, for serve
	server      *firstboot.Server // serve, for inventory
	stopServing func()            // serve: stops the first-boot server
	driver      *vagrant.Driver   // boot, for inventory
	fresh       map[string]bool   // boot: nodes created by this run (new host keys)
	bootErr     error             // boot, reported by inventory once it is written
	bootLog     string            // boot's log file: Vagrant's full output
}

// Step is one named step of up.
type Step struct {
	Name string
	Run  func(ctx context.Context, s *State) error
}

// Steps are up's steps, in order.
func Steps() []Step {
	return []Step{
		{"preflight", Preflight},
		{"pin", Pin},
		{"box", Box},
		{"render", Render},
		{"serve", Serve},
		{"boot", Boot},
		{"inventory", Inventory},
		{"verify", Verify},
	}
}

// ErrUnhealthy is returned when the lab came up but verify found it
// unhealthy; the report has been written already.
var ErrUnhealthy = errors.New("the lab is not healthy")

// Run runs the steps in order, stopping at the first that fails.
func Run(ctx context.Context, s *State, steps []Step) error {
	defer s.Close()
	for _, st := range steps {
		if err := st.Run(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// Close stops what the steps left running (the first-boot server).
func (s *State) Close() {
	if s.stopServing != nil {
		s.stopServing()
	}
}

// heading announces a step on stderr.
func (s *State) heading(format string, a ...any) {
	fmt.Fprintf(s.Env.ErrOut, "==> "+format+"\n", a...)
}

// names are the nodes this run brings up.
func (s *State) names() []string {
	if len(s.Opts.Nodes) > 0 {
		return s.Opts.Nodes
	}
	return s.Lab.Plan.NodeNames()
}

func (s *State) progress() io.Writer {
	if s.Env.Live {
		return s.Env.ErrOut
	}
	return nil
}

// served lists what the first-boot server serves: the full Ignition
// configs behind pointer configs, and the artifacts nodes install.
func served(l *lab.Lab, res *render.Result, arts []image.Artifact) ([]firstboot.File, error) {
	var files []firstboot.File
	for _, s := range res.Served {
		files = append(files, firstboot.File{URLPath: s.URLPath, Path: l.State.Join(s.File), SHA256: s.SHA256})
	}
	for _, pa := range l.Plan.Artifacts {
		var found *image.Artifact
		for i := range arts {
			if arts[i].Name == pa.Name {
				found = &arts[i]
			}
		}
		if found == nil {
			return nil, fmt.Errorf("artifact %s is not in the cache: run `cododemo lock` and `cododemo box fetch`", pa.Name)
		}
		if pa.SHA256 == "" || pa.SHA256 != found.SHA256 {
			return nil, fmt.Errorf("artifact %s: the lock pins %q but the cache has %q: run `cododemo lock` again", pa.Name, pa.SHA256, found.SHA256)
		}
		files = append(files, firstboot.File{URLPath: pa.Path, Path: found.Path, SHA256: found.SHA256})
	}
	return files, nil
}

func firstNonEmpty(a ...string) string {
	for _, s := range a {
		if s != "" {
			return s
		}
	}
	return ""
}

func joinNames(names []string) string { return strings.Join(names, " ") }
