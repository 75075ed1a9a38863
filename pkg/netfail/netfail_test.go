package netfail

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

// closedPort returns a loopback address nothing listens on: a port taken
// and released.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// A real refused connection, through net/http as the image service makes
// it, becomes a sentence naming the URL and the way out.
func TestExplainRefused(t *testing.T) {
	addr := closedPort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/flatcar/stable/amd64-usr/current/version.txt", nil)
	_, err := http.DefaultClient.Do(req)
	if err == nil {
		t.Fatal("a closed port answered")
	}
	got := Explain(fmt.Errorf("lock: flatcar stable amd64: %w", err))
	want := "lock: flatcar stable amd64: cannot reach http://" + addr + "/flatcar/stable/amd64-usr/current/version.txt: connection refused\n" + Hint
	if got.Error() != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if !errors.Is(got, err) {
		t.Error("the network error is no longer wrapped")
	}
	if Explain(got) != got {
		t.Error("explained twice")
	}
}

// A dial without a URL, a name that does not resolve and a timeout each
// get their sentence; the mirror's password never shows.
func TestExplainForms(t *testing.T) {
	addr := closedPort(t)
	_, dialErr := net.DialTimeout("tcp", addr, 5*time.Second)
	if dialErr == nil {
		t.Fatal("a closed port answered")
	}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"dial", fmt.Errorf("artifacts: %w", dialErr), "artifacts: cannot reach " + addr + ": connection refused"},
		{"no such host", fmt.Errorf("box: %w", &url.Error{Op: "Get", URL: "https://user:secret@mirror.example/x.json", Err: &net.OpError{Op: "dial", Net: "tcp",
			Err: &net.DNSError{Err: "no such host", Name: "mirror.example", IsNotFound: true}}}),
			"box: cannot reach https://mirror.example/x.json: the name does not resolve (mirror.example)"},
		{"timeout", &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}, Err: os.ErrDeadlineExceeded},
			"cannot reach 127.0.0.1:9: timed out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Explain(tt.err).Error()
			if !strings.HasPrefix(got, tt.want+"\n"+Hint) {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
			if strings.Contains(got, "secret") {
				t.Errorf("the password shows: %s", got)
			}
		})
	}
	plain := errors.New("offline: no signed catalog in the cache")
	if Explain(plain) != plain || Explain(nil) != nil {
		t.Error("a non-network error was rewritten")
	}
}
