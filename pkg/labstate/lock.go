package labstate

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/cododemo/cododemo/pkg/fsutil"
)

// LockWait is how long a writer waits for another cododemo writing the
// same lab (a render takes about a second) before giving up.
var LockWait = 15 * time.Second

// LockedError says another cododemo kept the lab's state dir locked.
type LockedError struct{ PID int }

func (e *LockedError) Error() string {
	who := "another cododemo"
	if e.PID > 0 {
		who = fmt.Sprintf("another cododemo (pid %d)", e.PID)
	}
	return fmt.Sprintf("%s is writing this lab and did not finish within %s; try again when it has", who, LockWait)
}

// Lock takes the state dir's lock: one writer at a time (secrets, rendered
// files, manifest, journal). The OS drops it when the holder dies, even by
// SIGKILL. Call the returned func to release it.
func (d Dir) Lock() (unlock func(), err error) {
	if err := os.MkdirAll(d.Path, 0o755); err != nil {
		return nil, err
	}
	l, err := fsutil.LockFile(d.Join(LockFile), LockWait)
	var le *fsutil.LockedError
	if errors.As(err, &le) {
		return nil, &LockedError{PID: le.PID}
	}
	if err != nil {
		return nil, err
	}
	return func() { _ = l.Unlock() }, nil
}

// RemoveTemps removes what killed writers left half-written next to the
// files at the state-dir relative paths rels. Call it under Lock.
func (d Dir) RemoveTemps(rels ...string) error {
	for _, rel := range rels {
		if _, err := fsutil.RemoveTemps(d.Join(rel)); err != nil {
			return err
		}
	}
	return nil
}
