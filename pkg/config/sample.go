package config

import _ "embed"

//go:embed sample.yaml
var sample []byte

// Sample is the commented cododemo.yaml `cododemo init` writes. A test
// keeps it equal to Default().
func Sample() []byte { return append([]byte(nil), sample...) }
