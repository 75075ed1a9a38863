// Package ovf stands in for github.com/sigma/vmw-ovflib (VMware's OVF
// environment parser), which the Go module proxy does not serve. It has the
// API coreos-cloudinit's VMware datasource calls; ReadEnvironment returns no
// properties, so that datasource finds no OVF data. The e2e box never runs on
// VMware.
package ovf

// OvfEnvironment is a parsed OVF environment document.
type OvfEnvironment struct {
	Properties map[string]string
}

// ReadEnvironment returns an environment without properties.
func ReadEnvironment(doc []byte) *OvfEnvironment {
	return &OvfEnvironment{Properties: map[string]string{}}
}
