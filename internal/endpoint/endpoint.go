// Package endpoint holds where the function's API calls go and how they
// travel: the endpoint rule (a host over https, or plain http to a loopback
// host only) and the one keep-alive HTTP transport that the Tencent Cloud
// and the AWS clients share.
package endpoint

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/excerpt"
)

// Endpoint is where an API service is reached: a host with an
// optional port, over https, or over plain http when the host is loopback
// (the built-in emulator, a local proxy).
type Endpoint struct {
	Scheme string // "https" or "http"
	Host   string // host[:port], exactly what is signed as the Host header
}

// URL renders the endpoint as a base URL.
func (e Endpoint) URL() string { return e.Scheme + "://" + e.Host }

func (e Endpoint) String() string { return e.URL() }

// Parse accepts "host", "host:port", "https://host[:port]" and
// "http://loopback[:port]". Paths, queries and credentials are refused: the
// SDK signs the path as "/" whatever is configured, so a path could only
// produce signature failures far from their cause.
func Parse(value string) (Endpoint, error) {
	v := strings.TrimSpace(value)
	if v == "" {
		return Endpoint{}, fmt.Errorf("empty endpoint")
	}
	if hasUserinfo(v) {
		// Never quoted: the userinfo is a password.
		return Endpoint{}, errors.New("an endpoint must not carry credentials (user:password@): remove them; API requests are signed with the Tencent Cloud credentials")
	}
	if !strings.Contains(v, "://") {
		v = "https://" + v
	}
	u, err := url.Parse(v)
	if err != nil {
		return Endpoint{}, fmt.Errorf("%s is not a host[:port] or URL", quote(value))
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return Endpoint{}, fmt.Errorf("scheme %q is not https", u.Scheme)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return Endpoint{}, fmt.Errorf("%s: an endpoint is a host[:port] without credentials, query or fragment", quote(value))
	}
	if u.Path != "" && u.Path != "/" {
		return Endpoint{}, fmt.Errorf("%s: an endpoint has no path (the API is always at /)", quote(value))
	}
	if err := ValidHostPort(u.Host); err != nil {
		return Endpoint{}, fmt.Errorf("%s: %w", quote(value), err)
	}
	if u.Scheme == "http" && !IsLoopback(u.Hostname()) {
		return Endpoint{}, fmt.Errorf("%s: http is accepted only for loopback hosts; use https", quote(value))
	}
	return Endpoint{Scheme: u.Scheme, Host: strings.ToLower(u.Host)}, nil
}

// quote shows an endpoint value in an error: without its query and fragment,
// which may carry a token (…?X-Amz-Security-Token=…), and shortened.
func quote(value string) string {
	if i := strings.IndexAny(value, "?#"); i >= 0 {
		value = value[:i] + "…"
	}
	return strconv.Quote(excerpt.Of(value, 64))
}

// hasUserinfo reports whether v's authority (after any scheme, before the
// path, query or fragment) holds an '@': user[:password]@host. It is
// checked before parsing, so that no later error can quote the password.
func hasUserinfo(v string) bool {
	if _, rest, ok := strings.Cut(v, "://"); ok {
		v = rest
	}
	if i := strings.IndexAny(v, "/?#"); i >= 0 {
		v = v[:i]
	}
	return strings.Contains(v, "@")
}

// IsLoopback reports whether host (no port) names this machine.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// ValidHostPort checks an URL's host[:port]: a valid port, and an IP
// address or a DNS name.
func ValidHostPort(hostport string) error {
	host, port := hostport, ""
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		host, port = h, p
	} else if strings.Count(hostport, ":") == 1 || strings.HasPrefix(hostport, "[") {
		return fmt.Errorf("bad host:port %q", hostport)
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("bad port %q", port)
		}
	}
	if host == "" {
		return fmt.Errorf("missing host")
	}
	if net.ParseIP(host) != nil {
		return nil
	}
	if len(host) > 253 {
		return fmt.Errorf("host name too long")
	}
	for _, label := range strings.Split(host, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("bad host name %q", host)
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("bad host name %q", host)
			}
		}
	}
	return nil
}

// Transport returns the HTTP transport every API client shares, so that
// connections to the API hosts stay alive across clients and invocations.
// It has no timers of its own: the attempt's context bounds connect, TLS
// and answer, so that exactly one timer ends an attempt.
func Transport() http.RoundTripper { return transport }

// TransportTrusting returns a new transport set up as Transport's that
// trusts only the certificates in roots (AWS_CA_BUNDLE). It keeps its own
// connections.
func TransportTrusting(roots *x509.CertPool) *http.Transport {
	t := transport.Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	return t
}

var transport = &http.Transport{
	Proxy:               http.ProxyFromEnvironment,
	DialContext:         (&net.Dialer{KeepAlive: 30 * time.Second}).DialContext,
	IdleConnTimeout:     30 * time.Second,
	MaxIdleConnsPerHost: 16,
	ForceAttemptHTTP2:   true,
}
