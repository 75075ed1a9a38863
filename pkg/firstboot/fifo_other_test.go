//go:build !unix

package firstboot

import "errors"

func mkfifo(string) error { return errors.New("no FIFOs") }
