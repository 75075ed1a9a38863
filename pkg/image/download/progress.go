package download

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// bar is a one-line progress bar redrawn with \r at most every 200 ms. It
// is only ever given a terminal.
type bar struct {
	w       io.Writer
	name    string
	total   int64
	start   time.Time
	from    int64
	last    time.Time
	current int64
}

func newBar(w io.Writer, name string, current, total int64) *bar {
	b := &bar{w: w, name: name, total: total, start: time.Now(), from: current, current: current}
	b.draw()
	return b
}

func (b *bar) set(n int64) {
	b.current = n
	if time.Since(b.last) >= 200*time.Millisecond {
		b.draw()
	}
}

func (b *bar) draw() {
	b.last = time.Now()
	rate := float64(b.current-b.from) / time.Since(b.start).Seconds()
	if b.total > 0 {
		frac := float64(b.current) / float64(b.total)
		if frac > 1 {
			frac = 1
		}
		const width = 24
		fill := int(frac * width)
		fmt.Fprintf(b.w, "\r%s [%s%s] %3.0f%% %s/%s %s/s ", b.name, strings.Repeat("=", fill), strings.Repeat(" ", width-fill),
			frac*100, Human(b.current), Human(b.total), Human(int64(rate)))
		return
	}
	fmt.Fprintf(b.w, "\r%s %s %s/s ", b.name, Human(b.current), Human(int64(rate)))
}

func (b *bar) done() {
	b.draw()
	fmt.Fprintln(b.w)
}

// Human formats a byte count in IEC units (1.5 MiB).
func Human(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
