package vagrant

// Box is one installed box of `vagrant box list`.
type Box struct {
	Name     string `json:"name"`
	Provider string `json:"provider"`
	Version  string `json:"version"`
}

// ParseBoxList reads `vagrant box list --machine-readable`: each box is a
// box-name record followed by box-provider and box-version records.
func ParseBoxList(data []byte) ([]Box, error) {
	recs := ParseMachineReadable(data)
	var out []Box
	for _, r := range recs {
		switch r.Type {
		case "box-name":
			out = append(out, Box{Name: r.Datum(0)})
		case "box-provider":
			if len(out) > 0 {
				out[len(out)-1].Provider = r.Datum(0)
			}
		case "box-version":
			if len(out) > 0 {
				out[len(out)-1].Version = r.Datum(0)
			}
		}
	}
	if err := ErrorFromRecords(recs); err != nil {
		return out, err
	}
	return out, nil
}
