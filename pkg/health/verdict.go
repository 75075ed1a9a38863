// Package health verifies a CoreOS-family cluster over SSH, as thoroughly
// as Flatcar's own test harness (kola): per node SSH, OS identity, systemd
// state, Docker and the local etcd member; across the cluster etcd member
// health, membership, one agreed leader, a quorum write read back on every
// node, and fleet. It produces a Report of Verdicts and writes it as a
// table, JSON (schema below) or JUnit XML.
//
// # JSON schema (version 1)
//
// `cododemo verify -o json` prints one object. Fields are only ever added
// within a schema version; a removal or change of meaning bumps it.
//
//	{
//	  "schema_version": 1,
//	  "healthy": true,               // no check failed (warnings allowed)
//	  "started_at": "RFC 3339 time",
//	  "duration_ms": 412,
//	  "attempts": 1,                 // > 1 with --wait
//	  "nodes": ["core-01", ...],     // inventory order
//	  "summary": {"pass": 20, "warn": 0, "fail": 0, "skip": 3},
//	  "checks": [
//	    {"node": "core-01",          // or "cluster" for cluster-wide checks
//	     "check": "etcd-member",     // the names --only/--skip take
//	     "status": "pass",           // pass | warn | fail | skip
//	     "duration_ms": 21,
//	     "message": "...",           // what was seen; the skip reason for skip
//	     "hint": "..."}              // how to fix it; only on known failures
//	  ]
//	}
package health

import (
	"slices"
	"time"
)

// SchemaVersion is the JSON report's schema version.
const SchemaVersion = 1

// ClusterNode is the node name of cluster-wide verdicts.
const ClusterNode = "cluster"

// Status is a check's outcome.
type Status string

// Statuses, best first.
const (
	Pass Status = "pass"
	Warn Status = "warn"
	Fail Status = "fail"
	Skip Status = "skip"
)

// Verdict is one check on one node (or the cluster).
type Verdict struct {
	Node     string
	Check    string
	Status   Status
	Duration time.Duration
	Message  string
	// Hint says how to fix a known failure.
	Hint string
}

// Report is the outcome of one verification.
type Report struct {
	Started  time.Time
	Duration time.Duration
	Attempts int
	Nodes    []string
	Verdicts []Verdict
}

// Healthy says no check failed.
func (r *Report) Healthy() bool {
	for _, v := range r.Verdicts {
		if v.Status == Fail {
			return false
		}
	}
	return true
}

// Failing lists "node/check" of every failed check.
func (r *Report) Failing() []string {
	var out []string
	for _, v := range r.Verdicts {
		if v.Status == Fail {
			out = append(out, v.Node+"/"+v.Check)
		}
	}
	return out
}

// Count returns how many verdicts have status s.
func (r *Report) Count(s Status) int {
	n := 0
	for _, v := range r.Verdicts {
		if v.Status == s {
			n++
		}
	}
	return n
}

// sort orders verdicts by node (inventory order, cluster last) then check.
func (r *Report) sort() {
	nodeIdx := func(n string) int {
		if i := slices.Index(r.Nodes, n); i >= 0 {
			return i
		}
		return len(r.Nodes)
	}
	slices.SortStableFunc(r.Verdicts, func(a, b Verdict) int {
		if d := nodeIdx(a.Node) - nodeIdx(b.Node); d != 0 {
			return d
		}
		return checkIndex(a.Check) - checkIndex(b.Check)
	})
}
