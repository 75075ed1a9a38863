package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestAnswersPathAndHost(t *testing.T) {
	srv := httptest.NewServer(handler("c0ffee"))
	defer srv.Close()
	for path, want := range map[string]string{
		"/bar":   "Hello, \"/bar\" - c0ffee\n",
		"/":      "Hello, \"/\" - c0ffee\n",
		"/a\"b/": "Hello, \"/a\\\"b/\" - c0ffee\n",
	} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != want {
			t.Errorf("GET %s = %q, want %q", path, b, want)
		}
	}
}
