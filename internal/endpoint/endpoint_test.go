package endpoint

import (
	"crypto/x509"
	"net/http"
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
