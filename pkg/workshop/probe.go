package workshop

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/cododemo/cododemo/pkg/health"
)

// prober requests a URL from the host at a fixed interval for as long as
// an exercise runs, the way a user hitting reload would: the share it got
// answered is how well the cluster hid the failure.
type prober struct {
	url     string
	min     int
	cancel  context.CancelFunc
	done    chan struct{}
	started time.Time
	now     func() time.Time

	mu       sync.Mutex
	sent, ok int
	longest  time.Duration
	lastOK   time.Time
	lastErr  string
}

func (e *Engine) startProbe(ctx context.Context, ex *Exercise, st *state) *prober {
	url, err := e.Cluster.render(ex, st, Node{}, ex.Probe.URL)
	every := ex.Probe.Every
	if every <= 0 {
		every = 200 * time.Millisecond
	}
	pctx, cancel := context.WithCancel(ctx)
	p := &prober{url: url, min: ex.Probe.MinPercent, cancel: cancel, done: make(chan struct{}), now: e.Opts.Now}
	p.started = p.now()
	p.lastOK = p.started
	if err != nil {
		p.lastErr = err.Error()
		close(p.done)
		return p
	}
	e.printf("   probing %s every %s from the host\n", url, every)
	// A request may take four intervals, and never less than a second: a
	// user hitting reload waits that long too, and on a busy host (a CI
	// machine running QEMU and the tests at once) loopback answers have
	// taken over 80 ms, which a fast probe's 4x bound counted as misses.
	client := &http.Client{Timeout: max(every*4, time.Second)}
	go func() {
		defer close(p.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			p.one(pctx, client)
			select {
			case <-pctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return p
}

func (p *prober) one(ctx context.Context, c *http.Client) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url, nil)
	if err != nil {
		return
	}
	resp, err := c.Do(req)
	if ctx.Err() != nil {
		return // the exercise ended mid-request: not a miss
	}
	good := err == nil && resp.StatusCode == http.StatusOK
	if resp != nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sent++
	now := p.now()
	if good {
		p.ok++
		if g := now.Sub(p.lastOK); g > p.longest {
			p.longest = g
		}
		p.lastOK = now
		return
	}
	if err != nil {
		p.lastErr = err.Error()
	} else {
		p.lastErr = fmt.Sprintf("HTTP %d", resp.StatusCode)
	}
}

// stop ends probing and returns its verdict.
func (p *prober) stop() StepResult {
	p.cancel()
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	sr := StepResult{Phase: PhaseProbe, Step: "probe " + p.url, Node: "host", Duration: p.now().Sub(p.started), Tries: p.sent}
	if g := p.now().Sub(p.lastOK); g > p.longest {
		p.longest = g
	}
	if p.sent == 0 {
		if p.lastErr != "" {
			sr.Status, sr.Message = health.Fail, "no probe was sent: "+p.lastErr
		} else {
			sr.Status, sr.Message = health.Skip, "the exercise ended before the first probe was answered"
		}
		return sr
	}
	pct := 100 * float64(p.ok) / float64(p.sent)
	sr.Message = fmt.Sprintf("answered %d of %d (%.1f%%), longest gap between answers %s", p.ok, p.sent, pct, p.longest.Round(10*time.Millisecond))
	if p.lastErr != "" && p.ok < p.sent {
		sr.Message += "; last miss: " + firstLine(p.lastErr)
	}
	sr.Status = health.Pass
	if pct < float64(p.min) {
		sr.Status = health.Fail
		sr.Hint = fmt.Sprintf("want at least %d%% answered", p.min)
	}
	return sr
}
