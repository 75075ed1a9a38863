package download

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
)

// MaxSmall bounds release metadata (version.txt, catalogs, signatures,
// directory listings): a mirror answering with a box instead is an error,
// not an out-of-memory.
const MaxSmall = 4 << 20

// Small fetches a small metadata file. It uses net/http directly rather
// than go-getter because callers need the status (404 means "no such
// version", and the nearest ones get listed) and the bytes in memory; the
// content is then verified by signature or by the caller. file:// works too,
// for a mirror on a USB stick.
func (d *Downloader) Small(ctx context.Context, rawURL string) ([]byte, error) {
	if d.Offline {
		return nil, fmt.Errorf("offline: would fetch %s", rawURL)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	if u.Scheme == "file" {
		data, err := os.ReadFile(u.Path)
		if err != nil {
			return nil, err
		}
		if len(data) > MaxSmall {
			return nil, fmt.Errorf("%s: larger than %d bytes", rawURL, MaxSmall)
		}
		return data, nil
	}
	ctx, dog, stop := newWatchdog(ctx, d.idle())
	defer stop()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := d.http().Do(req)
	if err != nil {
		if stalled(ctx) {
			return nil, &StalledError{URL: rawURL, Idle: d.idle()}
		}
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return nil, &HTTPError{URL: rawURL, Status: resp.StatusCode}
	}
	data, err := io.ReadAll(io.LimitReader(kicking{resp.Body, dog}, MaxSmall+1))
	if err != nil {
		if stalled(ctx) {
			return nil, &StalledError{URL: rawURL, Idle: d.idle()}
		}
		return nil, fmt.Errorf("GET %s: %w", rawURL, err)
	}
	if len(data) > MaxSmall {
		return nil, fmt.Errorf("GET %s: larger than %d bytes", rawURL, MaxSmall)
	}
	return data, nil
}

// kicking tells the watchdog about every read that brought bytes.
type kicking struct {
	r   io.Reader
	dog *watchdog
}

func (k kicking) Read(p []byte) (int, error) {
	n, err := k.r.Read(p)
	if n > 0 {
		k.dog.kick()
	}
	return n, err
}
