// Package cepgo stands in for github.com/cloudsigma/cepgo (CloudSigma's
// server-context client over a serial port), which the Go module proxy does
// not serve. It has the API coreos-cloudinit's CloudSigma datasource calls;
// every call fails, so that datasource reports no data. The e2e box never
// runs on CloudSigma.
package cepgo

import "errors"

var errNotAvailable = errors.New("cepgo: CloudSigma server context is not available in this build")

// Cepgo is the server-context client.
type Cepgo struct{}

// NewCepgo returns a client whose calls all fail.
func NewCepgo() *Cepgo { return &Cepgo{} }

// FetchRaw fails: there is no server context to read.
func (c *Cepgo) FetchRaw(key string) ([]byte, error) { return nil, errNotAvailable }

// Key fails: there is no server context to read.
func (c *Cepgo) Key(key string) (interface{}, error) { return nil, errNotAvailable }

// All fails: there is no server context to read.
func (c *Cepgo) All() (interface{}, error) { return nil, errNotAvailable }

// Meta fails: there is no server context to read.
func (c *Cepgo) Meta() (map[string]string, error) { return nil, errNotAvailable }
