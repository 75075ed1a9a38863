package health

import (
	"context"
	"time"
)

// WaitOptions bound --wait.
type WaitOptions struct {
	// Deadline is how long to keep trying in total.
	Deadline time.Duration
	// MaxAttempts caps the attempts whatever the deadline (default 100).
	MaxAttempts int
	// Backoff is the first pause; it doubles up to MaxBackoff (defaults 1s, 15s).
	Backoff, MaxBackoff time.Duration
	// Progress is told about every unhealthy attempt and the pause before
	// the next one.
	Progress func(attempt int, r *Report, next time.Duration)
	// Now and Sleep are the clock (time.Now and a timer when nil).
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) bool
}

// Wait runs verify until the report is healthy, the deadline passes or the
// attempts run out, and returns the last report (Attempts set).
func Wait(ctx context.Context, verify func(context.Context) *Report, o WaitOptions) *Report {
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 100
	}
	if o.Backoff <= 0 {
		o.Backoff = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 15 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = sleepCtx
	}
	end := o.Now().Add(o.Deadline)
	dctx, cancel := context.WithDeadline(ctx, end)
	defer cancel()
	pause := o.Backoff
	var r *Report
	for attempt := 1; ; attempt++ {
		r = verify(dctx)
		r.Attempts = attempt
		if r.Healthy() || attempt >= o.MaxAttempts || ctx.Err() != nil {
			return r
		}
		left := end.Sub(o.Now())
		if left <= 0 {
			return r
		}
		next := min(pause, left)
		if o.Progress != nil {
			o.Progress(attempt, r, next)
		}
		if !o.Sleep(dctx, next) {
			return r
		}
		pause = min(pause*2, o.MaxBackoff)
	}
}
