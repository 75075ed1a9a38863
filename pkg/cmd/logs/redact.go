package logs

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/url"
	"regexp"
	"strings"
)

// TokenMarker replaces the cluster token wherever it appears in the
// bundle. The token is etcd's --initial-cluster-token: it only tells two
// labs' members apart while a cluster forms and opens nothing, but it is
// the lab's own and a logs bundle is made to be shared.
const TokenMarker = "<redacted: cluster-token>"

// redactor removes the lab's secrets from what goes into the bundle.
type redactor struct {
	forms [][]byte // the token as it may be written: plain, JSON, URL-escaped
	token []byte
}

func newRedactor(token string) *redactor {
	r := &redactor{}
	token = strings.TrimSpace(token)
	if token == "" {
		return r
	}
	r.token = []byte(token)
	j, _ := json.Marshal(token)
	for _, f := range []string{token, string(j[1 : len(j)-1]), url.QueryEscape(token), url.PathEscape(token)} {
		r.forms = append(r.forms, []byte(f))
	}
	return r
}

var privateKey = regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----`)

// dataURL is an Ignition file's inline base64 content.
var dataURL = regexp.MustCompile(`data:[^,"]*;base64,([A-Za-z0-9+/=]+)`)

// clean returns b with every form of the token replaced by TokenMarker,
// or ok=false when b must not be shipped at all: it holds a private key,
// or the token in an encoding (base64, gzip) that cannot be cut out.
func (r *redactor) clean(b []byte) (out []byte, ok bool) {
	if privateKey.Match(b) {
		return nil, false
	}
	if r.token == nil {
		return b, true
	}
	for _, f := range r.forms {
		b = bytes.ReplaceAll(b, f, []byte(TokenMarker))
	}
	for _, m := range dataURL.FindAllSubmatch(b, -1) {
		if r.hidden(m[1]) {
			return nil, false
		}
	}
	return b, true
}

// hidden says whether base64 content, gzipped or not, holds the token.
func (r *redactor) hidden(b64 []byte) bool {
	raw, err := base64.StdEncoding.DecodeString(string(b64))
	if err != nil {
		return false
	}
	if bytes.Contains(raw, r.token) || privateKey.Match(raw) {
		return true
	}
	if zr, err := gzip.NewReader(bytes.NewReader(raw)); err == nil {
		plain, _ := io.ReadAll(io.LimitReader(zr, 16<<20))
		return bytes.Contains(plain, r.token) || privateKey.Match(plain)
	}
	return false
}
