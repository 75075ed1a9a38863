// Command cododemo stands up a multi-node CoreOS-family lab with Vagrant,
// proves it healthy over SSH, and tears it down.
package main

import (
	"os"

	"github.com/cododemo/cododemo/pkg/app"
)

func main() { os.Exit(app.Main()) }
