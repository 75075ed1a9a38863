package exec

import (
	"context"
	"fmt"
	"io"
	"sync"
)

// Fake is a Runner for unit tests: it records every command and answers
// from a handler. It is not for anything but the unit tier.
type Fake struct {
	mu      sync.Mutex
	Calls   []Cmd
	Handler func(c Cmd) (stdout string, err error)
}

// Run implements Runner.
func (f *Fake) Run(ctx context.Context, c Cmd) error {
	f.mu.Lock()
	f.Calls = append(f.Calls, c)
	f.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return &RunError{Command: c.String(), Err: err}
	}
	if f.Handler == nil {
		return &RunError{Command: c.String(), Err: fmt.Errorf("fake: no handler")}
	}
	out, err := f.Handler(c)
	if c.Stdout != nil {
		_, _ = io.WriteString(c.Stdout, out)
	}
	if err != nil {
		return &RunError{Command: c.String(), Output: out, Err: err}
	}
	return nil
}
