package endpoint

import (
	"crypto/x509"
	"net/http"
	"strings"
	"testing"
)

// TestTransportTrusting: a transport trusting a CA bundle is a new one; the
// shared transport keeps the system's roots.
func TestTransportTrusting(t *testing.T) {
	pool := x509.NewCertPool()
	got := TransportTrusting(pool)
	if got.TLSClientConfig == nil || got.TLSClientConfig.RootCAs != pool {
		t.Fatal("the transport does not trust the bundle")
	}
	shared, ok := Transport().(*http.Transport)
	// (Its TLSClientConfig may exist: HTTP/2 setup adds NextProtos.)
	if !ok || shared == got || shared.TLSClientConfig != nil && shared.TLSClientConfig.RootCAs != nil {
		t.Error("the shared transport was changed or handed out")
	}
	if got.Proxy == nil || got.DialContext == nil || got.MaxIdleConnsPerHost != shared.MaxIdleConnsPerHost {
		t.Error("the new transport lost the shared one's setup")
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    Endpoint
		wantErr string
	}{
		{in: "teo.tencentcloudapi.com", want: Endpoint{Scheme: "https", Host: "teo.tencentcloudapi.com"}},
		{in: "teo.intl.tencentcloudapi.com", want: Endpoint{Scheme: "https", Host: "teo.intl.tencentcloudapi.com"}},
		{in: "TEO.TencentCloudAPI.com", want: Endpoint{Scheme: "https", Host: "teo.tencentcloudapi.com"}},
		{in: "https://teo.tencentcloudapi.com", want: Endpoint{Scheme: "https", Host: "teo.tencentcloudapi.com"}},
		{in: "https://teo.tencentcloudapi.com/", want: Endpoint{Scheme: "https", Host: "teo.tencentcloudapi.com"}},
		{in: "proxy.internal:8443", want: Endpoint{Scheme: "https", Host: "proxy.internal:8443"}},
		{in: "http://127.0.0.1:8080", want: Endpoint{Scheme: "http", Host: "127.0.0.1:8080"}},
		{in: "http://localhost:9", want: Endpoint{Scheme: "http", Host: "localhost:9"}},
		{in: "http://[::1]:8080", want: Endpoint{Scheme: "http", Host: "[::1]:8080"}},
		{in: "  https://10.0.0.1  ", want: Endpoint{Scheme: "https", Host: "10.0.0.1"}},
		{in: "", wantErr: "empty"},
		{in: "http://teo.tencentcloudapi.com", wantErr: "only for loopback"},
		{in: "http://10.0.0.1:80", wantErr: "only for loopback"},
		{in: "ftp://teo.tencentcloudapi.com", wantErr: "not https"},
		{in: "https://teo.tencentcloudapi.com/v3", wantErr: "no path"},
		{in: "https://user:pw@teo.tencentcloudapi.com", wantErr: "must not carry credentials"},
		{in: "https://teo.tencentcloudapi.com?x=1", wantErr: "without credentials"},
		{in: "teo.tencentcloudapi.com:0", wantErr: "bad port"},
		{in: "teo.tencentcloudapi.com:70000", wantErr: "bad port"},
		{in: "teo.tencentcloudapi.com:http", wantErr: ""},
		{in: "teo..com", wantErr: "bad host name"},
		{in: "-teo.com", wantErr: "bad host name"},
		{in: "teo_x.com", wantErr: "bad host name"},
		{in: "https://", wantErr: "missing host"},
		{in: "://x", wantErr: ""},
		{in: "te o.com", wantErr: ""},
		{in: "%zz", wantErr: ""},
		{in: "\x00", wantErr: ""},
	}
	for _, tc := range tests {
		got, err := Parse(tc.in)
		wantFail := tc.wantErr != "" || tc.want == (Endpoint{})
		if wantFail {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Parse(%q) = %v, %v; want error %q", tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Parse(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"teo.tencentcloudapi.com", "http://127.0.0.1:8080", "https://x/", "http://10.0.0.1", "[::1]:9", "a:b:c", "%zz", "https://u@h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		e, err := Parse(in)
		if err != nil {
			return
		}
		if e.Scheme != "https" && e.Scheme != "http" || e.Host == "" || strings.ContainsAny(e.Host, "/?#@ ") {
			t.Fatalf("Parse(%q) = %+v", in, e)
		}
		// What it accepts, it accepts again, unchanged: no http to the
		// outside world can sneak through a second parse.
		again, err := Parse(e.URL())
		if err != nil || again != e {
			t.Fatalf("not stable: %+v -> %+v, %v", e, again, err)
		}
	})
}

// TestParseErrorsQuoteNoQuery: a refused endpoint is quoted without its
// query or fragment, which may carry a token.
func TestParseErrorsQuoteNoQuery(t *testing.T) {
	const token = "tok-SENTINEL-0123456789"
	for _, v := range []string{
		"https://teo.tencentcloudapi.com/?X-Amz-Security-Token=" + token,
		"https://teo.tencentcloudapi.com/path?token=" + token,
		"http://10.0.0.1/?t=" + token,
		"https://bad_host/?t=" + token,
		"https://teo.tencentcloudapi.com/#" + token,
	} {
		_, err := Parse(v)
		if err == nil || strings.Contains(err.Error(), token) {
			t.Errorf("Parse(%q) error = %v, want a refusal without the token", v, err)
		}
	}
}
