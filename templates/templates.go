// Package templates embeds the default templates cododemo renders a lab
// from. `--templates DIR` (or `templates:` in cododemo.yaml) replaces any of
// them by file name.
package templates

import "embed"

// FS holds the embedded templates.
//
//go:embed *.tmpl
var FS embed.FS

// Names of the templates, as looked up in FS or an override directory.
const (
	Vagrantfile     = "Vagrantfile.tmpl"
	Butane          = "node.bu.tmpl"
	CloudConfig     = "cloud-config.tmpl"
	EtcdEnvironment = "etcd-env.tmpl"
	// NodeFiles holds the files and units both delivery formats share.
	NodeFiles = "node-files.tmpl"
)
