package fsutil

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// LockedError says another process holds a lock and did not let go in time.
type LockedError struct {
	Path string
	PID  int // 0 when the holder wrote none yet
}

func (e *LockedError) Error() string {
	who := "another process"
	if e.PID > 0 {
		who = fmt.Sprintf("another process (pid %d)", e.PID)
	}
	return fmt.Sprintf("%s holds %s", who, e.Path)
}

// Lock is an exclusive lock on a file, held until Unlock or until the
// process ends: the operating system releases it even after a SIGKILL, so
// a crashed holder never leaves a stale lock behind.
type Lock struct{ f *os.File }

// errBusy is what tryLock returns while someone else holds the lock.
var errBusy = errors.New("lock busy")

// LockFile takes an exclusive lock on path (created if missing), waiting
// at most wait for its holder to finish. The holder's pid is written into
// the file, so the one who waits can say who holds it.
func LockFile(path string, wait time.Duration) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(wait)
	for delay := 10 * time.Millisecond; ; delay = min(2*delay, 200*time.Millisecond) {
		err = tryLock(f)
		if err == nil {
			break
		}
		if !errors.Is(err, errBusy) {
			_ = f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if time.Now().After(deadline) {
			_ = f.Close()
			return nil, &LockedError{Path: path, PID: readPID(path)}
		}
		time.Sleep(delay)
	}
	// The pid is informative only: the lock is the OS's, not the content.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &Lock{f: f}, nil
}

// Unlock releases the lock.
func (l *Lock) Unlock() error {
	err := unlock(l.f)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	return err
}

func readPID(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}
