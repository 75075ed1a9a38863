package vagrant

// State is a machine state as the provider names it. VirtualBox and
// libvirt use different words for the same thing; the predicates below
// know both.
type State string

// States cododemo acts on (VirtualBox's, then libvirt's spelling).
const (
	StateNotCreated State = "not_created"
	StateRunning    State = "running"
	StatePoweroff   State = "poweroff" // virtualbox
	StateShutoff    State = "shutoff"  // libvirt
	StateSaved      State = "saved"
	StateAborted    State = "aborted"
	StatePaused     State = "paused"
)

// Created says whether the provider holds a VM for the machine.
func (s State) Created() bool { return s != StateNotCreated && s != "" }

// Running says whether the VM is up.
func (s State) Running() bool { return s == StateRunning }

// Machine is one machine of `vagrant status`.
type Machine struct {
	Name     string `json:"name"`
	Provider string `json:"provider"`
	State    State  `json:"state"`
	// Short and Long are Vagrant's human descriptions of the state.
	Short string `json:"state_human"`
	Long  string `json:"state_long,omitempty"`
}

// ParseStatus reads `vagrant status --machine-readable`. Machines come in
// Vagrantfile order. When Vagrant reported an error-exit, the error is an
// *Error carrying the advice for it.
func ParseStatus(data []byte) ([]Machine, error) {
	recs := ParseMachineReadable(data)
	var out []Machine
	idx := map[string]int{}
	get := func(name string) *Machine {
		i, ok := idx[name]
		if !ok {
			i = len(out)
			idx[name] = i
			out = append(out, Machine{Name: name})
		}
		return &out[i]
	}
	for _, r := range recs {
		if r.Target == "" {
			continue
		}
		switch r.Type {
		case "metadata":
			if r.Datum(0) == "provider" {
				get(r.Target).Provider = r.Datum(1)
			}
		case "provider-name":
			get(r.Target).Provider = r.Datum(0)
		case "state":
			get(r.Target).State = State(r.Datum(0))
		case "state-human-short":
			get(r.Target).Short = r.Datum(0)
		case "state-human-long":
			get(r.Target).Long = r.Datum(0)
		}
	}
	if err := ErrorFromRecords(recs); err != nil {
		return out, err
	}
	// metadata alone (an ssh-config or up run) says nothing about state.
	kept := out[:0]
	for _, m := range out {
		if m.State != "" {
			kept = append(kept, m)
		}
	}
	return kept, nil
}
